#!/bin/sh
# How these files were made (ethtool 6.1, kernel 6.18, Debian 12 VM): each call's stdout,
# stderr and exit status. eth0 (virtio_net) is only read; every change is made on a veth pair
# created in a network namespace of its own, which goes away with the command.
set -eu
cap() {
    name=$1
    shift
    "$@" >"$name.stdout" 2>"$name.stderr" && echo 0 >"$name.rc" || echo $? >"$name.rc"
}
cap virtio-eth0-c ethtool -c eth0
cap virtio-eth0-k ethtool -k eth0
unshare --net sh -eu -c '
cap() {
    name=$1
    shift
    "$@" >"$name.stdout" 2>"$name.stderr" && echo 0 >"$name.rc" || echo $? >"$name.rc"
}
ip link add wbtest0 type veth peer name wbtest1
cap veth-k ethtool -k wbtest0
cap veth-c ethtool -c wbtest0
cap veth-C-rx-usecs ethtool -C wbtest0 rx-usecs 10
cap veth-K-lro-fixed ethtool -K wbtest0 large-receive-offload on
cap lo-c ethtool -c lo
cap nosuch-k ethtool -k nosuch0
'
