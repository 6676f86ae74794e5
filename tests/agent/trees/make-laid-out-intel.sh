#!/bin/sh
# How laid-out-intel/ was made: by hand, for the knobs this VM has no files for (see README.md).
# A 4-CPU, 2-node Intel host with intel_pstate, an ixgbe NIC (eth1, IRQs named after it) and
# an mlx5 NIC (ens1f0, IRQs named after its PCI address only, found through msi_irqs).
set -eu
tree=laid-out-intel
rm -rf "$tree"
put() {  # put PATH TEXT: one file, its text and a newline, as sysfs prints
    mkdir -p "$tree/$(dirname "$1")"
    printf '%s\n' "$2" >"$tree/$1"
}
cpu=sys/devices/system/cpu
put $cpu/online 0-3
put $cpu/possible 0-3
put $cpu/intel_pstate/status active
put $cpu/intel_pstate/no_turbo 0
for n in 0 1 2 3; do
    put $cpu/cpu$n/cpufreq/scaling_driver intel_pstate
    put $cpu/cpu$n/cpufreq/scaling_governor powersave
    put $cpu/cpu$n/cpufreq/scaling_available_governors "performance powersave"
    put $cpu/cpu$n/cpufreq/energy_performance_preference balance_performance
    put $cpu/cpu$n/cpufreq/energy_performance_available_preferences \
        "default performance balance_performance balance_power power "
    # Two cores with two threads each: CPUs 0 and 2 share a core, 1 and 3 the other. No smt/
    # folder (kernels before 4.19), so SMT is read from the siblings.
    put $cpu/cpu$n/topology/thread_siblings_list "$((n % 2)),$((n % 2 + 2))"
done
put sys/devices/system/node/online 0-1
put sys/devices/system/node/node0/cpulist 0,2
put sys/devices/system/node/node1/cpulist 1,3
put sys/kernel/mm/transparent_hugepage/enabled "[always] madvise never"
put sys/kernel/mm/transparent_hugepage/defrag "always defer defer+madvise [madvise] never"
put proc/cmdline "BOOT_IMAGE=/vmlinuz-6.1.0-27-amd64 root=UUID=0b9c5a43 ro quiet"
cat >"$tree/proc/interrupts" <<'END'
            CPU0       CPU1       CPU2       CPU3       
   0:         38          0          0          0   IO-APIC    2-edge      timer
   8:          0          0          0          1   IO-APIC    8-edge      rtc0
 120:     112933          0          0          0  IR-PCI-MSI 1572864-edge      eth1-TxRx-0
 121:          0      98211          0          0  IR-PCI-MSI 1572865-edge      eth1-TxRx-1
 122:          0          0     101345          0  IR-PCI-MSI 1572866-edge      eth1-TxRx-2
 123:          0          0          0      99870  IR-PCI-MSI 1572867-edge      eth1-TxRx-3
 124:          0          2          0          0  IR-PCI-MSI 1572868-edge      eth1
 125:          0          0          0          0  IR-PCI-MSI 1572869-edge      eth10-TxRx-0
 139:          3          0          0          0  IR-PCI-MSIX-0000:3b:00.0    0-edge      mlx5_async0@pci:0000:3b:00.0
 140:      51012          0          0          0  IR-PCI-MSIX-0000:3b:00.0    1-edge      mlx5_comp0@pci:0000:3b:00.0
 141:          0      50877          0          0  IR-PCI-MSIX-0000:3b:00.0    2-edge      mlx5_comp1@pci:0000:3b:00.0
NMI:          0          0          0          0   Non-maskable interrupts
LOC:     912345     903456     899012     901234   Local timer interrupts
ERR:          0
END
for irq in 0 8 120 121 122 123 124 125 139 140 141; do
    put proc/irq/$irq/smp_affinity_list 0-3
done
# ixgbe's eth1 straight on its PCI function; eth10 a second port (its IRQ must not be eth1's).
pci=sys/devices/pci0000:00/0000:00:05.0
put $pci/numa_node 0
for irq in 120 121 122 123 124; do put $pci/msi_irqs/$irq msix; done
# mlx5's ens1f0 behind a bridge, on node 1.
mlx=sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0
put $mlx/numa_node 1
for irq in 139 140 141; do put $mlx/msi_irqs/$irq msix; done
for q in 0 1 2 3; do
    put sys/class/net/eth1/queues/rx-$q/rps_cpus 0
    put sys/class/net/eth1/queues/tx-$q/xps_cpus "$(printf '%x' $((1 << q)))"
done
put sys/class/net/eth10/queues/rx-0/rps_cpus 0
put sys/class/net/ens1f0/queues/rx-0/rps_cpus 0
put sys/class/net/ens1f0/queues/rx-1/rps_cpus 0
ln -s ../../../devices/pci0000:00/0000:00:05.0 "$tree/sys/class/net/eth1/device"
ln -s ../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0 "$tree/sys/class/net/ens1f0/device"
put proc/sys/net/core/somaxconn 4096
put proc/sys/net/core/busy_poll 0
put proc/sys/vm/swappiness 60
# The PM QoS device (a character device on a host; a regular file here) and the folder whose
# presence says systemd runs (sd_booted(3)).
mkdir -p "$tree/dev" "$tree/run/systemd/system"
: >"$tree/dev/cpu_dma_latency"
: >"$tree/run/systemd/system/.present"
