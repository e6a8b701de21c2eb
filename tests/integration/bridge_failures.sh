#!/usr/bin/env bash
# Failures through a bridge route reach the client as failures, with a clear
# message, and are logged without secrets:
#   - a wrong password: authentication fails, the log names the user and
#     the outcome;
#   - an unreachable upstream (closed port): an English SSH_MSG_DISCONNECT
#     text with the cause, and a warn-level log line;
#   - a changed upstream host key under hostkey-policy strict: refused, and
#     an error-level log line shows both fingerprints (the matching key is
#     accepted);
#   - the upstream sshd session killed during a 200 MiB upload;
#   - a full disk upstream (a 2 MiB tmpfs): scp and sftp report the error;
#   - shells, PTYs, other commands and port forwarding are rejected;
#   - the "none" authentication method never succeeds.
# No log or client output may contain a password.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sftp sshd ssh-keygen sha256sum pgrep mount umount
PEER="$KB_SRCDIR/tests/integration/paramiko_peer.py"

kb_make_account
kb_start_sshd legacy
kb_start_bridge bridge "$SSHD_PORT"
port=$KB_PORT
log=$KB_LOG
bridge_pid=$KB_PID
dest="$KB_USER@127.0.0.1"
head -c 65536 /dev/urandom >"$KB_TMP/small"

# Runs an FI-restricted OpenSSH client ($1) against bridge port $2; stderr
# goes to $KB_TMP/client.err. Sets rc.
client() {
	local prog=$1 p=$2

	shift 2
	rc=0
	kb_openssh "$prog" "${KB_FI_OPTS[@]}" -P "$p" "$@" 2>"$KB_TMP/client.err" || rc=$?
}

client_err() { grep -v '^debug' "$KB_TMP/client.err" | head -c 500 | tr '\n' ' '; }

# Checks that the last client run failed.
assert_failed() {
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
		kb_pass "$1: the client exited $rc"
	elif [ "$rc" -eq 124 ]; then
		kb_fail "$1: the client hung until its time limit"
	else
		kb_fail "$1: the client exited 0"
	fi
}

# Prints the session_record line that follows the session_start of the
# last session in log $1 (waits up to 15 s).
last_record() {
	local log=$1 n

	n=$(kb_json count "$log" session_start)
	kb_record_n "$log" "$n"
}

# --- Wrong password -------------------------------------------------------
wrong="$KB_TMP/wrong-password"
(umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20 >"$wrong")
printf '#!/bin/sh\nexec cat %q\n' "$wrong" >"$KB_TMP/wrong-askpass.sh"
chmod 700 "$KB_TMP/wrong-askpass.sh"
KB_ASKPASS="$KB_TMP/wrong-askpass.sh" client scp "$port" -O "$KB_TMP/small" "$dest:wrong"
assert_failed "wrong password"
kb_assert_match "$(client_err)" 'permission denied' "wrong password: the client reports it ($(client_err))"
[ -e "$KB_HOME/wrong" ] && kb_fail "wrong password: the file was written anyway"
kb_wait_log "$log" "authentication of user $KB_USER failed" 10 || true
kb_assert_match "$(grep -F "$KB_USER" "$log" | grep -i 'fail' | head -n 3)" \
    "user $KB_USER failed" "wrong password: the log names the user and the failure"
kb_assert_record "$(last_record "$log")" "wrong password" "user=$KB_USER" exit=nonzero \
    auth=failed

# --- Upstream unreachable -------------------------------------------------
closed=$(kb_free_port)
kb_start_bridge unreachable "$closed"
client scp "$KB_PORT" -O "$KB_TMP/small" "$dest:unreachable"
assert_failed "unreachable upstream"
kb_assert_match "$(client_err)" "disconnect.*(upstream|127\\.0\\.0\\.1:$closed)" \
    "unreachable upstream: the client shows the disconnect text ($(client_err))"
kb_assert_match "$(client_err)" "disconnect.*cannot connect to 127\\.0\\.0\\.1 port $closed: Connection refused" \
    "unreachable upstream: the disconnect text has the cause in English"
kb_assert_match "$(grep -F "127.0.0.1:$closed" "$KB_LOG" | grep -iv 'listening on' | head -n 3)" \
    'cannot connect|connection refused' "unreachable upstream: the log says why"
kb_assert_match "$(grep -F 'failed before login' "$KB_LOG" || true)" '"level":"warn"' \
    "unreachable upstream: the failure is logged at warn level"
kb_assert_record "$(last_record "$KB_LOG")" "unreachable upstream" auth=none \
    reason=upstream_failed closed_by=server

