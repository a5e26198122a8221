#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage: scripts/guest.sh 6.1|6.12|rt|debug [--mem MiB] [--timeout SECONDS] -- COMMAND...
# Boots that kernel under QEMU (TCG) and runs COMMAND inside the host's own
# root, shared read-only over 9p, in the current directory. The guest has
# its own /proc, /sys, /dev, /tmp, /run, /dev/shm and /dev/mqueue.
# Environment: PATH, HOME=/root, CI, the variables GUEST_ENV names
# (space-separated), AGNOCAST_KVER, AGNOCAST_MODDIR (the host directory
# holding the kernel's lib/modules/$AGNOCAST_KVER, empty when everything is
# built in) and AGNOCAST_GUEST_OUT: a directory the
# command may write, at the same path on the host (build/guest/FLAVOR).
# That directory also receives console.log, dmesg.txt, kmemleak.txt (debug
# kernel) and status. Exits with COMMAND's status; non-zero as well when the
# guest died, timed out, or its kernel log shows trouble (kernel-trouble.txt).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

usage() { die "usage: scripts/guest.sh 6.1|6.12|rt|debug [--mem MiB] [--timeout SECONDS] -- COMMAND..."; }
[ $# -ge 1 ] || usage
flavor=$1
shift
case $flavor in 6.1 | 6.12 | rt | debug) ;; *) usage ;; esac
mem=3072
timeout=1200
while [ $# -gt 0 ]; do
	case $1 in
	--mem | --timeout)
		[[ ${2:-} =~ ^[0-9]+$ ]] || usage
		if [ "$1" = --mem ]; then mem=$2; else timeout=$2; fi
		shift 2
		;;
	--) shift && break ;;
	*) usage ;;
	esac
