#!/usr/bin/env bash
# Measures the resident memory (VmRSS in /proc/PID/status) of one
# kexbridge tap process, on loopback:
#   idle         listening, no session
#   version      BENCH_SESSIONS connections that sent only an SSH version
#                line, to an upstream that sends a version line and then
#                waits, so the tap sessions stay in the version exchange
#   ssh          BENCH_SESSIONS real OpenSSH sessions through tap to sshd,
#                each running `sleep`, so the tap sessions have seen the key
#                exchange and relay an idle encrypted stream
#   transfer     the highest VmRSS sampled every 0.1 s while one
#                BENCH_SIZE_MIB pipe transfer (ssh HOST 'cat > /dev/null')
#                runs through tap, and VmHWM (peak RSS) after it
# Prints each figure in KiB and the growth per session against idle.
# Nothing is asserted: the script exits 0 when every step worked.
#
# Environment: KEXBRIDGE (default build/kexbridge), BENCH_SESSIONS (100),
# BENCH_SIZE_MIB (1024), BENCH_CIPHER (default: OpenSSH's choice).
# Needs root, like the integration tests (throwaway account, sshd).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

sessions=${BENCH_SESSIONS:-100}
size_mib=${BENCH_SIZE_MIB:-1024}

kb_require ssh sshd ssh-keygen
kb_make_account
kb_start_sshd default
[ "$KB_FAILED" -eq 0 ] || kb_finish

bench_describe_machine
printf 'sessions: %d, transfer: %d MiB\n\n' "$sessions" "$size_mib"

# Waits up to 60 s until port $1 has $2 established connections.
wait_sessions() {
	local deadline=$((SECONDS + 60))

	until [ "$(bench_established "$1")" -ge "$2" ]; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# Prints "LABEL RSS_KIB PER_SESSION_KIB" for the tap process. $2 is the
# session count and $3 the idle RSS.
report() {
	local rss

	rss=$(bench_vm_kib "$KB_PID" VmRSS)
	if [ "$2" -gt 0 ]; then
		printf '%-34s %10s %16s\n' "$1" "$rss" \
		    "$(awk -v r="$rss" -v i="$3" -v n="$2" 'BEGIN { printf "%.1f", (r - i) / n }')"
	else
		printf '%-34s %10s %16s\n' "$1" "$rss" -
	fi
}

printf '%-34s %10s %16s\n' state 'VmRSS KiB' 'KiB per session'

# 1. Version-only sessions, against a stand-in upstream that sends its
# version line and keeps every connection open until it is stopped.
cat >"$KB_TMP/holder.py" <<'PY'
import signal
import socket
import sys
import time

mode, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held = []
if mode == "upstream":
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(count + 16)
    while True:
        conn, _ = srv.accept()
        conn.sendall(b"SSH-2.0-BenchHolder\r\n")
        held.append(conn)
else:
    for _ in range(count):
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(b"SSH-2.0-BenchClient\r\n")
        held.append(conn)
    signal.pause()
PY
# Starts a tap route named $1 to 127.0.0.1:$2 from a file that lifts the
# per-source and startup limits, because every session comes from
# 127.0.0.1. Sets KB_PORT, KB_LOG and KB_PID.
start_tap_unlimited() {
	KB_PORT=$(kb_free_port)
	KB_LOG="$KB_TMP/$1.log"
	cat >"$KB_TMP/$1.conf" <<EOF
[global]
log_format = json

[route bench]
listen = 127.0.0.1:$KB_PORT
upstream = 127.0.0.1:$2
mode = tap
max_sessions = $((sessions + 10))
max_per_source = $((sessions + 10))
max_startups = $((sessions + 10))
EOF
	kb_start_kexbridge "$1" "$KB_PORT" -f "$KB_TMP/$1.conf"
}

holder_port=$(kb_free_port)
"$KB_PY" "$KB_TMP/holder.py" upstream "$holder_port" "$sessions" &
KB_PIDS+=("$!")
kb_wait_port "$holder_port" 10 || kb_finish
start_tap_unlimited tap-version "$holder_port" || kb_finish
sleep 1
idle=$(bench_vm_kib "$KB_PID" VmRSS)
report "idle" 0 "$idle"
"$KB_PY" "$KB_TMP/holder.py" client "$KB_PORT" "$sessions" &
clients=$!
KB_PIDS+=("$clients")
if wait_sessions "$KB_PORT" "$sessions"; then
	sleep 1
	report "$sessions version-only sessions" "$sessions" "$idle"
else
	kb_fail "only $(bench_established "$KB_PORT") of $sessions version-only sessions came up"
fi
kill "$clients" 2>/dev/null || true
kill "$KB_PID" 2>/dev/null || true
kb_wait_exit "$KB_PID" 10 || kb_fail "kexbridge did not stop on SIGTERM"

# 2. Real SSH sessions, opened one after another so sshd never has more
# unauthenticated connections than its MaxStartups allows.
start_tap_unlimited tap-ssh "$SSHD_PORT" || kb_finish
sleep 1
idle=$(bench_vm_kib "$KB_PID" VmRSS)
report "idle (second instance)" 0 "$idle"
ssh_pids=()
for i in $(seq 1 "$sessions"); do
	# -tt gives the session a terminal, so sshd hangs up on sleep when the
	# client goes away. Without a terminal, sleep would outlive the test.
	SSH_ASKPASS="$KB_ASKPASS" "${BENCH_SSH_ENV[@]}" ssh "${BENCH_SSH_ARGS[@]}" \
	    -tt -p "$KB_PORT" "$KB_USER@127.0.0.1" 'sleep 900' </dev/null >/dev/null 2>&1 &
	ssh_pids+=("$!")
	KB_PIDS+=("$!")
	# Waits until sshd has authenticated this session before the next.
	until [ "$(grep -c "Accepted password for $KB_USER" "$SSHD_LOG")" -ge "$i" ]; do
		kill -0 "${ssh_pids[-1]}" 2>/dev/null || { kb_fail "ssh session $i exited"; break 2; }
		sleep 0.05
	done
done
sleep 1
if [ "$(bench_established "$KB_PORT")" -ge "$sessions" ]; then
	report "$sessions idle ssh sessions" "$sessions" "$idle"
else
	kb_fail "only $(bench_established "$KB_PORT") of $sessions ssh sessions are open"
fi
for pid in "${ssh_pids[@]}"; do
	kill "$pid" 2>/dev/null || true
done
for pid in "${ssh_pids[@]}"; do
	kb_wait_exit "$pid" 10 || true
done

# 3. One large transfer, sampling VmRSS while it runs.
head -c $((size_mib * 1048576)) /dev/urandom >"$KB_TMP/data"
bench_openssh ssh -p "$KB_PORT" "$KB_USER@127.0.0.1" 'cat > /dev/null' \
    <"$KB_TMP/data" &
transfer=$!
max=0
while kill -0 "$transfer" 2>/dev/null; do
	rss=$(bench_vm_kib "$KB_PID" VmRSS)
	[ "${rss:-0}" -gt "$max" ] && max=$rss
	sleep 0.1
done
wait "$transfer" || kb_fail "the $size_mib MiB transfer through tap failed"
printf '%-34s %10s %16s\n' "during a $size_mib MiB transfer (max)" "$max" -
printf '%-34s %10s %16s\n' "peak since start (VmHWM)" "$(bench_vm_kib "$KB_PID" VmHWM)" -
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
kb_finish
