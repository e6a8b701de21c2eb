#!/usr/bin/env bash
# Runs every kexbridge test on a fresh Debian 12 machine, as root:
# dependencies, autogen, a --enable-werror build in build/ under the source
# tree, and make check (unit and integration tests). Then tests/ci-extra.sh
# runs make check under ASan and UBSan, valgrind over the unit tests and
# each fuzzer for 30 s, and make distcheck runs with the integration tests
# skipped. Exits non-zero when any step fails and ends with a line
# "N passed, N failed, N skipped" for make check.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/build"
status=0
summary="0 passed, 0 failed, 0 skipped"
current=

step() {
	current=$1
	printf '\n=== %s\n' "$*"
}

# Names the step that stopped the run and prints the closing line, also when
# a build step fails before make check.
# shellcheck disable=SC2317  # called by the EXIT trap
finish() {
	local rc=$?

	if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then
		echo "run-all.sh: step $current failed (exit status $rc)" >&2
	fi
	echo "$summary"
}
trap finish EXIT

# Prints the number after "# NAME:" in the test-suite.log $2, or 0.
count_in() {
	local n

	n=$(sed -n "s/^# $1: *//p" "$2" | head -n 1)
	echo "${n:-0}"
}

# Prints the logs of the failed tests from every test-suite.log under $1 and
# sets summary to the totals.
report_check() {
	local dir=$1 pass=0 fail=0 skip=0 logs=0 log

	while IFS= read -r log; do
		pass=$((pass + $(count_in PASS "$log") + $(count_in XFAIL "$log")))
		fail=$((fail + $(count_in FAIL "$log") + $(count_in XPASS "$log") +
		    $(count_in ERROR "$log")))
		skip=$((skip + $(count_in SKIP "$log")))
		logs=$((logs + 1))
		if grep -Eq '^# (FAIL|XPASS|ERROR): *[1-9]' "$log"; then
			step "failures recorded in $log"
			cat "$log"
		fi
	done < <(find "$dir" -name test-suite.log -not -path '*/kexbridge-*/*')
	summary="$pass passed, $fail failed, $skip skipped"
	if [ "$logs" -eq 0 ]; then
		# make check stopped before any test ran, so count that as a failure.
		summary="0 passed, 1 failed, 0 skipped (make check built no test-suite.log)"
	fi
}

cd "$top"

step "1. dependencies (contrib/deps.sh)"
bash contrib/deps.sh

step "2. ./autogen.sh"
./autogen.sh

step "3. configure --enable-werror in $build"
mkdir -p "$build"
cd "$build"
"$top/configure" --enable-werror

step "4. make -j2"
make -j2

step "5. make check (unit and integration tests)"
find "$build" -name test-suite.log -delete	# no stale totals from an earlier run
# Tests run one at a time: the fault and load tests start hundreds of
# sessions, and next to another test on 2 cores their clients time out.
if make -j2 && make -j1 check; then
	check_ok=yes
else
	check_ok=no
	status=1
fi
report_check "$build"

step "5b. tests/ci-extra.sh (sanitizers, valgrind, fuzzers)"
if KB_BUILD="$build" bash "$top/tests/ci-extra.sh"; then
	extra_ok=yes
else
	extra_ok=no
	status=1
fi

step "6. make distcheck (integration tests skipped: KEXBRIDGE_TESTS=unit)"
export KEXBRIDGE_TESTS=unit
if ! make -j2 distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror; then
	echo "run-all.sh: step 6 (make distcheck) failed" >&2
	status=1
fi

echo
echo "make check: $([ "$check_ok" = yes ] && echo ok || echo FAILED)"
echo "ci-extra.sh: $([ "$extra_ok" = yes ] && echo ok || echo FAILED)"
exit "$status"
