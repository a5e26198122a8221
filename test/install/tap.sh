# SPDX-License-Identifier: Apache-2.0
# TAP helpers of the install suites (test/install/*.sh). Source it, after
# setting $tap (the TAP file) and $log (a scratch file for each command's
# output). Each failure copies the end of the output into the TAP. Each
# result is followed by "# time S s": the seconds since the one before (or
# since this file was sourced), as in the module suite's TAP.
n=0
failed=0
tap_last=$EPOCHREALTIME

# The seconds since the last result, as a TAP comment.
tap_time() {
	local now=$EPOCHREALTIME
	awk -v a="$tap_last" -v b="$now" 'BEGIN { printf "# time %.3f s\n", b - a }' >>"$tap"
	tap_last=$now
}
ok() { n=$((n + 1)); echo "ok $n - $1" >>"$tap"; tap_time; }
not_ok() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1" >>"$tap"
	sed 's/^/# /' "$log" | tail -n 20 >>"$tap"
	tap_time
}
# check NAME COMMAND...: the command succeeds (its output in $log).
check() {
	local name=$1
	shift
	if "$@" >"$log" 2>&1; then ok "$name"; else not_ok "$name"; fi
}
# out_has NAME PATTERN: the last command's output matches.
out_has() { if grep -qE -- "$2" "$log"; then ok "$1"; else not_ok "$1 (no /$2/ in the output)"; fi; }
# exits NAME CODE COMMAND...: the command exits with CODE.
exits() {
	local name=$1 want=$2 rc=0
	shift 2
	"$@" >"$log" 2>&1 || rc=$?
	if [ "$rc" = "$want" ]; then ok "$name"; else echo "exit status $rc, expected $want" >>"$log"; not_ok "$name"; fi
}
# plan: the closing line.
plan() { echo "1..$n" >>"$tap"; }