# --- Upstream host key changed (strict) -----------------------------------
server_pub="$KB_TMP/sshd-legacy/host_rsa.pub"
ssh-keygen -q -t rsa -b 2048 -N '' -f "$KB_TMP/other_rsa" </dev/null
server_fp=$(ssh-keygen -lf "$server_pub" -E sha256 | cut -d' ' -f2)
other_fp=$(ssh-keygen -lf "$KB_TMP/other_rsa.pub" -E sha256 | cut -d' ' -f2)
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$KB_TMP/other_rsa.pub")" \
    >"$KB_TMP/known_hosts.changed"
printf '[127.0.0.1]:%s %s\n' "$SSHD_PORT" "$(cut -d' ' -f1,2 "$server_pub")" \
    >"$KB_TMP/known_hosts.good"

kb_start_bridge strict-good "$SSHD_PORT" --hostkey-policy strict \
    --known-hosts "$KB_TMP/known_hosts.good"
client scp "$KB_PORT" -O "$KB_TMP/small" "$dest:strict-good"
kb_assert_eq "$rc" 0 "strict policy, known key: the upload succeeds ($(client_err))"
kb_assert_same_file "$KB_TMP/small" "$KB_HOME/strict-good" "strict policy, known key"
kb_assert_record "$(last_record "$KB_LOG")" "strict policy, known key" auth=ok exit=0 \
    auth_method=password

kb_start_bridge strict-changed "$SSHD_PORT" --hostkey-policy strict \
    --known-hosts "$KB_TMP/known_hosts.changed"
client scp "$KB_PORT" -O "$KB_TMP/small" "$dest:strict-changed"
assert_failed "changed host key"
[ -e "$KB_HOME/strict-changed" ] && kb_fail "changed host key: the file was written anyway"
kb_assert_match "$(client_err)" 'disconnect.*host key verification failed' \
    "changed host key: the client is told ($(client_err))"
kb_assert_no_match "$(client_err)" 'known_hosts|SHA256:' \
    "changed host key: the client sees no local path and no fingerprint"
kb_assert_match "$(grep -F "$server_fp" "$KB_LOG" || true)" "${other_fp//+/\\+}" \
    "changed host key: one log line has both $server_fp (server) and $other_fp (known)"
kb_assert_match "$(grep -F "$server_fp" "$KB_LOG" | grep -F "$other_fp" || true)" \
    '"level":"error"' "changed host key: the refusal is logged at error level"
kb_assert_eq "$(cat "$KB_TMP/known_hosts.changed")" \
    "[127.0.0.1]:$SSHD_PORT $(cut -d' ' -f1,2 "$KB_TMP/other_rsa.pub")" \
    "changed host key: known_hosts is left as it was"

# --- Upstream killed mid-transfer -----------------------------------------
kb_start_sshd legacy sshd-kill
kill_sshd_pid=$(cat "$KB_TMP/sshd-kill/sshd.pid")
kb_start_bridge kill "$SSHD_PORT"
kill_log=$KB_LOG
head -c $((200 * 1048576)) /dev/urandom >"$KB_TMP/big"
(
	rc=0
	kb_openssh_within 120 scp -O "${KB_FI_OPTS[@]}" -P "$KB_PORT" "$KB_TMP/big" \
	    "$dest:up-killed" 2>"$KB_TMP/killed.err" || rc=$?
	echo "$rc" >"$KB_TMP/killed.rc"
) &
scp_job=$!
KB_PIDS+=("$scp_job")
deadline=$((SECONDS + 30))
until [ "$(stat -c %s "$KB_HOME/up-killed" 2>/dev/null || echo 0)" -gt $((8 * 1048576)) ]; do
	[ "$SECONDS" -ge "$deadline" ] && break
	sleep 0.05
done
got=$(stat -c %s "$KB_HOME/up-killed" 2>/dev/null || echo 0)
victims=$(kb_descendants "$kill_sshd_pid" | tr '\n' ' ')
kb_say "upstream killed after $got of $((200 * 1048576)) bytes; sshd processes: $victims"
if [ -n "$victims" ]; then
	# shellcheck disable=SC2086 # one pid per word
	kill -KILL $victims 2>/dev/null || true
else
	kb_fail "killed upstream: no sshd session process found"
fi
kb_wait_exit "$scp_job" 60 || kb_fail "killed upstream: scp still runs 60 s after the kill"
kill_rc=$(cat "$KB_TMP/killed.rc" 2>/dev/null || echo missing)
if [ "$kill_rc" != 0 ] && [ "$kill_rc" != 124 ] && [ "$kill_rc" != missing ]; then
	kb_pass "killed upstream: scp exited $kill_rc ($(head -c 300 "$KB_TMP/killed.err" | tr '\n' ' '))"
else
	kb_fail "killed upstream: scp exit status $kill_rc, expected a failure"
fi
kb_assert_record "$(last_record "$kill_log")" "killed upstream" exit=nonzero
rm -f "$KB_TMP/big"

