#!/usr/bin/env bash
# Measures the throughput of kexbridge tap against a direct connection and
# against socat, side by side in one run, on loopback. The same file goes
# to one OpenSSH sshd three ways: directly, through a kexbridge tap route,
# and through a socat TCP relay. The runs interleave (direct, tap, socat,
# direct, ...) for BENCH_ROUNDS rounds, so a change in machine load hits
# every path alike. Two transfer methods:
#   scp     scp -O (the legacy SCP protocol) into the account's home
#   pipe    ssh HOST 'cat > /dev/null' < FILE, which keeps disk writes out
# Prints the median throughput per path and method and the ratios
# tap/direct and tap/socat. The aim is tap/direct >= 0.95. Nothing is
# asserted: the script exits 0 when every transfer worked.
#
# Environment: KEXBRIDGE (default build/kexbridge), BENCH_SIZE_MIB (1024),
# BENCH_ROUNDS (5), BENCH_CIPHER (default: OpenSSH's choice), BENCH_METHODS
# (default "scp pipe"). BENCH_KEXBRIDGE_B names a second kexbridge binary,
# for example a build with a change under test: it gets a tap route of its
# own, measured as path tap_b in the same interleaved rounds, with its own
# CPU time.
# Needs root, like the integration tests (throwaway account, sshd).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

size_mib=${BENCH_SIZE_MIB:-1024}
rounds=${BENCH_ROUNDS:-5}

kb_require ssh scp sshd ssh-keygen socat
kb_make_account
kb_start_sshd default
kb_start_tap tap "$SSHD_PORT"
tap_pid=$KB_PID
declare -A port=([direct]=$SSHD_PORT [tap]=$KB_PORT)
paths=(direct tap socat)
if [ -n "${BENCH_KEXBRIDGE_B:-}" ]; then
	KEXBRIDGE=$BENCH_KEXBRIDGE_B kb_start_tap tap_b "$SSHD_PORT"
	port[tap_b]=$KB_PORT
	tap_b_pid=$KB_PID
	paths+=(tap_b)
fi
bench_start_socat "$SSHD_PORT"
port[socat]=$SOCAT_PORT
[ "$KB_FAILED" -eq 0 ] || kb_finish
read -r -a methods <<<"${BENCH_METHODS:-scp pipe}"
bytes=$((size_mib * 1048576))

bench_describe_machine
[ -n "${port[tap_b]:-}" ] && printf 'kexbridge tap_b: %s\n' "$BENCH_KEXBRIDGE_B"
printf 'transfer: %d MiB, %d rounds, cipher %s\n\n' "$size_mib" "$rounds" \
    "${BENCH_CIPHER:-default}"

# Random data, so nothing on the way can compress it. It is read once
# first so that every run finds it in the page cache.
head -c "$bytes" /dev/urandom >"$KB_TMP/data"
cat "$KB_TMP/data" >/dev/null

# Copies the file with method $1 to path $2 and prints MiB/s.
transfer() {
	local method=$1 p=${port[$2]} t0 t1

	t0=$(bench_now_ns)
	case $method in
	scp)
		bench_openssh scp -O -q -P "$p" "$KB_TMP/data" \
		    "$KB_USER@127.0.0.1:bench.dat" </dev/null
		;;
	pipe)
		bench_openssh ssh -p "$p" "$KB_USER@127.0.0.1" 'cat > /dev/null' \
		    <"$KB_TMP/data"
		;;
	esac
	t1=$(bench_now_ns)
	[ "$method" = scp ] && rm -f "$KB_HOME/bench.dat"
	awk -v b="$bytes" -v ns=$((t1 - t0)) \
	    'BEGIN { printf "%.1f\n", b / 1048576 / (ns / 1e9) }'
}

declare -A results=()
cpu_before=$(bench_cpu_seconds "$tap_pid")
[ -n "${port[tap_b]:-}" ] && cpu_b_before=$(bench_cpu_seconds "$tap_b_pid")
socat_before=$(bench_children_cpu_seconds "$SOCAT_PID")
tap_bytes=0
tap_b_bytes=0
socat_bytes=0
for r in $(seq 1 "$rounds"); do
	for m in "${methods[@]}"; do
		for p in "${paths[@]}"; do
			if ! mibs=$(transfer "$m" "$p"); then
				kb_fail "round $r: $m over $p failed"
				continue
			fi
			results[$m.$p]+="$mibs "
			[ "$p" = tap ] && tap_bytes=$((tap_bytes + bytes))
			[ "$p" = tap_b ] && tap_b_bytes=$((tap_b_bytes + bytes))
			[ "$p" = socat ] && socat_bytes=$((socat_bytes + bytes))
			printf 'round %d  %-4s %-6s %8s MiB/s\n' "$r" "$m" "$p" "$mibs"
		done
	done
done
cpu_after=$(bench_cpu_seconds "$tap_pid")
[ -n "${port[tap_b]:-}" ] && cpu_b_after=$(bench_cpu_seconds "$tap_b_pid")
# socat reaps each child when its connection ends, so this is complete.
sleep 1
socat_after=$(bench_children_cpu_seconds "$SOCAT_PID")

printf '\nmedian MiB/s over %d rounds\n' "$rounds"
printf '%-6s %9s %9s %9s %10s %10s\n' method direct tap socat tap/direct tap/socat
for m in "${methods[@]}"; do
	declare -A med=()
	for p in "${paths[@]}"; do
		med[$p]=$(tr ' ' '\n' <<<"${results[$m.$p]:-}" | grep . | bench_median)
	done
	printf '%-6s %9s %9s %9s %10s %10s\n' "$m" "${med[direct]}" "${med[tap]}" \
	    "${med[socat]}" "$(bench_ratio "${med[tap]}" "${med[direct]}")" \
	    "$(bench_ratio "${med[tap]}" "${med[socat]}")"
	if [ -n "${port[tap_b]:-}" ]; then
		printf '%-6s tap_b %s MiB/s, tap_b/direct %s, tap_b/tap %s\n' "$m" \
		    "${med[tap_b]}" "$(bench_ratio "${med[tap_b]}" "${med[direct]}")" \
		    "$(bench_ratio "${med[tap_b]}" "${med[tap]}")"
	fi
	unset med
done
# Prints "S s for N MiB (S s per GiB)" for CPU seconds $1 to $2 over $3 bytes.
cpu_line() {
	awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {
		printf "%.2f s for %d MiB (%.2f s per GiB)\n", b - a, n / 1048576,
		    (b - a) / (n / 1073741824) }'
}
echo
if [ "$tap_bytes" -gt 0 ]; then
	printf 'CPU time of kexbridge (tap): %s' "$(cpu_line "$cpu_before" "$cpu_after" "$tap_bytes")"
	echo
fi
if [ "$tap_b_bytes" -gt 0 ]; then
	printf 'CPU time of kexbridge (tap_b): %s' \
	    "$(cpu_line "$cpu_b_before" "$cpu_b_after" "$tap_b_bytes")"
	echo
fi
if [ "$socat_bytes" -gt 0 ]; then
	printf 'CPU time of socat children: %s' \
	    "$(cpu_line "$socat_before" "$socat_after" "$socat_bytes")"
	echo
fi
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
kb_finish
