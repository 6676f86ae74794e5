#!/bin/sh
# Build the lab's base image: debootstrap into DEST.tmp, make it host-neutral, rename to DEST.
# The rename is the last step, so a crash never leaves a half image that looks complete.
# Usage: build-image.sh SUITE MIRROR PACKAGES(comma-separated) DEST
set -eu
suite=$1 mirror=$2 packages=$3 dest=$4
tmp="$dest.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$dest")"
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$tmp" "$mirror" >"$dest.log" 2>&1; then
    echo "debootstrap $suite from $mirror failed. Its last messages:" >&2
    tail -n 15 "$dest.log" >&2
    if [ -f "$tmp/debootstrap/debootstrap.log" ]; then
        echo "--- $tmp/debootstrap/debootstrap.log:" >&2
        tail -n 25 "$tmp/debootstrap/debootstrap.log" >&2
    fi
    exit 1
fi
# Each host gets its own identity from lab-up: ssh host key; its name and machine id come
# from systemd-nspawn (--machine, --uuid). Nothing of that may be shared through the image.
rm -f "$tmp"/etc/ssh/ssh_host_*
: >"$tmp/etc/machine-id"
ln -sf /etc/machine-id "$tmp/var/lib/dbus/machine-id"  # dbus made its own id at install
rm -f "$tmp/etc/hostname"
# Nothing can be fetched inside the lab; keep the package lists so apt knows what is there.
chroot "$tmp" apt-get clean
mv "$tmp" "$dest"
echo "built $dest"
