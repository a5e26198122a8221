#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage (inside a guest, with agnocast.ko NOT loaded): test/install/in-guest.sh TAPFILE
# `agnocast module install | status | uninstall` and `agnocast doctor` the
# way a user meets them: the module missing, then installed with make (the
# guest's "/" is read-only, so files go under AGNOCAST_INSTALL_ROOT and DKMS
# is not used: the DKMS path is not tested, as README says), healthy, broken in the
# ways doctor must catch (device permissions, a tiny /dev/shm), uninstalled.
# Leaves the module unloaded.
set -u
tap=$1
cli="node dist/cli.js"
export AGNOCAST_INSTALL_ROOT=/tmp/install-root
log=$(mktemp)
. "$(dirname "$0")/tap.sh"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
# The checkout may be where other users cannot read it (a clone under
# /root): the commands run as another user use a copy, readable by all, of
# what the CLI loads (its modules, the addon, the heaphook).
user_pkg=/tmp/agnocast-cli
rm -rf "$user_pkg"
mkdir -p "$user_pkg/native/build/Release" "$user_pkg/build/heaphook"
cp -r dist package.json "$user_pkg/" &&
	cp native/build/Release/agnocast.node "$user_pkg/native/build/Release/" &&
	cp build/heaphook/libagnocast_heaphook.so "$user_pkg/build/heaphook/" &&
	chmod -R a+rX "$user_pkg" || echo "in-guest.sh: cannot copy the CLI to $user_pkg" >&2
# So may the Node that runs (npm test's lanes take it from ~/.cache).
unode=$(command -v node)
if ! as_nobody test -x "$unode"; then
	cp "$unode" "$user_pkg/node" && chmod a+rx "$user_pkg/node" && unode=$user_pkg/node
fi
ucli="$unode $user_pkg/dist/cli.js"

: >"$tap"
rm -rf "$AGNOCAST_INSTALL_ROOT"
rmmod agnocast 2>/dev/null

exits "doctor fails while the module is not loaded" 1 $cli doctor
out_has "doctor says the module is not loaded, and how to load it" 'FAIL  module loaded: .*not loaded'
out_has "doctor names the install command" 'fix: load it: sudo npx agnocast module install'
exits "module install refuses a non-root user" 1 as_nobody $ucli module install --no-dkms
out_has "it says to run it as root" 'needs root: run sudo'

check "module install --no-dkms builds, loads and gives the device to the group" \
	$cli module install --no-dkms --group 4242
out_has "it says the module will not survive a kernel update" 'will not survive a reboot or a kernel update'
check "/dev/agnocast is root:4242 0660" test "$(stat -c '%a %u %g' /dev/agnocast)" = "660 0 4242"
check "the udev rule is installed for that group" grep -q 'GROUP="4242", MODE="0660"' "$AGNOCAST_INSTALL_ROOT/etc/udev/rules.d/99-agnocast.rules"
check "the loaded module speaks this package's ABI" \
	grep -q "abi $(sed -n 's/^#define AGNOCAST_ABI_VERSION[[:space:]]*//p' kmod/uapi/agnocast.h)" /proc/driver/agnocast
check "module status" $cli module status
out_has "module status shows it loaded and the rule installed" 'udev rule:  installed'

exits "doctor passes as root on a healthy machine" 0 $cli doctor
out_has "all checks passed" 'all [0-9]+ checks passed'
exits "doctor fails for a user outside the device's group" 1 as_nobody $ucli doctor
out_has "it says the user cannot open the device and how to join the group" \
	'FAIL  /dev/agnocast access: .*cannot open it read-write'
exits "doctor passes for a member of the group" 0 \
	setpriv --reuid=65534 --regid=65534 --groups=4242 -- $ucli doctor
out_has "the device is read-write for the member" 'ok    /dev/agnocast access'

size=$(stat -f -c '%b*%S' /dev/shm)
check "a tiny /dev/shm" mount -o remount,size=1M /dev/shm
exits "doctor fails with a /dev/shm smaller than a pool" 1 $cli doctor
out_has "doctor says /dev/shm is too small" 'FAIL  /dev/shm space:'
out_has "it says how to make /dev/shm larger" 'remount,size='
mount -o remount,size=$(($size)) /dev/shm

check "module uninstall unloads and removes what install put in place" $cli module uninstall
check "the module is gone" test ! -e /proc/driver/agnocast
check "the rule is gone" test ! -e "$AGNOCAST_INSTALL_ROOT/etc/udev/rules.d/99-agnocast.rules"
exits "doctor fails again" 1 $cli doctor

echo "1..$n" >>"$tap"
rm -f "$log"
[ "$failed" = 0 ]
