#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs inside a guest (see scripts/guest.sh): loads the freshly built module
# and runs every guest suite, each writing to the output share (kmod.tap,
# libagnocast.tap and heaphook.tap in TAP, ts.json in vitest's JSON). A
# missing file counts as a failed suite. Test failures are reported in the
# TAP files, not by the exit status, which is reserved for the guest itself
# failing.
set -u
kernel=$1
out=$AGNOCAST_GUEST_OUT
ko=build/kmod/$kernel/agnocast.ko
echo "guest: $(uname -r), loading $ko"
if ! insmod "$ko"; then
	for suite in kmod libagnocast heaphook; do
		printf 'not ok 1 - insmod %s\n1..1\n' "$ko" >"$out/$suite.tap"
	done
	exit 0
fi
echo "guest: module suite"
build/test/kmod/agnocast-ktest --tap "$out/kmod.tap" --ko "$ko"
# The module suite leaves the module loaded; make sure, whatever happened.
grep -q '^agnocast ' /proc/modules || insmod "$ko"
echo "guest: C library suite"
build/test/libagnocast/libagnocast-gtest --tap "$out/libagnocast.tap" --ko "$ko" \
	--lib build/libagnocast/libagnocast.so
grep -q '^agnocast ' /proc/modules || insmod "$ko"
echo "guest: TypeScript library suite"
node_modules/.bin/vitest run --config test/vitest.guest.config.mjs --configLoader native \
	--reporter=default --reporter=json --outputFile.json="$out/ts.json"
if [ -x test/heaphook/run-in-guest.sh ]; then
	echo "guest: heaphook suite"
	test/heaphook/run-in-guest.sh "$out/heaphook.tap" "$ko"
fi
exit 0
