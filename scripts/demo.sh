#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `npm run demo`: a TypeScript publisher, two TypeScript subscribers and one
# C subscriber, four separate processes, passing messages of 64 B to 64 MiB
# through the real agnocast.ko without copying them. Prints each
# subscriber's latency and rate per size, the proof that publisher and
# subscriber touch the same pages, and the module's totals once everyone
# has exited (all zero: nothing leaked). The programs are scripts/demo/
# publisher.mjs and subscriber.mjs (on the library, dist/) and
# subscriber.c; demo.h is their protocol.
#
# Usage: scripts/demo.sh [--host | --guest] [--sizes SIZE:COUNT,...] [--window N]
#   --host    use the module loaded on this machine (/dev/agnocast)
#   --guest   boot Debian's 6.1 kernel under QEMU and load the module built
#             here (the default when /dev/agnocast does not exist)
#   --sizes   messages per size, default 64:500,4K:500,64K:500,1M:200,16M:100,64M:50
#   --window  messages in flight (1: lock-step, the default); the
#             publisher's pool (AGNOCAST_MEMPOOL_SIZE, default 256M, which
#             the library may grow to 16 times that) must hold window + 2
#             of the largest message
# Exits non-zero if any message is missing or fails verification, or if
# anything is left in the module afterwards.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

usage() { die "usage: scripts/demo.sh [--host | --guest] [--sizes SIZE:COUNT,...] [--window N]"; }
mode=auto
in_guest=0
sizes=64:500,4K:500,64K:500,1M:200,16M:100,64M:50
window=1
while [ $# -gt 0 ]; do
	case $1 in
	--host | --guest) mode=${1#--} && shift ;;
	--in-guest) in_guest=1 && shift ;;	# internal: the run inside the guest
	--sizes) [ $# -ge 2 ] || usage; sizes=$2 && shift 2 ;;
	--window) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; window=$2 && shift 2 ;;
	*) usage ;;
	esac
done
bin=$BUILD/demo
flavor=6.1

# Starts a demo program in the background, output to $logs/NAME.log, and
# waits until it says it is ready (or dies). Sets $started.
start() {
	local name=$1 fifo=$logs/$1.ready fd line
	shift
	mkfifo "$fifo"
	exec {fd}<>"$fifo"	# read-write: opening it never blocks
	"$@" --ready "$fifo" >"$logs/$name.log" 2>&1 {fd}<&- &
	started=$!
	until read -r -t 1 -u "$fd" line; do
		kill -0 "$started" 2>/dev/null || break
	done
	exec {fd}<&-
}

