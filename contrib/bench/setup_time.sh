#!/usr/bin/env bash
# Measures the connection setup time that kexbridge tap adds, on loopback.
# It times `ssh HOST true` directly to an OpenSSH sshd and through a tap
# route to the same sshd. Each run covers the TCP connect, the version
# exchange, the key exchange, password authentication, one command and the
# close. The runs
# interleave (direct, tap, direct, ...) so a change in machine load hits
# both alike. Prints the median of each, the time tap adds and the ratio.
# Nothing is asserted: the script exits 0 when every connection worked.
#
# Environment: KEXBRIDGE (default build/kexbridge), BENCH_RUNS (20),
# BENCH_CIPHER (default: OpenSSH's choice).
# Needs root, like the integration tests (throwaway account, sshd).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

runs=${BENCH_RUNS:-20}

kb_require ssh sshd ssh-keygen
kb_make_account
kb_start_sshd default
kb_start_tap tap "$SSHD_PORT"
[ "$KB_FAILED" -eq 0 ] || kb_finish

declare -A port=([direct]=$SSHD_PORT [tap]=$KB_PORT) times=()
paths=(direct tap)

bench_describe_machine
printf 'connections: %d per path, interleaved\n\n' "$runs"

# Runs `ssh HOST true` over path $1 and prints the wall time in ms.
connect_once() {
	local t0 t1

	t0=$(bench_now_ns)
	bench_openssh ssh -p "${port[$1]}" "$KB_USER@127.0.0.1" true </dev/null
	t1=$(bench_now_ns)
	awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.1f\n", ns / 1e6 }'
}

# One unmeasured connection per path, so the first measured one does not
# pay for cold caches.
for p in "${paths[@]}"; do
	connect_once "$p" >/dev/null || kb_fail "warm-up over $p failed"
done

for r in $(seq 1 "$runs"); do
	for p in "${paths[@]}"; do
		if ! ms=$(connect_once "$p"); then
			kb_fail "run $r over $p failed"
			continue
		fi
		times[$p]+="$ms "
	done
done

direct=$(tr ' ' '\n' <<<"${times[direct]:-}" | grep . | bench_median)
tap=$(tr ' ' '\n' <<<"${times[tap]:-}" | grep . | bench_median)
printf 'direct ms: %s\n' "${times[direct]:-}"
printf 'tap ms:    %s\n\n' "${times[tap]:-}"
printf '%-12s %10s\n' path 'median ms'
printf '%-12s %10s\n' direct "$direct" tap "$tap"
printf 'added by tap: %s ms (tap/direct %s)\n' \
    "$(awk -v a="$tap" -v b="$direct" 'BEGIN { printf "%.1f", a - b }')" \
    "$(bench_ratio "$tap" "$direct")"
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
kb_finish
