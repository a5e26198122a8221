#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages the build and the guest lane need (the
# bridge's tests and bench start Debian's nats-server; the install suite
# runs `agnocast module install` through Debian's dkms in the 6.1 guest). Idempotent:
# does nothing when everything is already there.
#   scripts/setup.sh --debug-kernel   only what scripts/debug-kernel.sh needs
#                                     (npm test starts that build first)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

headers=(linux-headers-amd64 linux-headers-6.12-amd64)
# The debug kernel is built from source and the PREEMPT_RT guest booted
# only when asked for (CI, or AGNOCAST_DEBUG_KERNEL=1, AGNOCAST_RT_KERNEL=1),
# so their packages are only fetched then.
if [ "${CI:-}" = true ] || [ "${AGNOCAST_RT_KERNEL:-0}" = 1 ]; then
	headers+=(linux-headers-rt-amd64)
fi
# What building a kernel or a module against its headers needs.
kbuild=(bc flex bison libelf-dev libssl-dev make)
pkgs=(qemu-system-x86 busybox-static kmod cpio xz-utils zstd "${headers[@]}"
      "${kbuild[@]}" dwarves g++ gcc-multilib nats-server dkms)
if [ "${CI:-}" = true ] || [ "${AGNOCAST_DEBUG_KERNEL:-0}" = 1 ]; then
	pkgs+=(linux-source-6.1)
fi
case ${1:-} in
'') ;;
--debug-kernel)
	headers=()
	pkgs=(linux-source-6.1 xz-utils gcc "${kbuild[@]}") ;;
*) die "usage: scripts/setup.sh [--debug-kernel]" ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
# A meta-package can be installed yet point at a newer ABI than the one on
# disk; upgrading it is part of set-up.
if [ ${#missing[@]} -eq 0 ]; then
	for meta in "${headers[@]}"; do
		dep=$(resolve_meta "$meta")
		[ -n "$dep" ] && ! dpkg-query -W -f='${Status}' "$dep" 2>/dev/null |
			grep -q 'ok installed' && missing+=("$meta")
	done
fi
[ ${#missing[@]} -eq 0 ] && exit 0

[ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]}; run as root, or: sudo apt-get install ${missing[*]}"
step "installing Debian packages: ${missing[*]}"
stamp=/var/lib/apt/periodic/agnocast-update
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +360)" ]; then
	apt-get update -q >/dev/null
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