done
[ $# -gt 0 ] || usage
# The command runs in the current directory: it must be the host's.
case $PWD/ in
/tmp/* | /run/* | /dev/* | /proc/* | /sys/*)
	die "$PWD is not the host's in the guest (its /tmp, /run, /dev, /proc and /sys are its own)" ;;
esac

mkdir -p "$BUILD/guest"
exec 9>"$BUILD/guest/$flavor.lock"
flock -n 9 || die "another scripts/guest.sh $flavor is running"

kvars=$(bash "$ROOT/scripts/kernels.sh" "$flavor")
eval "$kvars"

# The modules 9p needs, in load order. Each kernel builds some of them in,
# and 6.12 has folded fscache into netfs: those without a .ko are skipped.
ninep=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev
       virtio_pci netfs fscache 9pnet 9pnet_virtio 9p)

# Copies the modules to $1/lib/modules, numbered in load order, checking
# that each one's dependencies come before it or are built in.
pack_modules() {
	local mods=$MODDIR/lib/modules/$KVER m f dep n=0 packed=" "
	mkdir -p "$1/lib/modules"
	for m in "${ninep[@]}"; do
		f=$(find "$mods/kernel" \( -name "$m.ko" -o -name "$m.ko.xz" \) -print -quit)
		[ -n "$f" ] || continue
		for dep in $(modinfo -F depends "$f" | tr , ' '); do
			[[ $packed == *" $dep "* ]] || grep -q "/$dep\.ko$" "$mods/modules.builtin" ||
				die "$KVER: $m needs $dep, which guest.sh does not load: add it to the list"
		done
		n=$((n + 1))
		case $f in
		*.xz) xz -dc "$f" ;;
		*) cat "$f" ;;
		esac >"$1/lib/modules/$(printf %02d $n)-$m.ko"
		packed+="$m "
	done
}

# Busybox, guest-init.sh as /init, the kernel-trouble patterns and the 9p
# modules; cached per kernel and per content of what goes in.
initramfs() {
	local key img
	key=$({ echo "$KVER $MODDIR"; cat "$ROOT/scripts/guest-init.sh" "$ROOT/scripts/kernel-trouble.txt" \
		"${BASH_SOURCE[0]}" /bin/busybox; } |
		sha256sum | cut -c1-12)
	img=$CACHE/initramfs/$KVER-$key.cpio.gz
	if [ ! -e "$img" ]; then
		step "building the initramfs for $KVER"
		# Not local: the trap runs when $(initramfs)'s subshell exits.
		stage=$(mktemp -d)
		trap 'rm -rf "$stage"' EXIT
		mkdir -p "$stage"/{bin,dev,proc,sys}
		cp /bin/busybox "$stage/bin/"
		ln -s busybox "$stage/bin/sh"
		install -m 755 "$ROOT/scripts/guest-init.sh" "$stage/init"
		cp "$ROOT/scripts/kernel-trouble.txt" "$stage/"
		[ -z "$MODDIR" ] || pack_modules "$stage"
		mkdir -p "$CACHE/initramfs"
		(cd "$stage" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$img.tmp"
		mv "$img.tmp" "$img"
	fi
	echo "$img"
}
img=$(initramfs)

out=$BUILD/guest/$flavor
mkdir -p "$out"
find "$out" -mindepth 1 -delete

# What the guest runs, passed as files in the output share: the mount point
# of that share, and the command with its directory and environment.
echo "$out" >"$out/mountpoint"
{
	printf 'cd -- %q || exit 125\n' "$PWD"
	printf 'export PATH=%q HOME=/root AGNOCAST_KVER=%q AGNOCAST_MODDIR=%q AGNOCAST_GUEST_OUT=%q\n' \
		"$PATH" "$KVER" "$MODDIR" "$out"
	for v in CI ${GUEST_ENV:-}; do
		[[ $v =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "GUEST_ENV: '$v' is not a variable name"
		[ -z "${!v+set}" ] || printf 'export %s=%q\n' "$v" "${!v}"
	done
	printf 'exec'
	printf ' %q' "$@"
	printf '\n'
} >"$out/run.sh"

step "booting the $flavor guest ($KVER, TCG: slow)"
start=$SECONDS
# QEMU never reads stdin (none in CI); the console goes to stdout, less
# the \r and the firmware's terminal escapes, so that console.log reads well.
# --foreground keeps QEMU in the terminal's process group, for Ctrl-C.
# tsc=reliable: TCG's TSC is one clock for all vCPUs, but the kernel does
# not trust it and falls back to the HPET, whose every read traps into
# QEMU; clock reads (and the latencies the benchmark measures with them)
# then cost several microseconds more than on real hardware.
boot() {
	rc=0
	timeout --foreground -k 10 "$timeout" qemu-system-x86_64 \
		-machine q35 -accel tcg -cpu max -smp 2 -m "$mem" \
		-nographic -no-reboot -nic none \
		-kernel "$VMLINUZ" -initrd "$img" \
		-append "console=ttyS0 panic=-1 log_buf_len=8M mitigations=off tsc=reliable" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$out,mount_tag=out,security_model=none" \
		</dev/null 2>&1 | sed -u 's/\r//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1bc//g' | tee "$out/console.log" || rc=$?
}
boot
# A kernel that dies or reports trouble while it boots, before the command
# starts (nothing of the project's runs yet: the module is loaded by the
# command; guest-init.sh checks the log before it), is booted again, once.
# Seen under TCG: Debian's 6.12 with an "Oops: int3" in sched_clock_cpu at
# 2.4 s, as the kernel patched a static key while the other vCPU ran the old
# code; the debug kernel with "BUG: KASAN: wild-memory-access in
# do_raw_spin_lock" from handle_edge_irq at 5.8 s, in start_kernel.
if [ ! -e "$out/status" ] && [ "$rc" != 124 ] && ! grep -q '^guest: .* running the command$' "$out/console.log"; then
	mv "$out/console.log" "$out/console-first-boot.log"
	step "the $flavor guest's kernel died or reported trouble while booting, before the command (see $out/console-first-boot.log): booting it again, once"
	grep -m 3 -E 'Oops|BUG|panic' "$out/console-first-boot.log" >&2 || true
	boot
fi
elapsed=$((SECONDS - start))

if [ ! -e "$out/status" ]; then
	bash "$ROOT/scripts/kernel-trouble.sh" "$out/console.log" || true
	[ "$rc" = 124 ] && die "the $flavor guest timed out after ${timeout} s: see $out/console.log"
	die "the $flavor guest ended before the command did (twice if its kernel failed while booting: the lines above): see $out/console.log"
fi
status=$(cat "$out/status")
logs=("$out/dmesg.txt")
[ ! -e "$out/kmemleak.txt" ] || logs+=("$out/kmemleak.txt")
trouble=0
bash "$ROOT/scripts/kernel-trouble.sh" "${logs[@]}" || trouble=$?
case $trouble in
0) ;;
1) die "the $flavor kernel reported trouble (lines above): see ${logs[*]}" ;;
*) die "cannot read the $flavor guest's kernel log: see $out/console.log" ;;
esac
step "$flavor guest: command exited with $status after $elapsed s"
exit "$status"
