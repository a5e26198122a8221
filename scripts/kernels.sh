#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage: scripts/kernels.sh 6.1|6.12|rt|debug
# Finds (fetching and unpacking when needed) the kernel a guest boots and
# prints, for eval, where its pieces are:
#   KVER     its uname -r
#   VMLINUZ  the image to boot
#   MODDIR   the root holding lib/modules/$KVER (empty: everything built in)
#   KBUILD   the tree to pass to make -C for out-of-tree modules
# Progress goes to stderr; only the assignments go to stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Debian packages: the image is fetched and unpacked, never installed (the
# host runs its own kernel); the headers come installed by setup.sh.
# $3: how to run setup.sh so that it installs these headers.
debian_kernel() {
	local image_meta=$1 headers_meta=$2 setup=${3:-scripts/setup.sh} pkg deb dir
	pkg=$(resolve_meta "$image_meta")
	[ -n "$pkg" ] || die "apt knows no $image_meta: run $setup"
	mkdir -p "$CACHE/debs"
	local debs=("$CACHE/debs/${pkg}_"*.deb)
	if [ ! -e "${debs[-1]}" ]; then
		step "downloading $pkg"
		(cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
			die "apt-get download $pkg failed"
		debs=("$CACHE/debs/${pkg}_"*.deb)
	fi
	deb=${debs[-1]}
	dir=$CACHE/kernels/$pkg
	if [ "$(cat "$dir/.unpacked" 2>/dev/null)" != "$deb" ]; then
		step "unpacking $pkg"
		rm -rf "$dir" && mkdir -p "$dir"
		dpkg -x "$deb" "$dir"
		echo "$deb" >"$dir/.unpacked"
	fi
	# Bookworm ships modules under /lib, later releases under /usr/lib.
	local m
	for m in "$dir"/lib/modules/* "$dir"/usr/lib/modules/*; do
		[ -d "$m" ] || continue
		KVER=${m##*/}
		MODDIR=${m%/lib/modules/*}
	done
	[ -n "${KVER:-}" ] || die "$deb holds no lib/modules/<version>"
	VMLINUZ=$dir/boot/vmlinuz-$KVER
	[ -r "$VMLINUZ" ] || die "$deb holds no boot/vmlinuz-$KVER"
	KBUILD=/usr/src/linux-headers-$KVER
	[ -e "$KBUILD/Makefile" ] ||
		die "linux-headers-$KVER is not installed ($headers_meta points at $(resolve_meta "$headers_meta")): run $setup"
}

debug_kernel() {
	# debug-kernel.sh prints its output directory last; anything before it
	# (compiler warnings) is progress.
	KBUILD=$(bash "$ROOT/scripts/debug-kernel.sh" |
		awk '{ print > "/dev/stderr"; last = $0 } END { print last }')
	[ -e "$KBUILD/done" ] || die "scripts/debug-kernel.sh gave no finished tree"
	KVER=$(cat "$KBUILD/include/config/kernel.release")
	VMLINUZ=$KBUILD/arch/x86/boot/bzImage
	MODDIR=
}

case ${1:-} in
6.1) debian_kernel linux-image-amd64 linux-headers-amd64 ;;
6.12) debian_kernel linux-image-6.12-amd64 linux-headers-6.12-amd64 ;;
# Debian 12's PREEMPT_RT build of its 6.1 kernel.
rt) debian_kernel linux-image-rt-amd64 linux-headers-rt-amd64 "AGNOCAST_RT_KERNEL=1 scripts/setup.sh" ;;
debug) debug_kernel ;;
*) die "usage: scripts/kernels.sh 6.1|6.12|rt|debug" ;;
esac
printf '%s=%q\n' KVER "$KVER" VMLINUZ "$VMLINUZ" MODDIR "$MODDIR" KBUILD "$KBUILD"
