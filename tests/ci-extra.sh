#!/usr/bin/env bash
# shellcheck disable=SC2317  # the part_* functions are called as "part_$p"
# Runs the checks that need other builds or tools than make check, as root
# on a machine prepared by contrib/deps.sh. tests/run-all.sh runs it after
# make check. The parts:
#   asan      an --enable-sanitizers --enable-werror build in build-asan/
#             that runs make check (unit and integration tests) with
#             AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer
#   valgrind  valgrind memcheck over every unit test binary of the normal
#             build (make check must have built them)
#   fuzz      a clang --enable-fuzzing build in build-fuzz/ and each harness
#             in tests/fuzz/*.c for KB_FUZZ_SECONDS, failing on any crash
#
# Usage: tests/ci-extra.sh [asan] [valgrind] [fuzz]   (no argument: all three)
# Environment:
#   KB_BUILD         the normal build (default: build/ in the source tree)
#   KB_EXTRA_DIR     where build-asan/ and build-fuzz/ go (default: the
#                    source tree)
#   KB_FUZZ_SECONDS  run time per harness (default 30)
# Every part runs even when an earlier one failed. Prints one summary line
# per part and exits 1 when any part failed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${KB_BUILD:-$top/build}
extra=${KB_EXTRA_DIR:-$top}
fuzz_seconds=${KB_FUZZ_SECONDS:-30}
status=0
summaries=()

say() { printf 'ci-extra: %s\n' "$*"; }

# Records the summary line of a part: $1 name, $2 ok or FAILED, $3 start
# time in $SECONDS, $4 details.
record() {
	summaries+=("$(printf '%-9s %-6s %4d s  %s' "$1" "$2" $((SECONDS - $3)) "$4")")
	[ "$2" = ok ] || status=1
}

# Prints the number after "# NAME:" in the test-suite.log $2, or 0.
count_in() {
	local n

	n=$(sed -n "s/^# $1: *//p" "$2" | head -n 1)
	echo "${n:-0}"
}

# The test environment that AM_TESTS_ENVIRONMENT sets for make check, for
# running test binaries by hand from the build $1.
export_test_env() {
	export top_srcdir="$top" top_builddir="$1" KEXBRIDGE="$1/kexbridge"
	export CASES_DIR="$top/tests/cases"
}

part_asan() {
	local dir="$extra/build-asan" start=$SECONDS logs log rc=0 pass fail skip
	local reports=()

	say "asan: configure --enable-sanitizers --enable-werror in $dir"
	mkdir -p "$dir"
	logs="$dir/sanitizer-logs"
	rm -rf "$logs"
	mkdir -p "$logs"
	(cd "$dir" && "$top/configure" -q --enable-sanitizers --enable-werror &&
	    make -j2) || rc=$?
	if [ "$rc" -ne 0 ]; then
		record asan FAILED "$start" "build failed (exit status $rc)"
		return
	fi

	# log_path keeps the reports of processes whose stderr the tests throw
	# away, such as kexbridge under an integration test, which goes through
	# LeakSanitizer when SIGTERM stops it. Each process writes PREFIX.PID.
	say "asan: make check"
	find "$dir" -name test-suite.log -delete
	(cd "$dir" &&
	    ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$logs/asan" \
	    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan" \
	    make -j2 && make -j1 check) || rc=$?

	log="$dir/test-suite.log"
	if [ ! -f "$log" ]; then
		record asan FAILED "$start" "make check built no test-suite.log (exit status $rc)"
		return
	fi
	pass=$(($(count_in PASS "$log") + $(count_in XFAIL "$log")))
	fail=$(($(count_in FAIL "$log") + $(count_in XPASS "$log") + $(count_in ERROR "$log")))
	skip=$(count_in SKIP "$log")
	if [ "$fail" -ne 0 ]; then
		say "asan: failures recorded in $log"
		cat "$log"
	fi

	for log in "$logs"/*; do
		[ -s "$log" ] || continue
		reports+=("$log")
		say "asan: sanitizer report $log"
		cat "$log"
	done
	if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ] || [ "${#reports[@]}" -ne 0 ]; then
		record asan FAILED "$start" "$pass passed, $fail failed, $skip skipped, ${#reports[@]} sanitizer report(s)"
	else
		record asan ok "$start" "$pass passed, $fail failed, $skip skipped, no sanitizer report"
	fi
}

# Prints check_PROGRAMS of the build $1, which is the unit test list when
# cmocka was found. The marker keeps out what make prints when it first
# regenerates a Makefile older than its Makefile.am.
list_unit_tests() {
	make -s -C "$1" -f Makefile -f - kb-print-check-programs <<'EOF' |
kb-print-check-programs:
	@echo "kb-check-programs: $(check_PROGRAMS)"
EOF
	    sed -n 's/^kb-check-programs: //p'
}

part_valgrind() {
	local start=$SECONDS tests=() t t0 bad=() log logs="$build/valgrind-logs" rc

	if ! command -v valgrind >/dev/null; then
		record valgrind FAILED "$start" "valgrind not installed (run contrib/deps.sh)"
		return
	fi
	if [ ! -x "$build/libtool" ]; then
		record valgrind FAILED "$start" "no configured build in $build"
		return
	fi
	read -r -a tests <<<"$(list_unit_tests "$build")"
	if [ "${#tests[@]}" -eq 0 ]; then
		record valgrind FAILED "$start" "$build lists no unit tests (cmocka missing?)"
		return
	fi

	rm -rf "$logs"
	mkdir -p "$logs"
	export_test_env "$build"
	for t in "${tests[@]}"; do
		log="$logs/$(basename "$t").log"
		if [ ! -x "$build/$t" ]; then
			say "valgrind: $t is not built (run make check first)"
			bad+=("$(basename "$t")")
			continue
		fi
		rc=0
		t0=$SECONDS
		(cd "$build" && "$build/libtool" --mode=execute valgrind \
		    --leak-check=full --show-leak-kinds=definite,indirect \
		    --errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
		    "./$t") >"$log" 2>&1 || rc=$?
		if [ "$rc" -ne 0 ]; then
			say "valgrind: $t exited $rc; its output:"
			cat "$log"
			bad+=("$(basename "$t")")
		else
			say "valgrind: $t clean ($((SECONDS - t0)) s)"
		fi
	done
	if [ "${#bad[@]}" -ne 0 ]; then
		record valgrind FAILED "$start" "${#tests[@]} binaries, failed: ${bad[*]}"
	else
		record valgrind ok "$start" "${#tests[@]} binaries, no error and no definite or indirect leak"
	fi
}

# Runs one harness $2 of the fuzz build $1 for $fuzz_seconds on a copy of
# its corpus. Prints the number of executions, or returns 1 on a crash.
run_harness() {
	local dir=$1 name=$2 src="$top/tests/fuzz" work="$1/fuzz-run" rc=0
	local args=() max_len execs

	mkdir -p "$work/corpus" "$work/artifacts"
	rm -rf "${work:?}/corpus/$name"
	mkdir -p "$work/corpus/$name"
	if [ -d "$src/corpus/$name" ]; then
		cp -R "$src/corpus/$name/." "$work/corpus/$name/"
	fi
	args=(-max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048
	    -print_final_stats=1 -artifact_prefix="$work/artifacts/$name-")
	[ -f "$src/$name.dict" ] && args+=(-dict="$src/$name.dict")
	if [ -f "$src/$name.options" ]; then
		max_len=$(sed -n 's/^max_len *= *//p' "$src/$name.options")
		[ -n "$max_len" ] && args+=(-max_len="$max_len")
	fi

	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$dir/tests/fuzz/$name" "${args[@]}" "$work/corpus/$name" \
	    >"$work/$name.log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log")
	# A sanitizer that recovers prints "runtime error" and goes on, so the
	# log is searched as well as the exit status checked.
	if [ "$rc" -eq 0 ] && grep -q 'runtime error:' "$work/$name.log"; then
		rc=1
	fi
	if [ "$rc" -ne 0 ]; then
		say "fuzz: $name exited $rc; the end of its log ($work/$name.log):" >&2
		tail -n 80 "$work/$name.log" >&2
		ls -l "$work/artifacts" >&2
		return 1
	fi
	echo "${execs:-?}"
}

