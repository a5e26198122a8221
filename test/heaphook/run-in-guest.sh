#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage (inside the guest, from the repository's top, agnocast.ko loaded):
#   bash test/heaphook/run-in-guest.sh TAP_FILE [AGNOCAST_KO]
# Runs the heaphook's guest suite (built on the host by
# `make -C heaphook && make -C test/heaphook/guest`) and writes TAP to
# TAP_FILE. AGNOCAST_KO, the module the guest runs, lets the suite unload
# and reload it (the "module not loaded" test); without it the script looks
# for the build/kmod/*/agnocast.ko built for this kernel, else that test is
# skipped. Test failures are in the TAP file; the exit status is 0 unless
# the arguments are wrong.
set -u
[ $# -ge 1 ] || { echo "usage: $0 TAP_FILE [AGNOCAST_KO]" >&2; exit 2; }
tap=$1
ko=${2:-}
so=build/heaphook/libagnocast_heaphook.so
bin=build/test/heaphook

if [ -z "$ko" ]; then
	for f in build/kmod/*/agnocast.ko; do
		[ -e "$f" ] || continue
		if [ "$(modinfo -F vermagic "$f" 2>/dev/null | cut -d' ' -f1)" = "$(uname -r)" ]; then
			ko=$f
			break
		fi
	done
fi
if [ ! -e /proc/driver/agnocast ]; then
	printf 'not ok 1 - agnocast.ko is loaded (no /proc/driver/agnocast)\n1..1\n' >"$tap"
	exit 0
fi
if [ ! -x "$bin/heaphook-gtest" ]; then
	printf 'not ok 1 - %s/heaphook-gtest is built (make -C test/heaphook/guest)\n1..1\n' "$bin" >"$tap"
	exit 0
fi
# Real binaries, not wrappers (a pyenv shim would run bash under the hook too).
node=$(command -v node || echo /usr/bin/node)
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3 || echo python3)
args=(--tap "$tap" --so "$so" --bindir "$bin" --srcdir test/heaphook/guest
	--node "$node" --python "$python")
[ -z "$ko" ] || args+=(--ko "$ko")
echo "guest: heaphook suite, $(uname -r), module ${ko:-(cannot reload)}"
"$bin/heaphook-gtest" "${args[@]}"
echo "guest: heaphook suite exited with $? after ${SECONDS} s"
exit 0
