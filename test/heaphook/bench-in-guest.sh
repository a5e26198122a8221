#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage (inside the guest, from the repository's top):
#   bash test/heaphook/bench-in-guest.sh [AGNOCAST_KO] [-- BENCH_ARGS...]
# Loads agnocast.ko if it is not loaded (AGNOCAST_KO, else the
# build/kmod/*/agnocast.ko built for this kernel), then runs bench_malloc
# under LD_PRELOAD=libagnocast_heaphook.so: malloc/free and realloc
# throughput of the hook against glibc's allocator in the same process, on
# 1 and 2 threads, 16 B to 64 KiB. Prints the table (and writes it to
# $AGNOCAST_GUEST_OUT/bench-malloc.txt when that is set). Figures only.
set -euo pipefail
ko=
if [ $# -gt 0 ] && [ "$1" != -- ]; then
	ko=$1
	shift
fi
[ "${1:-}" != -- ] || shift
so=build/heaphook/libagnocast_heaphook.so
bench=build/test/heaphook/bench_malloc
[ -x "$bench" ] || { echo "bench-in-guest: $bench is not built (make -C test/heaphook/guest)" >&2; exit 1; }
[ -e "$so" ] || { echo "bench-in-guest: $so is not built (make -C heaphook)" >&2; exit 1; }

if [ ! -e /proc/driver/agnocast ]; then
	if [ -z "$ko" ]; then
		for f in build/kmod/*/agnocast.ko; do
			[ -e "$f" ] || continue
			if [ "$(modinfo -F vermagic "$f" 2>/dev/null | cut -d' ' -f1)" = "$(uname -r)" ]; then
				ko=$f
				break
			fi
		done
	fi
	[ -n "$ko" ] || { echo "bench-in-guest: no agnocast.ko built for $(uname -r)" >&2; exit 1; }
	insmod "$ko"
fi
out=${AGNOCAST_GUEST_OUT:+$AGNOCAST_GUEST_OUT/bench-malloc.txt}
echo "# $(uname -r), $(nproc) CPUs (QEMU TCG: absolute figures are emulated; compare the ratios)"
LD_PRELOAD=$PWD/$so "$bench" "$@" | tee ${out:+"$out"}