part_fuzz() {
	local dir="$extra/build-fuzz" start=$SECONDS rc=0 c name execs
	local bad=() done=()

	if ! command -v clang >/dev/null; then
		record fuzz FAILED "$start" "clang not installed (run contrib/deps.sh)"
		return
	fi
	# fuzzer-no-link gives libkbcore the coverage instrumentation that
	# libFuzzer steers by; the harnesses link the fuzzer runtime itself.
	# Without -fno-sanitize-recover, UBSan reports and goes on, and
	# libFuzzer counts no crash.
	say "fuzz: configure --enable-fuzzing CC=clang in $dir"
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q --enable-fuzzing CC=clang \
	    CFLAGS="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" &&
	    make -j2 fuzz) || rc=$?
	if [ "$rc" -ne 0 ]; then
		record fuzz FAILED "$start" "build failed (exit status $rc)"
		return
	fi

	for c in "$top"/tests/fuzz/*.c; do
		name=$(basename "$c" .c)
		if [ ! -x "$dir/tests/fuzz/$name" ]; then
			say "fuzz: $name was not built by make fuzz (missing from FUZZ_HARNESSES in Makefile.am?)"
			bad+=("$name(not built)")
			continue
		fi
		say "fuzz: $name for $fuzz_seconds s"
		if execs=$(run_harness "$dir" "$name"); then
			say "fuzz: $name: $execs executions, no crash"
			done+=("$name=$execs")
		else
			bad+=("$name(crash)")
		fi
	done
	if [ "${#bad[@]}" -ne 0 ]; then
		record fuzz FAILED "$start" "failed: ${bad[*]}; ran: ${done[*]:-none}"
	else
		record fuzz ok "$start" "${#done[@]} harnesses x ${fuzz_seconds} s, executions: ${done[*]}"
	fi
}

parts=("$@")
[ "${#parts[@]}" -eq 0 ] && parts=(asan valgrind fuzz)
for p in "${parts[@]}"; do
	case $p in
	asan | valgrind | fuzz) ;;
	*)
		echo "ci-extra.sh: unknown part '$p' (expected asan, valgrind or fuzz)" >&2
		exit 2
		;;
	esac
done

cd "$top"
for p in "${parts[@]}"; do
	printf '\n=== ci-extra: %s\n' "$p"
	"part_$p"
done

printf '\n=== ci-extra summary\n'
printf 'ci-extra: %s\n' "${summaries[@]}"
exit "$status"
