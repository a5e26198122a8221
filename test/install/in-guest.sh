#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage (inside a guest, with agnocast.ko NOT loaded): test/install/in-guest.sh TAPFILE
# `agnocast module install | status | uninstall` and `agnocast doctor` the
# way a user meets them: the module missing, then installed with make (the
# guest's "/" is read-only, so files go under AGNOCAST_INSTALL_ROOT), healthy,
# broken in the ways doctor must catch (device permissions, a tiny
# /dev/shm), uninstalled; then installed again through the real dkms, over
# writable layers (overlayfs on tmpfs) on the few directories DKMS and the
# install write, used, and uninstalled, leaving nothing in those layers.
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
cp -r dist package.json test/install/pubsub.mjs "$user_pkg/" &&
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

# --- DKMS, for real -------------------------------------------------------
# dkms writes /usr/src/agnocast-VERSION, /var/lib/dkms and
# /lib/modules/KVER (updates/dkms/agnocast.ko, depmod's modules.*), the
# install /etc (the group, the udev rule, modules-load.d). Each of those
# gets an overlay whose upper layer is on the guest's /tmp, so that what is
# left after `module uninstall` is exactly what is in the upper layers.
# /lib/modules/KVER's lower layers: the host's (build -> the headers the
# guest's modules are built against, as linux-headers-KVER installs it)
# and the guest kernel's own modules (the unpacked image, AGNOCAST_MODDIR),
# so that depmod and modprobe see a tree like an installed kernel's.
# Here files go where DKMS and a real install put them, not under
# AGNOCAST_INSTALL_ROOT (module install refuses DKMS with that set).
exits "module install refuses DKMS while AGNOCAST_INSTALL_ROOT is set" 1 $cli module install
out_has "it says to unset it or pass --no-dkms" 'unset AGNOCAST_INSTALL_ROOT, or pass --no-dkms'
unset AGNOCAST_INSTALL_ROOT
kver=$(uname -r)
kre=$(printf '%s' "$kver" | sed 's/[.+]/\\&/g')	# for grep -E (6.12's has a +)
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' kmod/dkms.conf)
layers=/tmp/dkms-layers
mounted=()
# layer NAME DIR [LOWER]: an overlay on DIR, its upper layer $layers/NAME/up.
layer() {
	local d=$layers/$1 lower=$2
	[ -n "${3:-}" ] && [ -d "$3" ] && lower=$2:$3
	mkdir -p "$d/up" "$d/work" &&
		mount -t overlay overlay -o "lowerdir=$lower,upperdir=$d/up,workdir=$d/work" "$2" &&
		mounted=("$2" "${mounted[@]}")
}
overlay_fs() {
	grep -qw overlay /proc/filesystems && return
	local ko
	ko=$(find "${AGNOCAST_MODDIR:-/nonexistent}/lib/modules/$kver/kernel/fs/overlayfs" -name 'overlay.ko*' -print -quit)
	[ -n "$ko" ] && insmod "$ko"
}
# dkms reads its own output through <(…), that is /dev/fd/N: every
# system's /dev has /dev/fd (udev or systemd make it), the guest's bare
# devtmpfs does not; made here for the while.
made_fd=no
[ -e /dev/fd ] || { ln -s /proc/self/fd /dev/fd && made_fd=yes; }
# The processes of udev (the daemon and its workers run /bin/udevadm).
udev_pids() {
	local p exe
	exe=$(readlink -f /bin/udevadm)
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$exe" ] && echo "${p#/proc/}"
	done
}
# Stop udev and wait for every one of its processes to end: one left
# would keep /lib/modules busy (its module index is mapped). SIGTERM, as
# systemd stops it: `udevadm control --exit` does nothing in a chroot,
# which is where the guest runs the tests.
stop_udevd() {
	local p pids
	pids=$(udev_pids)
	[ -n "$pids" ] || { echo "no udev process"; return 1; }
	kill -TERM $pids || return 1
	for p in $pids; do timeout 60 tail --pid="$p" -f /dev/null || return 1; done
	pids=$(udev_pids)
	[ -z "$pids" ] || { echo "still running: $pids"; return 1; }
}
dkms_ready=no
if ! command -v dkms >/dev/null; then
	echo "dkms: not installed on the host" >"$log"
	not_ok "dkms is installed (scripts/setup.sh installs it)"
elif { overlay_fs && layer src /usr/src && layer dkms /var/lib/dkms &&
	layer modules "/lib/modules/$kver" "${AGNOCAST_MODDIR:-}/lib/modules/$kver" && layer etc /etc; } >"$log" 2>&1; then
	ok "writable layers over /usr/src, /var/lib/dkms, /lib/modules/$kver and /etc (overlayfs on tmpfs)"
	dkms_ready=yes
else
	not_ok "writable layers over /usr/src, /var/lib/dkms, /lib/modules/$kver and /etc (overlayfs on tmpfs)"
fi
if [ $dkms_ready = yes ]; then
	check "/lib/modules/$kver/build resolves to the headers, as dkms looks for them" \
		test -e "/lib/modules/$kver/build/include" -a -e "/lib/modules/$kver/build/Makefile"
	check "module install builds and installs the module with DKMS, and loads it" \
		timeout 900 $cli module install
	out_has "it says DKMS built it for this kernel" "built agnocast $version with DKMS for $kre "
	out_has "it created the group agnocast" 'created the group agnocast'
	check "dkms status: agnocast/$version installed for $kver" \
		bash -c "dkms status agnocast/$version | tee /dev/stderr | grep -q '$kver.*: installed'"
	check "the module is in the kernel's module tree, where modprobe finds it" \
		bash -c "modinfo -n agnocast | tee /dev/stderr | grep -q '^/lib/modules/$kver/updates/dkms/agnocast.ko'"
	check "the loaded module is DKMS's build for this kernel" \
		bash -c "modinfo -F vermagic agnocast | grep -q '^$kver ' && grep -q '^agnocast ' /proc/modules"
	check "the loaded module speaks this package's ABI" \
		grep -q "abi $(sed -n 's/^#define AGNOCAST_ABI_VERSION[[:space:]]*//p' kmod/uapi/agnocast.h)" /proc/driver/agnocast
	gid=$(getent group agnocast | cut -d: -f3)
	check "/dev/agnocast is root:agnocast 0660" test -n "$gid" -a "$(stat -c '%a %u %g' /dev/agnocast)" = "660 0 $gid"
	check "the udev rule gives it to the group agnocast" grep -q 'GROUP="agnocast", MODE="0660"' /etc/udev/rules.d/99-agnocast.rules
	check "it is loaded at boot (modules-load.d)" grep -qx agnocast /etc/modules-load.d/agnocast.conf
	check "module status" $cli module status
	out_has "module status shows the module loaded" '^module: +agnocast .* abi '
	out_has "module status shows DKMS's build for this kernel" "^dkms: +agnocast/$version, $kre, .*: installed"
	out_has "module status shows the udev rule and the boot entry" 'boot load: +yes'
	# The next boot, as systemd runs it: udevd starts, systemd-modules-load
	# reads /etc/modules-load.d and modprobes what it lists (DKMS's build),
	# the kernel makes /dev/agnocast owned by root and udevd applies the
	# rule. It starts from what a boot starts from: the module unloaded.
	check "the module unloads (as before a boot), and /dev/agnocast goes with it" \
		bash -c "rmmod agnocast && test ! -e /dev/agnocast"
	check "systemd-udevd starts, as at boot" /lib/systemd/systemd-udevd --daemon
	# Then wait until udevd has processed the new device's event (its
	# rules applied, the device initialized): `udevadm settle` would not
	# wait here, it does nothing in a chroot ("Running in chroot, ignoring
	# request"), where the guest runs the tests; `udevadm wait` does.
	check "systemd-modules-load loads agnocast from /etc/modules-load.d" \
		bash -c "/lib/systemd/systemd-modules-load && grep -q '^agnocast ' /proc/modules &&
			udevadm wait --timeout=120 --initialized=yes --settle /dev/agnocast"
	check "udev gave the new /dev/agnocast to the group agnocast, 0660" \
		bash -c "s=\$(stat -c '%a %u %g' /dev/agnocast) && echo \"\$s\" && test -n '$gid' -a \"\$s\" = '660 0 $gid'"
	check "udevd and its workers stop" stop_udevd
	check "a member of the group agnocast publishes to another process, which gets the bytes at their address" \
		setpriv --reuid=65534 --regid=65534 --groups="${gid:-0}" -- $unode "$user_pkg/pubsub.mjs" "$user_pkg"
	out_has "the subscriber got hello" '^ok hello at 0x'
	exits "a user outside the group cannot publish" 1 as_nobody $unode "$user_pkg/pubsub.mjs" "$user_pkg"
	out_has "it is told it cannot open /dev/agnocast and to join the group" 'permission denied.*/dev/agnocast.*usermod -aG agnocast'

	check "module uninstall unloads the module and removes the DKMS tree" timeout 600 $cli module uninstall
	check "the module is unloaded, /dev/agnocast is gone" test ! -e /proc/driver/agnocast -a ! -e /dev/agnocast
	check "dkms knows no agnocast" bash -c "[ -z \"\$(dkms status agnocast)\" ]"
	check "modprobe finds no agnocast" bash -c "! modinfo -n agnocast"
	check "the group agnocast is gone" bash -c "! getent group agnocast"
	# Left in the layers (files; directories copied up stay, empty of
	# agnocast): only depmod's index of the kernel's modules (rewritten,
	# without agnocast), dkms's own signing key (made once per machine, for
	# every DKMS module) and /etc/group, /etc/gshadow with shadow's backups
	# and lock as groupadd and groupdel leave them. The list goes into the TAP.
	(cd "$layers" && find . -mindepth 3 -path './*/work' -prune -o ! -type d -print | sort) >"$log.left" 2>&1
	sed 's/^/# left: /' "$log.left" >>"$tap"
	check "nothing of agnocast is left in /usr/src, /var/lib/dkms, /lib/modules/$kver or /etc" bash -c "
		! grep -vE '^\./modules/up/modules\.[a-z.]+$|^\./dkms/up/mok\.(key|pub)$|^\./etc/up/((group|gshadow)-?|\.pwd\.lock)$' '$log.left' &&
		cd '$layers' && ! grep -rl agnocast modules/up etc/up/group etc/up/gshadow"
	rm -f "$log.left"
fi
for d in "${mounted[@]}"; do
	umount "$d" 2>"$log" || { fuser -vm "$d" >>"$log" 2>&1; not_ok "umount $d"; }
done
rm -rf "$layers"
[ $made_fd = no ] || rm -f /dev/fd

echo "1..$n" >>"$tap"
rm -f "$log"
[ "$failed" = 0 ]
