#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Usage (inside a guest, agnocast.ko loaded): test/install/pack-in-guest.sh TAPFILE APPDIR
# Runs the publisher and subscriber of the project test/install/pack.sh
# made (APPDIR: the tarball installed, test/install/app/*.ts compiled)
# against the module: the subscriber starts first, then the publisher
# sends 5 messages; the subscriber must get each one's text at the very
# address the publisher wrote it (no copy), and both must exit cleanly.
set -u
tap=$1
app=$2
log=$(mktemp)
. "$(dirname "$0")/tap.sh"
count=5
limit=120	# seconds: a guard against a hang only (TCG is slow)

: >"$tap"
tmp=$(mktemp -d)
mkfifo "$tmp/sub.out" "$tmp/pub.in"
cd "$app" || exit 1
timeout -k 5 $limit node dist/subscriber.js $count >"$tmp/sub.out" 2>&1 &
sub=$!
exec 3<"$tmp/sub.out"
line=
read -r -t $limit line <&3
echo "$line" >"$log"
if [ "$line" = ready ]; then ok "the subscriber, from the installed package, subscribes"; else not_ok "the subscriber, from the installed package, subscribes"; fi

# The publisher stays until its stdin (the fifo, held open here) closes.
exec 4<>"$tmp/pub.in"
timeout -k 5 $limit node dist/publisher.js $count <"$tmp/pub.in" >"$tmp/pub.out" 2>&1 3<&- 4>&- &
pub=$!
: >"$tmp/got"
for _ in $(seq $count); do
	read -r -t $limit line <&3 || break
	echo "$line" >>"$tmp/got"
done
rc=0
wait $sub || rc=$?
{ echo "subscriber (exit status $rc):"; cat "$tmp/got"; echo "publisher:"; cat "$tmp/pub.out"; } >"$log"
if [ "$rc" = 0 ]; then ok "the subscriber gets $count messages and exits"; else not_ok "the subscriber gets $count messages and exits"; fi
# (No <(...): the guest's /dev has no /dev/fd.)
sed 's/^sent //' "$tmp/pub.out" >"$tmp/sent.txt"
sed 's/^got //' "$tmp/got" >"$tmp/got.txt"
if [ "$(grep -c '^sent ' "$tmp/pub.out")" = $count ] && diff "$tmp/sent.txt" "$tmp/got.txt" >>"$log" 2>&1; then
	ok "each message arrives with its text at the address the publisher wrote it (no copy)"
else
	not_ok "each message arrives with its text at the address the publisher wrote it (no copy)"
fi
exec 4>&-
rc=0
wait $pub || rc=$?
{ echo "publisher (exit status $rc):"; cat "$tmp/pub.out"; } >"$log"
if [ "$rc" = 0 ]; then ok "the publisher exits cleanly once its stdin closes"; else not_ok "the publisher exits cleanly once its stdin closes"; fi
exec 3<&-
check "nothing is left in the module: no process joined" \
	bash -c '! grep -qE "^process|^pid" /proc/driver/agnocast || { cat /proc/driver/agnocast; false; }'

plan
rm -rf "$log" "$tmp"
exit 0
