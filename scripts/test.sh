#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `npm test`: set-up, builds, host unit tests, then the module's integration
# suite inside QEMU guests running Debian's 6.1 and 6.12 kernels and (in CI,
# or with AGNOCAST_DEBUG_KERNEL=1) a KASAN/lockdep/kmemleak debug kernel.
# Ends with one line "N passed, N failed" over all of them.
#   AGNOCAST_KERNELS="6.1"   run only these guest kernels
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
fi
for k in "${kernels[@]}"; do
	[ "$k" = debug ] && export AGNOCAST_DEBUG_KERNEL=1
done

step "set-up: Debian packages"
bash scripts/setup.sh
[ -x node_modules/.bin/vitest ] || { step "set-up: npm ci"; npm ci --no-audit --no-fund; }

guest_results=(kmod.tap libagnocast.tap ts.json)
[ -x test/heaphook/run-in-guest.sh ] && guest_results+=(heaphook.tap)
results=$BUILD/results
rm -rf "$results" && mkdir -p "$results"

step "build: libagnocast (shared, static, the README's examples) and its allocator's host tests"
make -s -C libagnocast all tests

step "build: the guest suites of the module and of libagnocast (test/kmod, test/libagnocast)"
make -s -C test/kmod
make -s -C test/libagnocast

step "build: the addon, the TypeScript library, the heaphook and the C programs"
npm run -s build
make -s -C scripts/demo
make -s -C heaphook
[ -f test/heaphook/guest/Makefile ] && make -s -C test/heaphook/guest

step "typecheck: the library, its tests and the TypeScript scripts (tsc --noEmit, strict)"
npm run -s typecheck

step "host unit tests (vitest)"
npx vitest run --config test/vitest.config.ts --reporter=default --reporter=json \
	--outputFile.json="$results/host.json" || true

step "host: allocator tests (plain, ASan+UBSan, TSan)"
for v in plain asan tsan; do
	bin=$BUILD/libagnocast/test_pool_alloc_$v
	ASAN_OPTIONS=detect_leaks=0 "$bin" >"$results/pool-alloc-$v.tap" 2>&1 || true
done

for k in "${kernels[@]}"; do
	eval "$(bash scripts/kernels.sh "$k")"
	step "build: agnocast.ko for the $k kernel ($KVER)"
	make -s -C kmod OUT="$BUILD/kmod/$k" KDIR="$KBUILD"
	step "guest $k: booting $KVER under QEMU, running the guest suites (module, C library, TypeScript library, heaphook)"
	guest_tap=$results/guest-$k.tap
	if bash scripts/guest.sh "$k" -- bash test/run-in-guest.sh "$k"; then
		printf 'ok 1 - the %s guest ran the suite with a clean kernel log\n1..1\n' "$k" >"$guest_tap"
	else
		printf 'not ok 1 - the %s guest ran the suite with a clean kernel log (see %s)\n1..1\n' \
			"$k" "$BUILD/guest/$k/console.log" >"$guest_tap"
	fi
	# A suite that left no file counts as failed (see summary.mjs).
	for f in "${guest_results[@]}"; do
		to=$results/${f%.*}-$k.${f##*.}
		cp "$BUILD/guest/$k/$f" "$to" 2>/dev/null || : >"$to"
	done
done

step "summary"
node scripts/summary.mjs "$results"
