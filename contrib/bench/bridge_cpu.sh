#!/usr/bin/env bash
# Measures the CPU time that kexbridge bridge mode spends per GiB uploaded,
# against the two OpenSSH ends it replaces, on loopback:
#   kexbridge    utime + stime of the kexbridge process (/proc/PID/stat)
#                across an scp -O upload to /dev/null from an FI-restricted
#                client through the bridge to a legacy-only sshd
#   sshd-FI      the sshd processes that serve a direct upload with the FI
#                algorithms (aes128-ctr, hmac-sha2-256), sampled from
#                /proc every 0.1 s while they run, so the last 0.1 s of
#                each process may be missing (an estimate, low by at most
#                that)
#   ssh-legacy   the ssh client process of a direct upload to the legacy
#                sshd with the algorithms kexbridge's upstream side agreed,
#                measured with /usr/bin/time
# The direct uploads use `ssh HOST 'cat > /dev/null' < FILE`, so only the
# SSH work counts. The three runs interleave for BENCH_ROUNDS rounds.
# Prints the median CPU seconds per GiB of each and the ratio
# kexbridge / (sshd-FI + ssh-legacy) (aim: 1.2). Nothing is asserted.
#
# BENCH_KEXBRIDGE_B names a second kexbridge binary. It gets a bridge route
# of its own and is measured as kexbridge_b in the same rounds, right after
# kexbridge, with its own ratio and kexbridge_b / kexbridge.
#
# Environment: KEXBRIDGE (default build/kexbridge), BENCH_KEXBRIDGE_B
# (unset), BENCH_SIZE_MIB (512), BENCH_ROUNDS (5).
# Needs root, like the integration tests (throwaway account, sshd).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=bridge_lib.sh
. "$(dirname "$0")/bridge_lib.sh"

size_mib=${BENCH_SIZE_MIB:-512}
rounds=${BENCH_ROUNDS:-5}
bytes=$((size_mib * 1048576))
hz=$(getconf CLK_TCK)

kb_require ssh scp sshd ssh-keygen pgrep /usr/bin/time
kb_make_account
bridge_start_all
[ "$KB_FAILED" -eq 0 ] || kb_finish
bridge_read_upstream_algorithms
[ "$KB_FAILED" -eq 0 ] || kb_finish

bench_describe_machine
printf 'transfer: %d MiB, %d rounds\n' "$size_mib" "$rounds"
printf 'bridge client side: %s\n' "$BRIDGE_CLIENT_ALGORITHMS"
printf 'bridge upstream side (and ssh-legacy): %s\n' "$BRIDGE_UPSTREAM_ALGORITHMS"
[ -n "$BRIDGE_B_PORT" ] && printf 'kexbridge: %s\nkexbridge_b: %s\n' \
    "$KEXBRIDGE" "$BENCH_KEXBRIDGE_B"
echo

head -c "$bytes" /dev/urandom >"$KB_TMP/data"
cat "$KB_TMP/data" >/dev/null

# Prints the CPU seconds of $1 bytes scaled to one GiB, from a tick count $2.
per_gib() {
	awk -v t="$2" -v hz="$hz" -v n="$1" \
	    'BEGIN { printf "%.2f\n", t / hz / (n / 1073741824) }'
}

# Prints fields $1 and $1 + 1 of /proc/$2/stat summed (14: utime + stime)
# in clock ticks.
ticks() { awk -v f="$1" '{ print $f + $(f + 1) }' "/proc/$2/stat"; }

# Prints user + system seconds from a /usr/bin/time -f '%U %S' report $1.
time_report() { awk 'NF == 2 { print $1 + $2 }' "$1"; }


# Uploads through the bridge process $1 listening on port $2.
run_bridge() {
	local before after

	before=$(ticks 14 "$1")
	bench_openssh scp -O -q "${KB_FI_OPTS[@]}" -P "$2" \
	    "$KB_TMP/data" "$KB_USER@127.0.0.1:/dev/null" </dev/null || return 1
	after=$(ticks 14 "$1")
	per_gib "$bytes" $((after - before))
}

