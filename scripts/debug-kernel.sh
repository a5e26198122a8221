#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds a debug kernel from Debian's linux-source-6.1 with a trimmed config
# (tinyconfig plus what a guest and the detectors need): 25 minutes of CPU
# time, about 13 minutes on two idle cores (a full defconfig with KASAN
# takes well over half an hour). The detectors, each reporting in the
# guest's kernel log (see kernel-trouble.txt):
#   KASAN (inline) and KFENCE        use-after-free, out-of-bounds, double free
#   kmemleak                         leaks (guest-init.sh scans at the end)
#   lockdep (PROVE_LOCKING, PROVE_RCU), DEBUG_ATOMIC_SLEEP, PREEMPT with
#   DEBUG_PREEMPT                    lock order, RCU misuse, sleeping or
#                                    per-CPU access in the wrong context
#   DEBUG_OBJECTS (free, timers, work, rcu_head), DEBUG_LIST, refcount_t
#                                    object lifetime, list corruption
#   hung tasks (60 s), soft lockups (20 s), RCU stalls (21 s), none panics
#   live WARN_ON and BUG (tinyconfig turns BUG off: every WARN_ON goes silent)
# and fault injection for tests: FAILSLAB (with FAULT_INJECTION_DEBUG_FS, so
# /sys/kernel/debug/failslab and /proc/<pid>/make-it-fail) and
# FAULT_INJECTION_USERCOPY (/sys/kernel/debug/fail_usercopy).
# The result is cached by source version and by the configuration below,
# and the script prints the directory that holds bzImage and the prepared
# tree for out-of-tree modules.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tarball=/usr/src/linux-source-6.1.tar.xz
[ -r "$tarball" ] || die "$tarball is missing: run scripts/setup.sh with AGNOCAST_DEBUG_KERNEL=1"
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)

# Everything not listed stays off (tinyconfig). BUG and DEBUG_BUGVERBOSE
# matter: tinyconfig turns BUG off and every WARN_ON goes silent without it.
# Every option listed here is checked to be =y in the final .config.
opts=(64BIT PRINTK PRINTK_TIME TTY SERIAL_8250 SERIAL_8250_CONSOLE
      BLK_DEV_INITRD RD_GZIP DEVTMPFS PROC_FS SYSFS TMPFS SHMEM POSIX_MQUEUE
      SYSVIPC MULTIUSER FUTEX EPOLL EVENTFD SIGNALFD TIMERFD AIO FILE_LOCKING
      POSIX_TIMERS ADVISE_SYSCALLS MEMBARRIER INOTIFY_USER FHANDLE RSEQ
      BINFMT_ELF BINFMT_SCRIPT PCI VIRTIO_MENU VIRTIO_PCI NET NET_9P
      NET_9P_VIRTIO NETWORK_FILESYSTEMS 9P_FS 9P_FS_POSIX_ACL MODULES
      MODULE_UNLOAD KPROBES DEBUG_FS DEBUG_KERNEL KASAN KASAN_GENERIC
      KASAN_INLINE DEBUG_KMEMLEAK PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_LIST
      IPC_NS PID_NS NAMESPACES UTS_NS USER_NS SMP UNIX INET TRACEPOINTS
      FTRACE STACKTRACE FUNCTION_TRACER KALLSYMS PROC_SYSCTL CGROUPS
      HW_RANDOM HW_RANDOM_VIRTIO X86_TSC HPET_TIMER ACPI PM SLUB BUG
      DEBUG_BUGVERBOSE HIGH_RES_TIMERS VIRTUALIZATION
      PREEMPT DEBUG_PREEMPT DEBUG_OBJECTS DEBUG_OBJECTS_FREE
      DEBUG_OBJECTS_TIMERS DEBUG_OBJECTS_WORK DEBUG_OBJECTS_RCU_HEAD KFENCE
      DETECT_HUNG_TASK SOFTLOCKUP_DETECTOR FAULT_INJECTION FAILSLAB
      FAULT_INJECTION_DEBUG_FS FAULT_INJECTION_USERCOPY IA32_EMULATION)
# IA32_EMULATION: the module's compat ioctl path (test/kmod compat32) runs
# under the detectors too.
# Short enough to fire within one guest run; the defaults are 120 and 21 s.
vals=(DEFAULT_HUNG_TASK_TIMEOUT=60 RCU_CPU_STALL_TIMEOUT=21)
# agnocast ties a process's registration to its mm with an mmu_notifier.
# MMU_NOTIFIER is a hidden symbol: KVM (as a module, never built here)
# selects it with the fewest dependencies.
mods=(KVM)
# A detector reports and the run goes on: guest.sh fails it on the log line.
off=(SLOB SLUB_TINY KASAN_OUTLINE DEBUG_KMEMLEAK_DEFAULT_OFF PREEMPT_NONE
     PREEMPT_VOLUNTARY BOOTPARAM_HUNG_TASK_PANIC BOOTPARAM_SOFTLOCKUP_PANIC)
# Implied by what is listed; checked all the same.
implied=(PROVE_RCU PREEMPT_RCU MMU_NOTIFIER)

# Cached by source version and configuration.
key=$(echo "$srcver ${opts[*]} v: ${vals[*]} m: ${mods[*]} n: ${off[*]}" | sha256sum | cut -c1-12)
out=$CACHE/debug-kernel-$key
if [ -e "$out/done" ]; then
	echo "$out"
	exit 0
fi

work=$CACHE/debug-kernel-build.$$
# Leftovers of interrupted builds; not those of a build still running.
for d in "$CACHE"/debug-kernel-build.*/; do
	[ -d "$d" ] || continue
	pid=${d%/}
	pid=${pid##*.}
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || rm -rf "$d"
done
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
step "debug kernel: unpacking linux-source-6.1 $srcver"
tar -xJf "$tarball" -C "$work"
tree=$(echo "$work"/linux-source-6.1)
cd "$tree"
make -s tinyconfig >/dev/null
for o in "${opts[@]}"; do scripts/config -e "$o"; done
for o in "${mods[@]}"; do scripts/config -m "$o"; done
for o in "${off[@]}"; do scripts/config -d "$o"; done
for v in "${vals[@]}"; do scripts/config --set-val "${v%%=*}" "${v#*=}"; done
make -s olddefconfig
for o in "${opts[@]}" "${implied[@]}"; do
	grep -q "^CONFIG_$o=y" .config || die "debug kernel config lost CONFIG_$o"
done
for v in "${vals[@]}"; do
	grep -qx "CONFIG_$v" .config || die "debug kernel config lost CONFIG_$v"
done
for o in "${off[@]}"; do
	! grep -q "^CONFIG_$o=" .config || die "debug kernel config has CONFIG_$o on"
done
step "debug kernel: building bzImage (about 13 minutes on 2 idle cores; cached afterwards)"
log=$CACHE/debug-kernel-build.log
if ! make -s -j"$(nproc)" bzImage >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	die "debug kernel build failed; full log: $log"
fi
# Out-of-tree modules need the prepared tree and the exported symbols of
# vmlinux; no in-tree module is wanted, so none is built.
make -s -j"$(nproc)" modules_prepare
cp vmlinux.symvers Module.symvers
# Keep what an out-of-tree module build needs, drop the rest of the objects.
find . -name '*.o' -not -path './scripts/*' -not -path './tools/*' -delete
rm -rf "$out" && mv "$tree" "$out"
touch "$out/done"
echo "$out"
