#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds a debug kernel (KASAN, lockdep, kmemleak, live WARN_ON) from
# Debian's linux-source-6.1 with a trimmed config: about 11 minutes on two
# cores, a full defconfig with KASAN takes over half an hour. The result is
# cached by source version and by this script's own content, and prints the
# directory that holds bzImage and the prepared tree for out-of-tree modules.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

tarball=/usr/src/linux-source-6.1.tar.xz
[ -r "$tarball" ] || die "$tarball is missing: run scripts/setup.sh with AGNOCAST_DEBUG_KERNEL=1"
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)

# Everything not listed stays off (tinyconfig). BUG and DEBUG_BUGVERBOSE
# matter: tinyconfig turns BUG off and every WARN_ON goes silent without it.
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
      DEBUG_BUGVERBOSE HIGH_RES_TIMERS VIRTUALIZATION)
# agnocast ties a process's registration to its mm with an mmu_notifier.
# MMU_NOTIFIER is a hidden symbol: KVM (as a module, never built here)
# selects it with the fewest dependencies.
mods=(KVM)
off=(SLOB SLUB_TINY KASAN_OUTLINE DEBUG_KMEMLEAK_DEFAULT_OFF)

# Cached by source version and configuration.
key=$(echo "$srcver ${opts[*]} m: ${mods[*]} n: ${off[*]}" | sha256sum | cut -c1-12)
out=$CACHE/debug-kernel-$key
if [ -e "$out/done" ]; then
	echo "$out"
	exit 0
fi

work=$CACHE/debug-kernel-build.$$
rm -rf "$CACHE"/debug-kernel-build.* && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
step "debug kernel: unpacking linux-source-6.1 $srcver"
tar -xJf "$tarball" -C "$work"
tree=$(echo "$work"/linux-source-6.1)
cd "$tree"
make -s tinyconfig >/dev/null
for o in "${opts[@]}"; do scripts/config -e "$o"; done
for o in "${mods[@]}"; do scripts/config -m "$o"; done
for o in "${off[@]}"; do scripts/config -d "$o"; done
make -s olddefconfig
for o in KASAN PROVE_LOCKING DEBUG_KMEMLEAK BUG MODULE_UNLOAD 9P_FS IPC_NS MMU_NOTIFIER; do
	grep -q "^CONFIG_$o=y" .config || die "debug kernel config lost CONFIG_$o"
done
step "debug kernel: building bzImage (about 11 minutes on 2 cores; cached afterwards)"
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
