# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the project's shell scripts. Source it; do not run it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Downloads and builds that a second run reuses. Outside the work tree so a
# fresh clone on the same machine finds them.
CACHE=${AGNOCAST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/agnocast}
BUILD=$ROOT/build
mkdir -p "$CACHE" "$BUILD"

step() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Resolve the concrete package a Debian meta-package points at right now,
# e.g. linux-image-amd64 -> linux-image-6.1.0-56-amd64. Never hard-coded:
# Debian's ABI number moves and old ones vanish from the mirror.
resolve_meta() {
	apt-cache depends "$1" 2>/dev/null |
		awk '/Depends: linux-/ { print $2; exit }'
}

# For the demo and the benchmark: run on this host when /dev/agnocast
# exists (mode "host"), else in a QEMU guest ("guest"). Reads and sets the
# global $mode (auto, host or guest).
resolve_mode() {
	if [ "$mode" = auto ]; then
		if [ -c /dev/agnocast ]; then mode=host; else mode=guest; fi
	fi
	[ "$mode" = guest ] || [ -c /dev/agnocast ] ||
		die "/dev/agnocast does not exist: load agnocast.ko (see README) or use --guest"
}

# For the demo and the benchmark, outside the guest: the mode, agnocast.ko
# for the guest kernel $1 when it runs there, and the addon and library the
# TypeScript programs load (built if missing).
prepare_run() {
	resolve_mode
	[ "$mode" = host ] || build_guest_module "$1"
	if [ ! -f "$ROOT/dist/index.js" ] || [ ! -f "$ROOT/native/build/Release/agnocast.node" ]; then
		step "build: the addon and the TypeScript library"
		(cd "$ROOT" && npm run -s build)
	fi
}

# Set-up and agnocast.ko for the guest kernel $1 (6.1, 6.12, rt or debug).
build_guest_module() {
	step "set-up: Debian packages"
	case $1 in
	rt) AGNOCAST_RT_KERNEL=1 bash "$ROOT/scripts/setup.sh" ;;
	debug) AGNOCAST_DEBUG_KERNEL=1 bash "$ROOT/scripts/setup.sh" ;;
	*) bash "$ROOT/scripts/setup.sh" ;;
	esac
	eval "$(bash "$ROOT/scripts/kernels.sh" "$1")"
	step "build: agnocast.ko for the $1 kernel ($KVER)"
	make -s -C "$ROOT/kmod" OUT="$BUILD/kmod/$1" KDIR="$KBUILD"
}
