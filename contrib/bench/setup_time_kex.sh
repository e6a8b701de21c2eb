#!/usr/bin/env bash
# Measures the connection setup time that kexbridge bridge mode adds, per
# key exchange method on the client side, on loopback. For each method K
# in BENCH_KEX, an scp -O of a 0-byte file to /dev/null with
# `-o KexAlgorithms=K` and the FI cipher and MAC (aes128-ctr,
# hmac-sha2-256) runs
#   bridge   through kexbridge to a legacy-only sshd, so the time includes
#            kexbridge's own upstream connection (key exchange and
#            password authentication with libssh2)
#   direct   straight to an sshd with OpenSSH's default algorithms
# Bridge mode accepts only scp and sftp, so `ssh HOST true` cannot be used.
# One unmeasured copy per method and path comes first; a pair that fails
# there is reported as not negotiated and left out. Then BENCH_RUNS runs
# per pair, interleaved (for each run: every method, bridge then direct).
# Prints the median ms of each pair and the difference. Nothing is
# asserted.
#
# Environment: KEXBRIDGE (default build/kexbridge), BENCH_RUNS (10),
# BENCH_KEX (the six methods below, space-separated), BENCH_KEXBRIDGE_B
# (a second kexbridge binary, started as a second bridge route to the same
# legacy sshd and measured as path bridge_b in the same interleaved runs).
# Needs root, like the integration tests (throwaway account, sshd).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=bridge_lib.sh
. "$(dirname "$0")/bridge_lib.sh"

runs=${BENCH_RUNS:-10}
read -r -a kexes <<<"${BENCH_KEX:-curve25519-sha256 ecdh-sha2-nistp256 \
diffie-hellman-group-exchange-sha256 diffie-hellman-group16-sha512 \
diffie-hellman-group18-sha512 diffie-hellman-group14-sha256}"
paths=(bridge direct)

kb_require ssh scp sshd ssh-keygen
kb_make_account
bridge_start_all
[ "$KB_FAILED" -eq 0 ] || kb_finish
: >"$KB_TMP/empty"
declare -A port=([bridge]=$BRIDGE_PORT [direct]=$MODERN_PORT)
if [ -n "${BENCH_KEXBRIDGE_B:-}" ]; then
	KEXBRIDGE=$BENCH_KEXBRIDGE_B kb_start_bridge bridge_b "$LEGACY_PORT"
	port[bridge_b]=$KB_PORT
	paths=(bridge bridge_b direct)
	printf 'bridge: %s\nbridge_b: %s\n' "$KEXBRIDGE" "$BENCH_KEXBRIDGE_B"
fi

bench_describe_machine
printf 'runs: %d per method and path\n\n' "$runs"

# Copies the empty file over path $2 with key exchange $1 and prints ms.
connect() {
	local t0 t1

	t0=$(bench_now_ns)
	bench_openssh scp -O -q -o "KexAlgorithms=$1" -o Ciphers=aes128-ctr \
	    -o MACs=hmac-sha2-256 -P "${port[$2]}" "$KB_TMP/empty" \
	    "$KB_USER@127.0.0.1:/dev/null" </dev/null 2>>"$KB_TMP/client.log" ||
	    return 1
	t1=$(bench_now_ns)
	awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f\n", ns / 1e6 }'
}

declare -A results=() usable=()
for k in "${kexes[@]}"; do
	for p in "${paths[@]}"; do
		if connect "$k" "$p" >/dev/null; then
			usable[$k.$p]=1
		else
			printf '%s over %s: not negotiated (warm-up copy failed)\n' "$k" "$p"
		fi
	done
done
for r in $(seq 1 "$runs"); do
	for k in "${kexes[@]}"; do
		for p in "${paths[@]}"; do
			[ -n "${usable[$k.$p]:-}" ] || continue
			if ! ms=$(connect "$k" "$p"); then
				kb_fail "run $r: $k over $p failed"
				continue
			fi
			results[$k.$p]+="$ms "
		done
	done
	printf 'run %d of %d done\n' "$r" "$runs"
done

# Prints $1 - $2, or - when either is not a number.
difference() {
	awk -v b="$1" -v d="$2" 'BEGIN { if (b == "nan" || d == "nan") print "-"; else printf "%.1f\n", b - d }'
}

printf '\nmedian ms over %d runs\n' "$runs"
if [ -n "${port[bridge_b]:-}" ]; then
	printf '%-38s %9s %9s %9s %12s %12s\n' kex bridge bridge_b direct \
	    'bridge adds' 'bridge_b adds'
else
	printf '%-38s %9s %9s %12s\n' kex bridge direct 'bridge adds'
fi
for k in "${kexes[@]}"; do
	b=$(bridge_median_of "${results[$k.bridge]:-}")
	d=$(bridge_median_of "${results[$k.direct]:-}")
	if [ -n "${port[bridge_b]:-}" ]; then
		bb=$(bridge_median_of "${results[$k.bridge_b]:-}")
		printf '%-38s %9s %9s %9s %12s %12s\n' "$k" "$b" "$bb" "$d" \
		    "$(difference "$b" "$d")" "$(difference "$bb" "$d")"
	else
		printf '%-38s %9s %9s %12s\n' "$k" "$b" "$d" "$(difference "$b" "$d")"
	fi
done
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
kb_finish
