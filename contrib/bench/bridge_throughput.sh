#!/usr/bin/env bash
# Measures the upload throughput of kexbridge bridge mode against the two
# direct connections it replaces, side by side in one run, on loopback:
#   bridge   an OpenSSH client restricted to the FI 4.0(2a)+ offer, through
#            kexbridge to a legacy-only sshd
#   legacy   an OpenSSH client straight to the same legacy sshd, with the
#            key exchange, cipher and MAC that kexbridge's upstream side
#            agreed (read from the session_record of a bridged probe copy)
#   modern   an OpenSSH client straight to a default sshd, with the FI
#            algorithms (aes128-ctr, hmac-sha2-256)
# Two transfer methods:
#   null     scp -O FILE HOST:/dev/null, which keeps disk writes out. The
#            usual `ssh HOST 'cat > /dev/null'` pipe cannot be used because
#            bridge mode accepts only scp and sftp commands.
#   scp      scp -O into the account's home folder
# The runs interleave (bridge, legacy, modern, bridge, ...) for BENCH_ROUNDS
# rounds. Prints the median MiB/s per path and method and the ratio
# bridge / slower of legacy and modern (aim: 0.9). Nothing is asserted:
# the script exits 0 when every transfer worked.
#
# BENCH_KEXBRIDGE_B names a second kexbridge binary. It gets a bridge route
# of its own to the same legacy sshd and is measured as path bridge_b in
# the same rounds, right after bridge. A change is thus compared with the
# build before it under the same load. The script then also prints
# bridge_b / bridge per method and the CPU time of each binary.
#
# Environment: KEXBRIDGE (default build/kexbridge), BENCH_KEXBRIDGE_B
# (unset), BENCH_SIZE_MIB (512), BENCH_ROUNDS (5), BENCH_METHODS (default
# "null scp").
# Needs root, like the integration tests (throwaway account, sshd).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=bridge_lib.sh
. "$(dirname "$0")/bridge_lib.sh"

size_mib=${BENCH_SIZE_MIB:-512}
rounds=${BENCH_ROUNDS:-5}
paths=(bridge legacy modern)
read -r -a methods <<<"${BENCH_METHODS:-null scp}"
bytes=$((size_mib * 1048576))

kb_require ssh scp sshd ssh-keygen
kb_make_account
bridge_start_all
[ "$KB_FAILED" -eq 0 ] || kb_finish
bridge_read_upstream_algorithms
[ "$KB_FAILED" -eq 0 ] || kb_finish
if [ -n "$BRIDGE_B_PORT" ]; then
	paths=(bridge bridge_b legacy modern)
fi

bench_describe_machine
printf 'transfer: %d MiB, %d rounds\n' "$size_mib" "$rounds"
printf 'bridge client side: %s\n' "$BRIDGE_CLIENT_ALGORITHMS"
printf 'bridge upstream side (and the legacy path): %s\n' "$BRIDGE_UPSTREAM_ALGORITHMS"
printf 'modern path: %s\n' "${BRIDGE_FI_OPTS[*]}"
[ -n "$BRIDGE_B_PORT" ] && printf 'kexbridge bridge: %s\nkexbridge bridge_b: %s\n' \
    "$KEXBRIDGE" "$BENCH_KEXBRIDGE_B"
echo

# Random data, so nothing on the way can compress it, read once so every
# run finds it in the page cache.
head -c "$bytes" /dev/urandom >"$KB_TMP/data"
cat "$KB_TMP/data" >/dev/null

# Copies the file with method $1 over path $2 and prints MiB/s.
transfer() {
	local method=$1 path=$2 target=/dev/null t0 t1
	local -a args

	mapfile -t args < <(bridge_path_args "$path" -P)
	[ "$method" = scp ] && target=bench.dat
	t0=$(bench_now_ns)
	bench_openssh scp -O -q "${args[@]}" "$KB_TMP/data" \
	    "$KB_USER@127.0.0.1:$target" </dev/null || return 1
	t1=$(bench_now_ns)
	rm -f "$KB_HOME/bench.dat"
	bridge_mibs "$bytes" $((t1 - t0))
}

declare -A results=() bridged_bytes=([bridge]=0 [bridge_b]=0) cpu_before=() cpu_after=()
cpu_before[bridge]=$(bench_cpu_seconds "$BRIDGE_PID")
[ -n "$BRIDGE_B_PID" ] && cpu_before[bridge_b]=$(bench_cpu_seconds "$BRIDGE_B_PID")
for r in $(seq 1 "$rounds"); do
	for m in "${methods[@]}"; do
		for p in "${paths[@]}"; do
			if ! mibs=$(transfer "$m" "$p"); then
				kb_fail "round $r: $m over $p failed"
				continue
			fi
			results[$m.$p]+="$mibs "
			case $p in
			bridge*) bridged_bytes[$p]=$((bridged_bytes[$p] + bytes)) ;;
			esac
			printf 'round %d  %-4s %-6s %8s MiB/s\n' "$r" "$m" "$p" "$mibs"
		done
	done
done
cpu_after[bridge]=$(bench_cpu_seconds "$BRIDGE_PID")
[ -n "$BRIDGE_B_PID" ] && cpu_after[bridge_b]=$(bench_cpu_seconds "$BRIDGE_B_PID")

printf '\nmedian MiB/s over %d rounds\n' "$rounds"
printf '%-6s %9s %9s %9s %22s\n' method bridge legacy modern 'bridge/slower direct'
for m in "${methods[@]}"; do
	declare -A med=()
	for p in "${paths[@]}"; do
		med[$p]=$(bridge_median_of "${results[$m.$p]:-}")
	done
	printf '%-6s %9s %9s %9s %22s\n' "$m" "${med[bridge]}" "${med[legacy]}" \
	    "${med[modern]}" "$(bench_ratio "${med[bridge]}" \
	    "$(bridge_min "${med[legacy]}" "${med[modern]}")")"
	if [ -n "$BRIDGE_B_PORT" ]; then
		printf '%-6s bridge_b %s MiB/s, bridge_b/slower direct %s, bridge_b/bridge %s\n' \
		    "$m" "${med[bridge_b]}" "$(bench_ratio "${med[bridge_b]}" \
		    "$(bridge_min "${med[legacy]}" "${med[modern]}")")" \
		    "$(bench_ratio "${med[bridge_b]}" "${med[bridge]}")"
	fi
	unset med
done
echo
for p in bridge bridge_b; do
	[ "${bridged_bytes[$p]}" -gt 0 ] || continue
	awk -v p="$p" -v a="${cpu_before[$p]}" -v b="${cpu_after[$p]}" \
	    -v n="${bridged_bytes[$p]}" 'BEGIN {
		printf "CPU time of kexbridge (%s): %.2f s for %d MiB (%.2f s per GiB)\n",
		    p, b - a, n / 1048576, (b - a) / (n / 1073741824) }'
done
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
kb_finish
