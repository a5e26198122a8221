#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage (on the host): test/install/node-abi.sh TAPFILE ADDONDIR NODEDIR...
# The load-time check of the addon's Node ABI: ADDONDIR holds
# nodeMAJOR.node, the addon built for each Node (NODEDIR: bin/node, one per
# major; scripts/test.sh builds them). Each Node loads the addon built for
# it, and refuses every other one with an AddonError that names both Nodes
# and the rebuild command (dist/native.js's loadAddon, as the library does).
set -u
tap=$(realpath -m "$1")
addons=$(realpath -m "$2")
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
log=$(mktemp)
. "$root/test/install/tap.sh"
: >"$tap"
load() { "$1/bin/node" --input-type=module -e "
	import { loadAddon } from '$root/dist/native.js';
	const b = loadAddon('$2', 'npm rebuild agnocast');
	console.log('loaded:', Object.keys(b).length, 'functions');"; }
major() { "$1/bin/node" -p 'process.versions.node.split(".")[0]'; }

for run in "$@"; do
	rm="$(major "$run")"
	for built in "$@"; do
		bm="$(major "$built")"
		addon=$addons/node$bm.node
		if [ "$bm" = "$rm" ]; then
			check "Node $rm loads the addon built for Node $bm" load "$run" "$addon"
			out_has "Node $rm: the addon's functions are there" '^loaded: [1-9][0-9]* functions'
		else
			exits "Node $rm refuses the addon built for Node $bm (status 1, no crash)" 1 load "$run" "$addon"
			out_has "Node $rm, addon for $bm: the AddonError names both Nodes and says to rebuild with npm rebuild agnocast" \
				"AddonError: the agnocast addon was built for Node.js $bm\\.[0-9.]+ \\(ABI [0-9]+\\) and cannot run in Node.js $rm\\.[0-9.]+ \\(ABI [0-9]+\\); rebuild it for this Node.js \\(v$rm\\.[0-9.]+\\): npm rebuild agnocast"
		fi
	done
done
plan
rm -f "$log"
[ "$failed" = 0 ]
