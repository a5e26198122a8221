#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage (inside a guest, see scripts/guest.sh): test/run-in-guest.sh 6.1|6.12|rt|debug
# Loads the module built for that kernel (build/kmod/KERNEL/agnocast.ko) and
# runs the guest suites, each writing its results to the output share:
#   install   module install / doctor / module uninstall, before
#             the module is loaded (test/install/in-guest.sh)     install.tap
#   kmod      the module suite (build/test/kmod/agnocast-ktest)   kmod.tap
#   libagnocast the C library's suite
#             (build/test/libagnocast/libagnocast-gtest)          libagnocast.tap
#   fuzz      the sequence fuzzer, when build/test/fuzz/agnocast-fuzz
#             exists, for AGNOCAST_FUZZ_SECONDS (default 60;
#             half as long on 6.1)                               fuzz.tap
#   ts        the TypeScript library suite (vitest)               ts.json
#   pack      the installed npm package's TypeScript publisher and
#             subscriber (test/install/pack-in-guest.sh, on the
#             project test/install/pack.sh left in build/pack/app) pack.tap
#   heaphook  the heaphook suite, when test/heaphook has one      heaphook.tap
# AGNOCAST_GUEST_SUITES (space-separated) runs only those named; default all.
# A missing file counts as a failed suite (scripts/summary.mjs). Test
# failures are reported in those files, not by the exit status, which is
# reserved for the guest itself failing.
set -u
kernel=${1:-}
case $kernel in
6.1 | 6.12 | rt | debug) ;;
*) echo "usage: test/run-in-guest.sh 6.1|6.12|rt|debug" >&2; exit 2 ;;
esac
out=$AGNOCAST_GUEST_OUT
suites=" ${AGNOCAST_GUEST_SUITES:-install kmod libagnocast fuzz ts pack heaphook} "
wants() { [[ $suites == *" $1 "* ]]; }
ko=build/kmod/$kernel/agnocast.ko
fuzzer=build/test/fuzz/agnocast-fuzz

# What runs now, and since when (the console log shows where a guest's time goes).
say() { echo "guest: [${SECONDS} s] $*"; }

# Each suite may unload and reload the module; the next one needs it loaded.
reload() { grep -q '^agnocast ' /proc/modules || insmod "$ko"; }

if wants install; then
	say "module install and doctor"
	test/install/in-guest.sh "$out/install.tap"
fi

say "$(uname -r), Node $(node --version 2>&1) ($(command -v node)), loading $ko"
if ! reload; then
	for suite in kmod libagnocast fuzz pack heaphook; do
		wants "$suite" && printf 'not ok 1 - insmod %s\n1..1\n' "$ko" >"$out/$suite.tap"
	done
	exit 0
fi

if wants kmod; then
	say "module suite"
	build/test/kmod/agnocast-ktest --tap "$out/kmod.tap" --ko "$ko"
	reload
fi

if wants libagnocast; then
	say "C library suite"
	build/test/libagnocast/libagnocast-gtest --tap "$out/libagnocast.tap" --ko "$ko" \
		--lib build/libagnocast/libagnocast.so
	reload
fi

if wants fuzz && [ -x "$fuzzer" ]; then
	seconds=${AGNOCAST_FUZZ_SECONDS:-60}
	[[ $seconds =~ ^[0-9]+$ ]] || seconds=60
	# Half as long on 6.1: the debug guest fuzzes the same 6.1 code for the
	# whole time, with the detectors on.
	[ "$kernel" = 6.1 ] && [ "$seconds" -gt 1 ] && seconds=$((seconds / 2))
	tap=$out/fuzz.tap
	say "sequence fuzzer, $seconds s"
	# A fuzzer that hangs ends as a failed suite, not as a timed-out guest.
	rc=0
	timeout -k 10 $((seconds + 300)) "$fuzzer" --seconds "$seconds" --tap "$tap" || rc=$?
	# Exit status 0 is a pass: make sure any other shows as a failure in the
	# TAP, whatever the fuzzer managed to write there.
	if [ "$rc" != 0 ]; then
		why="agnocast-fuzz exited with status $rc"
		[ "$rc" = 124 ] && why="agnocast-fuzz did not end within $((seconds + 300)) s"
		if [ ! -s "$tap" ]; then
			printf 'not ok 1 - %s\n1..1\n' "$why" >"$tap"
		elif ! grep -q '^not ok' "$tap"; then
			printf 'not ok - %s\n' "$why" >>"$tap"
		fi
	fi
	reload
fi

if wants ts; then
	say "TypeScript library suite"
	# Each test's timeout is a hang guard: 2 min, 10 min on the debug kernel.
	timeout_ms=120000
	files=()	# none named: all of test/guest
	skip=()
	soak=${AGNOCAST_SOAK_SECONDS:-120}
	[[ $soak =~ ^[0-9]+$ ]] || soak=120
	case $kernel in
	debug)
		# CI's long pole, there for the kernel's detectors: the files
		# about lifetimes, whose processes crash, exit, join in every
		# order, reclaim and are killed and restarted (the soak). The
		# others' module calls are these files' too and the module suite
		# makes every call under the detectors; they run on 6.1 and 6.12.
		timeout_ms=600000
		for f in lifetime soak crashes join_orders reclaim; do
			files+=("test/guest/$f.test.ts")
		done
		# The flat-memory iteration test takes 20 000 messages a loop
		# there, not 100 000: the same path, at a KASAN kernel's pace.
		export AGNOCAST_FLAT_MESSAGES=${AGNOCAST_FLAT_MESSAGES:-20000}
		;;
	6.1)
		# Node 20 (past its end of life): not the NATS bridge (minutes of
		# NATS traffic) nor the CLI's output, which run on 6.12's Node 24.
		for f in bridge cli; do
			skip+=(--exclude "test/guest/$f.test.ts")
		done
		;;
	esac
	# The soak runs for the whole AGNOCAST_SOAK_SECONDS on 6.12, with the
	# Node users run (24); on 6.1 (Node 20) and under the debug kernel's
	# detectors for half as long.
	[ "$kernel" = 6.12 ] || [ "$soak" -le 1 ] || soak=$((soak / 2))
	export AGNOCAST_SOAK_SECONDS=$soak
	AGNOCAST_TEST_TIMEOUT_MS=$timeout_ms node_modules/.bin/vitest run --config test/vitest.guest.config.mjs --configLoader native \
		"${skip[@]}" "${files[@]}" \
		--reporter=default --reporter=json --outputFile.json="$out/ts.json"
	reload
fi

if wants pack; then
	say "the installed package's publisher and subscriber"
	test/install/pack-in-guest.sh "$out/pack.tap" build/pack/app
	reload
fi

if wants heaphook && [ -x test/heaphook/run-in-guest.sh ]; then
	say "heaphook suite"
	test/heaphook/run-in-guest.sh "$out/heaphook.tap" "$ko"
fi
exit 0
