#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `npm run bench`: one-way latency (p50, p99) and lock-step message rate,
# 64 B to 64 MiB, for agnocast TS->TS and C->C, side by side with a Unix
# domain socket, child_process IPC and worker_threads postMessage, and
# over NATS: plain NATS client to client next to agnocast -> bridge -> NATS
# -> bridge -> agnocast (scripts/bench/bench.mjs, scripts/bench/nats.mjs). One run, in a QEMU guest with Debian's 6.1
# kernel and the module built here, or on this host when /dev/agnocast
# exists. Writes docs/bench.json and docs/bench.svg. The sustained rows
# (scripts/bench/sustained.mjs, cbench sustained-*): TS->TS (loans, and
# publish(bytes)) and C->C at
# 4 KiB for --sustained-seconds (default 5), the publisher not waiting for
# acks but at most 64 messages ahead of the subscriber's reports. The costs
# row (scripts/bench/costs.mjs): what single operations cost, C and Node.
#
# --node MAJOR: the run on that Node (20, 22, 24: scripts/node.sh fetches
# it) instead of the one on PATH, with the addon built for it for the run;
# the addon built before is put back after.
#
# Usage: scripts/bench.sh [--host | --guest] [--node MAJOR] [--sizes SIZE:COUNT,...]
#        [--only ts,ts-spin,c,uds,cp,worker,nats,bridge,sustained,sustained-ts,sustained-ts-copy,sustained-uds,sustained-c,fanout,costs]
#        [--sustained-seconds S]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

usage() { die "usage: scripts/bench.sh [--host | --guest] [--node MAJOR] [--sizes SIZE:COUNT,...] [--only ts,ts-spin,c,uds,cp,worker,nats,bridge,sustained,sustained-ts,sustained-ts-copy,sustained-uds,sustained-c,fanout,costs] [--sustained-seconds S]"; }
mode=auto
in_guest=0
extra=()
node_major=
while [ $# -gt 0 ]; do
	case $1 in
	--host | --guest) mode=${1#--} && shift ;;
	--in-guest) in_guest=1 && shift ;;	# internal: the run inside the guest
	--node) [ $# -ge 2 ] && [[ $2 =~ ^[0-9]+$ ]] || usage; node_major=$2 && shift 2 ;;
	--sizes | --only | --sustained-seconds) [ $# -ge 2 ] || usage; extra+=("$1" "$2") && shift 2 ;;
	*) usage ;;
	esac
done
flavor=6.1

if [ "$in_guest" = 1 ]; then
	ko=build/kmod/$flavor/agnocast.ko
	insmod "$ko" || die "insmod $ko failed"
	node scripts/bench/bench.mjs --out "$AGNOCAST_GUEST_OUT" ${extra[@]+"${extra[@]}"}
	exit
fi

prepare_run "$flavor"
if [ -n "$node_major" ]; then
	eval "$(bash scripts/node.sh "$node_major")"
	export PATH="$NODE_DIR/bin:$PATH"	# the guest inherits PATH
	addon=native/build/Release/agnocast.node
	kept=$(mktemp -d)
	[ -f "$addon" ] && cp "$addon" "$kept/"
	put_back() {
		if [ -f "$kept/agnocast.node" ]; then mkdir -p "${addon%/*}" && cp "$kept/agnocast.node" "$addon"; else rm -f "$addon"; fi
		rm -rf "$kept"
	}
	trap put_back EXIT
	step "build: the addon for Node $NODE_VERSION, for this run"
	npm_config_nodedir="$NODE_DIR" npm run -s install >/dev/null
fi
step "build: the C bench on libagnocast (build/demo/cbench)"
make -s -C scripts/demo "$BUILD/demo/cbench"
mkdir -p docs
if [ "$mode" = guest ]; then
	out=$BUILD/guest/$flavor
	rm -f "$out/bench.json" "$out/bench.svg"
	rc=0
	bash scripts/guest.sh "$flavor" --timeout 3600 -- \
		bash scripts/bench.sh --in-guest ${extra[@]+"${extra[@]}"} || rc=$?
	for f in bench.json bench.svg; do
		if [ -f "$out/$f" ]; then cp "$out/$f" docs/ && echo "docs/$f (from the guest)"; fi
	done
	exit "$rc"
fi
node scripts/bench/bench.mjs --out docs ${extra[@]+"${extra[@]}"}
