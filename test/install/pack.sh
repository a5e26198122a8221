#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage (on the host): test/install/pack.sh TAPFILE DIR
# The npm package the way a user meets it, with the Node first on PATH:
#   - `npm pack` ships exactly what users need (the list below), nothing else;
#   - a project that installs the tarball with --ignore-scripts gets, on
#     first use, an error that names `npm rebuild agnocast`, not a crash,
#     and that command builds the addon;
#   - a project that installs it normally builds the addon (without
#     -Werror: that is the project's own builds only) and type-checks a
#     strict TypeScript publisher and subscriber (test/install/app/)
#     against the package's declarations;
#   - pnpm 10 and Bun (from the npm registry) install it without running
#     its install script: first use names the command that builds the
#     addon (pnpm approve-builds; npm rebuild agnocast), which works, and
#     a program run by bun is told that agnocast runs on Node.js.
# Leaves DIR/app, the installed project with its programs compiled, for
# test/install/pack-in-guest.sh to run against the module. DIR must be
# outside /tmp (the guest has its own): scripts/test.sh uses build/pack.
set -u
tap=$(realpath -m "$1")
dir=$(realpath -m "$2")
root=$(cd "$(dirname "$0")/../.." && pwd)
log=$(mktemp)
. "$root/test/install/tap.sh"
# A user's install does not build with the project's -Werror.
unset AGNOCAST_WERROR
# Whatever ~/.npmrc says: headers of the Node that runs (node-gyp fetches
# them when they are not here), as on a user's machine.
export npm_config_nodedir=$(dirname "$(dirname "$(command -v node)")")

: >"$tap"
rm -rf "$dir" && mkdir -p "$dir"
first_use() { node --input-type=module -e "import { join } from 'agnocast'; join();"; }
# What doctor prints for an addon built for the Node that runs.
addon_ok="^ok +native addon: .*built for this Node.js \\($(node -p process.version)\\)"

