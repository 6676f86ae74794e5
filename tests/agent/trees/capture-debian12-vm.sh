#!/bin/sh
# How debian12-vm/ was made: the files the tuning knobs and the snapshot read, copied from
# this machine's /proc and /sys as regular files (cat, not cp: procfs and sysfs files report a
# size of 0 or 4096). Run as root from this folder; it reads, never writes, the host.
set -eu
tree=debian12-vm
nic=eth0
nic_device=/sys/devices/pci0000:00/0000:00:03.0
rm -rf "$tree"
copy() {
    for path in "$@"; do
        mkdir -p "$tree$(dirname "$path")"
        cat "$path" >"$tree$path"
    done
}
copy /proc/cmdline /proc/interrupts
for irq in 37 38 39; do copy /proc/irq/$irq/smp_affinity_list; done
copy /proc/sys/net/core/busy_poll /proc/sys/net/core/busy_read /proc/sys/net/core/somaxconn \
    /proc/sys/net/core/rmem_max /proc/sys/net/core/wmem_max /proc/sys/net/core/default_qdisc \
    /proc/sys/net/ipv4/tcp_rmem /proc/sys/net/ipv4/tcp_wmem /proc/sys/net/ipv4/tcp_fastopen \
    /proc/sys/net/ipv4/tcp_notsent_lowat /proc/sys/net/ipv4/tcp_slow_start_after_idle \
    /proc/sys/kernel/numa_balancing /proc/sys/kernel/timer_migration \
    /proc/sys/kernel/nmi_watchdog /proc/sys/kernel/core_pattern \
    /proc/sys/vm/swappiness /proc/sys/vm/stat_interval
copy /sys/devices/system/cpu/online /sys/devices/system/cpu/possible \
    /sys/devices/system/cpu/present /sys/devices/system/cpu/smt/active \
    /sys/devices/system/cpu/smt/control /sys/devices/system/cpu/cpuidle/current_driver
for cpu in 0 1; do
    copy /sys/devices/system/cpu/cpu$cpu/topology/thread_siblings_list \
        /sys/devices/system/cpu/cpu$cpu/power/pm_qos_resume_latency_us
done
copy /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag
copy /sys/devices/system/node/online /sys/devices/system/node/possible \
    /sys/devices/system/node/node0/cpulist
copy $nic_device/numa_node $nic_device/msi_irqs/37 $nic_device/msi_irqs/38 \
    $nic_device/msi_irqs/39 $nic_device/virtio2/device $nic_device/virtio2/vendor
copy /sys/class/net/$nic/queues/rx-0/rps_cpus /sys/class/net/$nic/mtu
# The one link: the interface's device, as the kernel lays it out (relative, inside the tree).
ln -s ../../../devices/pci0000:00/0000:00:03.0/virtio2 "$tree/sys/class/net/$nic/device"
# /dev/cpu_dma_latency is a character device here; the tree holds a regular file in its place.
mkdir -p "$tree/dev" && : >"$tree/dev/cpu_dma_latency"
