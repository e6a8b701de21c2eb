#!/usr/bin/env bash
# Measures the resident memory (VmRSS in /proc/PID/status) of one
# kexbridge bridge process, on loopback:
#   idle         listening, after one bridged probe copy
#   transfers    BENCH_SESSIONS concurrent scp -O uploads to /dev/null from
#                FI-restricted clients through the bridge to a legacy-only
#                sshd, each limited with scp -l so that all of them run at
#                once: VmRSS once every session is established, and the
#                highest VmRSS sampled every 50 ms while they run
#   after        when every upload has ended
# Prints each figure in KiB and the growth per session against idle.
# Nothing is asserted: the script exits 0 when every upload worked.
#
# Environment: KEXBRIDGE (default build/kexbridge), BENCH_SESSIONS (20),
# BENCH_SIZE_MIB (32, per upload), BENCH_LIMIT_KBIT (40000, scp -l per
# upload, in Kbit/s).
# Needs root, like the integration tests (throwaway account, sshd).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=bridge_lib.sh
. "$(dirname "$0")/bridge_lib.sh"

sessions=${BENCH_SESSIONS:-20}
size_mib=${BENCH_SIZE_MIB:-32}
limit=${BENCH_LIMIT_KBIT:-40000}

kb_require ssh scp sshd ssh-keygen
kb_make_account
bridge_start_all
[ "$KB_FAILED" -eq 0 ] || kb_finish
bridge_read_upstream_algorithms
[ "$KB_FAILED" -eq 0 ] || kb_finish

bench_describe_machine
printf 'sessions: %d, %d MiB each, limited to %d Kbit/s each\n\n' \
    "$sessions" "$size_mib" "$limit"
head -c $((size_mib * 1048576)) /dev/urandom >"$KB_TMP/data"

# Prints "LABEL RSS_KIB PER_SESSION_KIB". $3 is the session count, $4 the idle RSS.
report() {
	if [ "$3" -gt 0 ]; then
		printf '%-40s %10s %16s\n' "$1" "$2" \
		    "$(awk -v r="$2" -v i="$4" -v n="$3" 'BEGIN { printf "%.1f", (r - i) / n }')"
	else
		printf '%-40s %10s %16s\n' "$1" "$2" -
	fi
}

printf '%-40s %10s %16s\n' state 'VmRSS KiB' 'KiB per session'
idle=$(bench_vm_kib "$BRIDGE_PID" VmRSS)
report 'idle, after one probe copy' "$idle" 0 0

kb_rss_start "$BRIDGE_PID" "$KB_TMP/rss"
clients=()
for i in $(seq 1 "$sessions"); do
	bench_openssh scp -O -q -l "$limit" "${KB_FI_OPTS[@]}" -P "$BRIDGE_PORT" \
	    "$KB_TMP/data" "$KB_USER@127.0.0.1:/dev/null" </dev/null \
	    2>"$KB_TMP/client-$i.log" &
	clients+=("$!")
done
deadline=$((SECONDS + 60))
until [ "$(bench_established "$BRIDGE_PORT")" -ge "$sessions" ]; do
	if [ "$SECONDS" -ge "$deadline" ]; then
		kb_fail "only $(bench_established "$BRIDGE_PORT") of $sessions sessions connected"
		break
	fi
	sleep 0.2
done
# A session is established before authentication, so every session gets
# time to reach its data transfer.
sleep 3
during=$(bench_vm_kib "$BRIDGE_PID" VmRSS)
active=$(bench_established "$BRIDGE_PORT")
report "$active sessions transferring" "$during" "$active" "$idle"
for pid in "${clients[@]}"; do
	wait "$pid" || kb_fail "an upload exited with an error"
done
peak=$(kb_rss_stop "$KB_TMP/rss")
report "highest sample during the uploads" "$peak" "$sessions" "$idle"
report 'after the uploads' "$(bench_vm_kib "$BRIDGE_PID" VmRSS)" 0 0
report 'peak since start (VmHWM)' "$(bench_vm_kib "$BRIDGE_PID" VmHWM)" 0 0
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
kb_finish