# What users need: the library (dist/: every src/*.ts and src/bridge/*.ts compiled, with its
# declarations), what the install script compiles (the addon's sources and
# binding.gyp, libagnocast's sources and its list of them), the module's
# sources (with its DKMS and udev files), the heaphook's sources and header,
# README and licenses.
expected() {
	local f
	for f in "$root"/src/*.ts "$root"/src/bridge/*.ts; do
		f=${f#"$root"/src/}
		printf 'dist/%s.js\ndist/%s.d.ts\n' "${f%.ts}" "${f%.ts}"
	done
	git -C "$root" ls-files -- native/binding.gyp ':(glob)native/src/*' libagnocast/sources.mk \
		':(glob)libagnocast/*.[ch]' kmod heaphook LICENSES README.md package.json
}
check "npm pack makes the tarball" bash -c "cd '$root' && npm pack --pack-destination '$dir'"
tgz=$(ls "$dir"/agnocast-*.tgz 2>/dev/null | head -1)
tar -tzf "${tgz:-/dev/null}" 2>/dev/null | sed 's|^package/||' | sort >"$dir/shipped.txt"
expected | sort >"$dir/expected.txt"
check "the tarball holds exactly what users need (dist/, addon, libagnocast and module sources, heaphook, README, licenses)" \
	diff "$dir/expected.txt" "$dir/shipped.txt"

# --ignore-scripts: no addon.
mkdir -p "$dir/bare"
cp "$root/test/install/app/package.json" "$dir/bare/"
cd "$dir/bare" || exit 1
check "npm install --ignore-scripts of the tarball" npm install --ignore-scripts --no-audit --no-fund "$tgz"
exits "first use without the addon fails with status 1 (an error, not a crash)" 1 first_use
out_has "the error says the addon is not built and names npm rebuild agnocast" \
	'AddonError: the agnocast addon is not built .*--ignore-scripts.*npm rebuild agnocast'
exits "npx agnocast doctor fails" 1 npx agnocast doctor
out_has "doctor says the addon is not built, with the command" \
	'FAIL  native addon: the agnocast addon is not built.*' 
out_has "doctor's fix is npm rebuild agnocast" 'fix: build it for this Node.js .*: npm rebuild agnocast'
check "npm rebuild agnocast (the command named) builds the addon" npm rebuild agnocast
exits "npx agnocast doctor then finds the addon loadable" 1 npx agnocast doctor
out_has "doctor: the addon is ok" "$addon_ok"

# A normal install, and a user's TypeScript programs.
mkdir -p "$dir/app"
cp "$root"/test/install/app/* "$dir/app/"
cd "$dir/app" || exit 1
# TypeScript and Node's types as the repository pins them (from npm's cache).
ts=$(node -p "require('$root/node_modules/typescript/package.json').version")
types=$(node -p "require('$root/node_modules/@types/node/package.json').version")
check "npm install of the tarball (its install script builds the addon)" \
	npm install --no-audit --no-fund "$tgz" "typescript@$ts" "@types/node@$types"
check "the addon is built" test -f node_modules/agnocast/native/build/Release/agnocast.node
check "the install's build has warnings on but not -Werror" \
	bash -c '! grep -q -- -Werror node_modules/agnocast/native/build/agnocast.target.mk && grep -q -- -Wextra node_modules/agnocast/native/build/agnocast.target.mk'
check "the package's declarations type-check the strict TypeScript publisher and subscriber" npx tsc -p .
check "they compile to dist/publisher.js and dist/subscriber.js" test -f dist/publisher.js -a -f dist/subscriber.js

# Other package managers, from the npm registry (cached): pnpm 10 and Bun
# run no install script of a dependency until the user approves it.
pm=${AGNOCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agnocast}/pm
if [ ! -x "$pm/node_modules/.bin/pnpm" ] || [ ! -x "$pm/node_modules/@oven/bun-linux-x64/bin/bun" ]; then
	npm install --no-audit --no-fund --no-save --prefix "$pm" pnpm@10 @oven/bun-linux-x64@1 >"$log" 2>&1 ||
		{ echo "# installing pnpm and bun from the npm registry failed:" >>"$tap"; sed 's/^/# /' "$log" | tail -n 5 >>"$tap"; }
fi
pnpm() { "$pm/node_modules/.bin/pnpm" "$@"; }
bun() { "$pm/node_modules/@oven/bun-linux-x64/bin/bun" "$@"; }

mkdir -p "$dir/pnpm"
cp "$root/test/install/app/package.json" "$dir/pnpm/"
cd "$dir/pnpm" || exit 1
check "pnpm 10 adds the tarball without running its install script" pnpm add "$tgz"
exits "first use after pnpm add fails with status 1 (an error, not a crash)" 1 first_use
out_has "the error names pnpm approve-builds, then pnpm rebuild agnocast" \
	'AddonError: the agnocast addon is not built .*pnpm approve-builds .*pnpm rebuild agnocast'
check "pnpm approve-builds --all (approving agnocast) runs its install script" pnpm approve-builds --all
exits "pnpm exec agnocast doctor then runs (status 1: no module on this host)" 1 pnpm exec agnocast doctor
out_has "doctor: the addon pnpm built is ok" "$addon_ok"

mkdir -p "$dir/bun"
cp "$root/test/install/app/package.json" "$dir/bun/"
cd "$dir/bun" || exit 1
echo "import { join } from 'agnocast'; join();" >first.mjs
check "bun adds the tarball, blocking its install script" bun add "$tgz"
exits "first use with node after bun add fails with status 1 (an error, not a crash)" 1 node first.mjs
out_has "the error says the addon is not built and names npm rebuild agnocast" \
	'AddonError: the agnocast addon is not built .*npm rebuild agnocast'
exits "the same program run by bun fails with status 1 (an error, not a crash)" 1 bun first.mjs
out_has "the error says agnocast runs on Node.js, not on Bun, and how to run it" \
	'^AddonError: agnocast runs on Node.js, not on Bun \(1\.[0-9.]+\): .*; run the program with node'
check "npm rebuild agnocast builds the addon in the project bun installed" npm rebuild agnocast
exits "npx agnocast doctor then runs (status 1: no module on this host)" 1 npx agnocast doctor
out_has "doctor: the addon is ok" "$addon_ok"

plan
rm -f "$log"
[ "$failed" = 0 ]
