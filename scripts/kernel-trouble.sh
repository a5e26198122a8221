#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage: scripts/kernel-trouble.sh LOG...
# Prints the lines of kernel logs (dmesg, console, kmemleak reports) that
# show trouble: warnings, lockdep, KASAN, oopses, leaks. The patterns, one
# extended regex a line, live in kernel-trouble.txt beside this script.
# Exits 1 when it found any, 0 when the logs are clean, 2 on error.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: scripts/kernel-trouble.sh LOG..." >&2; exit 2; }
rc=0
grep -HnE -f "$(dirname "$0")/kernel-trouble.txt" -- "$@" || rc=$?
case $rc in
0) exit 1 ;;
1) exit 0 ;;
*) exit 2 ;;
esac
