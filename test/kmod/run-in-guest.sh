#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs inside the guest (see scripts/guest.sh): loads the freshly built
# module and runs the integration suite, writing TAP to the output share.
# Test failures are reported in the TAP file, not by the exit status, which
# is reserved for the guest itself failing.
set -u
kernel=$1
ko=build/kmod/$kernel/agnocast.ko
tap=$AGNOCAST_GUEST_OUT/kmod.tap
echo "guest: $(uname -r), loading $ko"
if ! insmod "$ko"; then
	printf 'not ok 1 - insmod %s\n1..1\n' "$ko" >"$tap"
	exit 0
fi
build/test/kmod/agnocast-ktest --tap "$tap" --ko "$ko"
echo "guest: suite exited with $?"
exit 0
