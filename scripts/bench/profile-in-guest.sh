#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Where a TypeScript message's time goes: in a guest (scripts/guest.sh 6.1),
# the bench's TS publisher and subscriber (bench.mjs roles) run SPEC
# (default 64:3000) lock-step under V8's --cpu-prof (and `perf record -a`
# on the software clock). Writes to
# $AGNOCAST_GUEST_OUT/prof: pub/ and sub/ (.cpuprofile) and, with
# AGNOCAST_PROF_PERF=1 (slow under TCG), perf.data and perf.txt (perf report
# by command and DSO, then by symbol).
# SPEC `sustained` profiles the sustained loan row instead (4 KiB, no
# per-message ack, scripts/bench/sustained.mjs) for SUSTAINED_SECONDS
# (default 5), the V8 profiles only; `sustained-copy` its publish(bytes) row.
# Summarize the V8 profiles with scripts/bench/cpuprof.mjs.
#
# Usage: bash scripts/guest.sh 6.1 -- bash scripts/bench/profile-in-guest.sh [SPEC]
set -euo pipefail
spec=${1:-64:3000}
out=$AGNOCAST_GUEST_OUT/prof
rm -rf "$out" && mkdir -p "$out"
insmod build/kmod/6.1/agnocast.ko
if [ "$spec" = sustained ] || [ "$spec" = sustained-copy ]; then
	mode=loan
	[ "$spec" = sustained ] || mode=copy
	SUSTAINED_PROF=$out SUSTAINED_PROF_MODE=$mode node scripts/bench/sustained.mjs
	exit 0
fi
fifo=$(mktemp -u /tmp/agnocast-prof.XXXXXX)
mkfifo "$fifo"	# the guest has no /dev/fd for a process substitution, 9p no fifos
basic=
[ "${AGNOCAST_PROF_PERF:-0}" = 1 ] && basic=--perf-basic-prof	# JS symbols for perf
node --cpu-prof --cpu-prof-dir="$out/sub" $basic scripts/bench/bench.mjs --role agn-sub >"$fifo" &
sub=$!
exec 3<"$fifo"
# "ready": subscribed, its ack publisher there (V8's code log lines may come first)
while read -r line <&3 && [ "$line" != ready ]; do :; done
[ "$line" = ready ] || { echo "the subscriber ended before it was ready" >&2; exit 1; }
perf=()
if [ "${AGNOCAST_PROF_PERF:-0}" = 1 ]; then
	perf record -a -e cpu-clock -F 1000 -o "$out/perf.data" 2>"$out/perf.err" &
	perf=($!)
fi
node --cpu-prof --cpu-prof-dir="$out/pub" $basic scripts/bench/bench.mjs --role agn-pub "$spec" >"$out/pub.json"
if [ ${#perf[@]} -gt 0 ]; then
	kill -INT "${perf[0]}"
	wait "${perf[0]}" || true
	{
		perf report -i "$out/perf.data" --sort comm,dso --stdio
		perf report -i "$out/perf.data" --sort comm,sym --stdio
	} >"$out/perf.txt" 2>/dev/null
fi
kill -TERM "$sub"
wait "$sub" || true
grep '^{' "$out/pub.json" | node -e 'const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
  for (const { size, lat } of r.runs) { const s = [...lat].sort((a, b) => a - b); console.log(size, "B p50", s[s.length >> 1] / 1e3, "us"); }'