# --- Disk full upstream ---------------------------------------------------
kb_mount_tmpfs "$KB_TMP/full" 2m "$KB_USER" || kb_fail "cannot mount a 2 MiB tmpfs on $KB_TMP/full"
head -c $((5 * 1048576)) /dev/urandom >"$KB_TMP/five"
client scp "$port" -O "$KB_TMP/five" "$dest:$KB_TMP/full/five-scp"
assert_failed "disk full, scp -O"
kb_assert_match "$(client_err)" 'no space left' "disk full, scp -O: the client shows the error"
kb_assert_record "$(last_record "$log")" "disk full, scp -O" exit=nonzero
rm -f "$KB_TMP/full/five-scp"
printf 'put %s %s/full/five-sftp\n' "$KB_TMP/five" "$KB_TMP" >"$KB_TMP/full.batch"
client sftp "$port" -b "$KB_TMP/full.batch" "$dest"
assert_failed "disk full, sftp put"
kb_assert_match "$(client_err)" 'no space|failure|write' "disk full, sftp put: the client shows the error"

# --- Shells, PTYs, other commands, forwarding -----------------------------
refused_before=$(grep -c 'refused by policy' "$log" || true)
out=$(kb_openssh ssh "${KB_FI_OPTS[@]}" -p "$port" -tt "$dest" 2>"$KB_TMP/client.err") && rc=0 || rc=$?
assert_failed "interactive shell with a PTY"
kb_assert_match "$(client_err)" 'PTY allocation request failed|shell request failed|failed' \
    "interactive shell with a PTY: the client is told"
for cmd in id 'scp -t . ; id' 'sh -c id'; do
	out=$(kb_openssh ssh "${KB_FI_OPTS[@]}" -p "$port" "$dest" "$cmd" 2>"$KB_TMP/client.err") &&
	    rc=0 || rc=$?
	assert_failed "exec '$cmd'"
	if grep -q 'uid=' <<<"$out"; then
		kb_fail "exec '$cmd': the command ran: $out"
	fi
done

# Local forwarding: the tunnel must not reach the sshd behind it.
fwd_port=$(kb_free_port)
kb_openssh_within 30 ssh "${KB_FI_OPTS[@]}" -p "$port" -N \
    -L "127.0.0.1:$fwd_port:127.0.0.1:$SSHD_PORT" "$dest" 2>"$KB_TMP/forward.err" &
fwd_job=$!
KB_PIDS+=("$fwd_job")
if kb_wait_port "$fwd_port" 15; then
	banner=$("$KB_PY" -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:
    print(s.recv(64).decode("ascii", "replace").strip())
except OSError:
    pass' "$fwd_port" 2>/dev/null || true)
	if grep -q '^SSH-' <<<"$banner"; then
		kb_fail "ssh -L: the forwarded connection reached the sshd ($banner)"
	else
		kb_pass "ssh -L: the forwarded connection got no data ('$banner')"
	fi
else
	kb_fail "ssh -L: the client did not listen on $fwd_port: $(head -c 300 "$KB_TMP/forward.err")"
fi
for pid in $(kb_descendants "$fwd_job") "$fwd_job"; do
	kill "$pid" 2>/dev/null || true
done

# Remote forwarding: ExitOnForwardFailure makes ssh exit when it is refused.
rc=0
kb_openssh_within 20 ssh "${KB_FI_OPTS[@]}" -p "$port" -N -o ExitOnForwardFailure=yes \
    -R "127.0.0.1:0:127.0.0.1:$SSHD_PORT" "$dest" 2>"$KB_TMP/client.err" || rc=$?
assert_failed "ssh -R"
kb_assert_match "$(client_err)" 'forwarding failed' "ssh -R: the client is told ($(client_err))"

refused_after=$(grep -c 'refused by policy' "$log" || true)
if [ "$refused_after" -gt "$refused_before" ]; then
	kb_pass "the log has $((refused_after - refused_before)) 'refused by policy' line(s)"
else
	kb_fail "the log has no 'refused by policy' line for the rejected requests"
fi

# --- The "none" authentication method -------------------------------------
if out=$(timeout 30 "$KB_PY" "$PEER" none-auth "$port" "$KB_USER" 2>"$KB_TMP/none.err"); then
	kb_pass "none authentication: $out"
	if grep -Eq 'lists: (.*,)?none(,|$)' <<<"$out"; then
		kb_fail "none authentication: the server lists none as a method"
	fi
else
	kb_fail "none authentication: $out $(tail -n 2 "$KB_TMP/none.err" | tr '\n' ' ')"
fi

kb_assert_alive "$bridge_pid" "kexbridge still runs after every failure"

# --- No password anywhere -------------------------------------------------
mapfile -t logs < <(find "$KB_TMP" -maxdepth 2 -type f \( -name '*.log' -o -name '*.err' \))
kb_assert_no_password "${logs[@]}"
KB_SECRET_FILE=$wrong kb_assert_no_password "${logs[@]}"

kb_finish