# The whole demo, against the module loaded here.
run_demo() {
	local status_file=/proc/driver/agnocast pa pp pb pc p rc=0 fails=() totals
	[ -c /dev/agnocast ] || die "/dev/agnocast does not exist: load agnocast.ko (see README) or use --guest"
	logs=$(mktemp -d)
	trap 'rm -rf "$logs"' EXIT

	printf '\n\033[1magnocast demo\033[0m: module %s, kernel %s%s\n' "$(head -1 "$status_file")" \
		"$(uname -r)" "$([ "$in_guest" = 1 ] && echo ' (QEMU guest)')"
	printf 'a TypeScript publisher, TypeScript subscribers A and B, C subscriber C: four processes\n'
	printf 'sizes %s; window %s%s\n' "$sizes" "$window" "$([ "$window" = 1 ] && echo ' (lock-step)')"
	printf 'latency = subscriber clock when the message is in hand - timestamp the publisher wrote into it (CLOCK_MONOTONIC)\n\n'

	# Subscriber A first: the publisher, arriving later, announces itself on
	# A's /new_publisher@<pid>. B and C come after the publisher and find it
	# in ADD_SUBSCRIBER's answer; their ack publishers announce themselves
	# on the publisher's queue.
	start subscriber-A node scripts/demo/subscriber.mjs --name "subscriber A"
	pa=$started
	start publisher node scripts/demo/publisher.mjs --subscribers 3 \
		--sizes "$sizes" --window "$window"
	pp=$started
	start subscriber-B node scripts/demo/subscriber.mjs --name "subscriber B"
	pb=$started
	start subscriber-C "$bin/subscriber" --name "subscriber C"
	pc=$started
	printf 'running: subscriber A (TypeScript, pid %s), publisher (TypeScript, pid %s), subscriber B (TypeScript, pid %s), subscriber C (C, pid %s)\n' \
		"$pa" "$pp" "$pb" "$pc"

	# As soon as one fails, stop the others.
	local -A name_of=([$pa]="subscriber A" [$pp]=publisher [$pb]="subscriber B" [$pc]="subscriber C")
	local running=("$pa" "$pp" "$pb" "$pc")
	while [ ${#running[@]} -gt 0 ]; do
		rc=0
		wait -n -p p "${running[@]}" || rc=$?
		local next=() q
		for q in "${running[@]}"; do [ "$q" = "$p" ] || next+=("$q"); done
		running=("${next[@]}")
		if [ "$rc" != 0 ]; then
			fails+=("${name_of[$p]} exited with $rc")
			for p in "${running[@]}"; do kill "$p" 2>/dev/null || true; done
		fi
	done

	for p in publisher subscriber-A subscriber-B subscriber-C; do
		printf '\n\033[1m--- %s ---\033[0m\n' "${p/-/ }"
		cat "$logs/$p.log"
	done

	# Reading the status file waits for the module's pending cleanup.
	totals=$(grep '^totals ' "$status_file")
	printf '\n\033[1m--- after all four exited ---\033[0m\n%s: %s\n' "$status_file" "$totals"
	for p in "$pa" "$pp" "$pb" "$pc"; do
		if grep -q "^process pid $p " "$status_file"; then fails+=("the module still knows process $p"); fi
		if [ -e "/dev/shm/agnocast@$p" ]; then fails+=("/dev/shm/agnocast@$p is left"); fi
		if [ -e "/dev/mqueue/new_publisher@$p" ]; then fails+=("/dev/mqueue/new_publisher@$p is left"); fi
	done
	if [ "$in_guest" = 1 ] &&
		! [[ $totals =~ ^totals\ processes\ 0\ topics\ 0\ publishers\ 0\ subscribers\ 0\ entries\ 0\ mappings\ 0$ ]]; then
		fails+=("the module's totals are not all zero")
	fi
	if [ ${#fails[@]} = 0 ]; then
		echo "nothing left: no process, topic, entry or mapping in the module, no /dev/shm/agnocast@<pid>, no /dev/mqueue/new_publisher@<pid>"
	fi
	if [ "$in_guest" = 1 ]; then
		if rmmod agnocast; then echo "rmmod agnocast: ok (nobody holds the module)"; else fails+=("rmmod agnocast failed"); fi
	fi
	if [ ${#fails[@]} -gt 0 ]; then
		printf '\n\033[1;31mdemo FAILED\033[0m: %s\n' "$(IFS=';'; echo "${fails[*]}")" >&2
		return 1
	fi
	printf '\n\033[1;32mdemo passed\033[0m\n'
}

if [ "$in_guest" = 1 ]; then
	ko=build/kmod/$flavor/agnocast.ko
	insmod "$ko" || die "insmod $ko failed"
	# The write the C subscriber's throwaway child attempts is expected (the
	# subscriber reports it): keep the kernel's "segfault at" report of it
	# off the console.
	echo 0 >/proc/sys/debug/exception-trace
	run_demo
	exit
fi

prepare_run "$flavor"
step "build: the C demo programs (build/demo)"
make -s -C scripts/demo
if [ "$mode" = guest ]; then
	export GUEST_ENV="${GUEST_ENV:-} AGNOCAST_MEMPOOL_SIZE"
	exec bash scripts/guest.sh "$flavor" --timeout 900 -- \
		bash scripts/demo.sh --in-guest --sizes "$sizes" --window "$window"
fi
run_demo