# Samples, every 0.1 s until stopped, the utime + stime in clock ticks of
# every sshd process below the listener $1, as "PID TICKS" lines in $2.
# The sshd listener does not add its session processes to its children's
# CPU time, so they are sampled while they run.
sample_sshd() {
	local pid

	while :; do
		for pid in $(kb_descendants "$1"); do
			awk '$2 == "(sshd)" { print $1, $14 + $15 }' \
			    "/proc/$pid/stat" 2>/dev/null || true
		done >>"$2"
		sleep 0.1
	done
}

run_sshd_fi() {
	local sampler

	: >"$KB_TMP/sshd.samples"
	sample_sshd "$MODERN_PID" "$KB_TMP/sshd.samples" &
	sampler=$!
	bench_openssh ssh "${BRIDGE_FI_OPTS[@]}" -p "$MODERN_PORT" \
	    "$KB_USER@127.0.0.1" 'cat > /dev/null' <"$KB_TMP/data" ||
	    { kill "$sampler"; return 1; }
	kill "$sampler"
	wait "$sampler" 2>/dev/null || true
	# The last sample of each process, summed.
	per_gib "$bytes" "$(awk '{ t[$1] = $2 } END { for (p in t) s += t[p]; print s + 0 }' \
	    "$KB_TMP/sshd.samples")"
}

run_ssh_legacy() {
	SSH_ASKPASS="$KB_ASKPASS" "${BENCH_SSH_ENV[@]}" /usr/bin/time \
	    -f '%U %S' -o "$KB_TMP/client.time" ssh "${BENCH_SSH_ARGS[@]}" \
	    "${BRIDGE_LEGACY_OPTS[@]}" -p "$LEGACY_PORT" "$KB_USER@127.0.0.1" \
	    'cat > /dev/null' <"$KB_TMP/data" || return 1
	awk -v s="$(time_report "$KB_TMP/client.time")" -v n="$bytes" \
	    'BEGIN { printf "%.2f\n", s / (n / 1073741824) }'
}

# Runs the transfer for measurement $1 and prints CPU seconds per GiB.
run_kind() {
	case $1 in
	kexbridge) run_bridge "$BRIDGE_PID" "$BRIDGE_PORT" ;;
	kexbridge_b) run_bridge "$BRIDGE_B_PID" "$BRIDGE_B_PORT" ;;
	sshd-FI) run_sshd_fi ;;
	ssh-legacy) run_ssh_legacy ;;
	esac
}

kinds=(kexbridge sshd-FI ssh-legacy)
[ -n "$BRIDGE_B_PORT" ] && kinds=(kexbridge kexbridge_b sshd-FI ssh-legacy)
declare -A results=()
for r in $(seq 1 "$rounds"); do
	for k in "${kinds[@]}"; do
		if ! s=$(run_kind "$k"); then
			kb_fail "round $r: $k transfer failed"
			continue
		fi
		results[$k]+="$s "
		printf 'round %d  %-10s %6s CPU s per GiB\n' "$r" "$k" "$s"
	done
done

declare -A med=()
for k in "${kinds[@]}"; do
	med[$k]=$(bridge_median_of "${results[$k]:-}")
done
ends=$(awk -v a="${med[sshd-FI]}" -v b="${med[ssh-legacy]}" 'BEGIN { print a + b }')
printf '\nmedian CPU seconds per GiB over %d rounds\n' "$rounds"
printf '%-26s %8s\n' kexbridge "${med[kexbridge]}" sshd-FI "${med[sshd-FI]}" \
    ssh-legacy "${med[ssh-legacy]}" 'sshd-FI + ssh-legacy' "$ends"
printf 'kexbridge / (sshd-FI + ssh-legacy): %s\n' \
    "$(bench_ratio "${med[kexbridge]}" "$ends")"
if [ -n "$BRIDGE_B_PORT" ]; then
	printf '%-26s %8s\n' kexbridge_b "${med[kexbridge_b]}"
	printf 'kexbridge_b / (sshd-FI + ssh-legacy): %s\n' \
	    "$(bench_ratio "${med[kexbridge_b]}" "$ends")"
	printf 'kexbridge_b / kexbridge: %s\n' \
	    "$(bench_ratio "${med[kexbridge_b]}" "${med[kexbridge]}")"
fi
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
kb_finish
