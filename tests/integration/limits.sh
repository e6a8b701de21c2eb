#!/usr/bin/env bash
# Connection limits on real connections: [global] max_sessions and, per
# route, max_sessions, max_per_source, max_startups, handshake_timeout and
# idle_timeout, in tap and bridge mode. Each limit must log a "limit" event
# with the limit, its value, the client address and the route, close the
# refused connection cleanly (EOF, not a reset), and leave the other sessions
# working.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sshd ssh-keygen
kb_make_account
kb_start_sshd default
dest="$KB_USER@127.0.0.1"
head -c 65536 /dev/urandom >"$KB_TMP/small"

# Holds $2 TCP connections to 127.0.0.1:$1 from source address $3 open
# without sending anything, until killed. Sets HOLD_PID.
hold() {
	"$KB_PY" -c '
import socket, sys, time
socks = []
for _ in range(int(sys.argv[2])):
    s = socket.socket()
    s.bind((sys.argv[3], 0))
    s.connect(("127.0.0.1", int(sys.argv[1])))
    socks.append(s)
    time.sleep(0.1)
time.sleep(120)
' "$1" "$2" "$3" &
	HOLD_PID=$!
	KB_PIDS+=("$HOLD_PID")
}

release() { kill "$HOLD_PID" 2>/dev/null || true; wait "$HOLD_PID" 2>/dev/null || true; }

# Connects to 127.0.0.1:$1 from $2 and prints how the connection ended:
# "closed" (EOF), "reset", or "open" when kexbridge kept it.
probe() {
	"$KB_PY" -c '
import socket, sys
s = socket.socket()
s.bind((sys.argv[2], 0))
s.settimeout(3)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"SSH-2.0-limits_test\r\n")
try:
    data = s.recv(4096)
    print("closed" if data == b"" else "open")
except ConnectionResetError:
    print("reset")
except socket.timeout:
    print("open")
' "$1" "$2"
}

# Checks that log $1 has a limit event for limit $2 with value $3 on route $4.
assert_limit() {
	local log=$1 limit=$2 value=$3 route=$4 line

	if ! kb_wait_events "$log" 1 10 limit "limit=$limit" "route=$route"; then
		kb_fail "$limit: no limit event on route $route"
		return
	fi
	line=$(kb_json select "$log" limit "limit=$limit" "route=$route" | tail -n 1)
	kb_assert_eq "$(kb_json get "$line" value)" "$value" "$limit: the event has the value"
	kb_assert_match "$(kb_json get "$line" client)" '^127\.0\.0\.[12]:[0-9]+$' \
	    "$limit: the event has the client address"
}

# Runs scp of the small file through port $1 from source address $2; $3 names it.
assert_scp_works() {
	local rc=0 name

	name="copy-$(printf '%s' "$3" | tr -c 'A-Za-z0-9' '-')"
	kb_openssh scp -O -P "$1" -o "BindAddress=$2" "$KB_TMP/small" "$dest:$name" \
	    2>"$KB_TMP/scp.err" || rc=$?
	if [ "$rc" -eq 0 ]; then
		kb_assert_same_file "$KB_TMP/small" "$KB_HOME/$name" "$3: scp still works"
	else
		kb_fail "$3: scp exited $rc: $(tail -n 2 "$KB_TMP/scp.err" | tr '\n' ' ')"
	fi
	rm -f "$KB_HOME/$name"
}

# --- Tap routes: one limit each, all in one process -----------------------
p_src=$(kb_free_port)
p_startup=$(kb_free_port)
p_sess=$(kb_free_port)
p_hs=$(kb_free_port)
p_idle=$(kb_free_port)
cat >"$KB_TMP/tap.conf" <<EOF
[global]
log_format = json
max_sessions = 100

[route persource]
listen = 127.0.0.1:$p_src
upstream = 127.0.0.1:$SSHD_PORT
max_per_source = 2

[route startups]
listen = 127.0.0.1:$p_startup
upstream = 127.0.0.1:$SSHD_PORT
max_startups = 2

[route sessions]
listen = 127.0.0.1:$p_sess
upstream = 127.0.0.1:$SSHD_PORT
max_sessions = 2

[route handshake]
listen = 127.0.0.1:$p_hs
upstream = 127.0.0.1:$SSHD_PORT
handshake_timeout = 2

[route idle]
listen = 127.0.0.1:$p_idle
upstream = 127.0.0.1:$SSHD_PORT
idle_timeout = 2
EOF
kb_start_kexbridge tap "$p_src" --config "$KB_TMP/tap.conf"
tap_pid=$KB_PID
log="$KB_TMP/tap.log"

# max_per_source: a third connection from 127.0.0.1 is closed, 127.0.0.2 may connect.
hold "$p_src" 2 127.0.0.1
kb_wait_events "$log" 2 10 session_start route=persource || kb_fail "held sessions did not start"
kb_assert_eq "$(probe "$p_src" 127.0.0.1)" closed "max_per_source: the third connection is closed"
assert_limit "$log" max_per_source 2 persource
assert_scp_works "$p_src" 127.0.0.2 "max_per_source, another source"
release

# max_startups: sessions that have not finished the handshake.
hold "$p_startup" 2 127.0.0.1
kb_wait_events "$log" 2 10 session_start route=startups || kb_fail "held sessions did not start"
kb_assert_eq "$(probe "$p_startup" 127.0.0.2)" closed "max_startups: a third connection is closed"
assert_limit "$log" max_startups 2 startups
assert_scp_works "$p_src" 127.0.0.1 "max_startups, another route"
release
kb_wait_events "$log" 4 10 session_end route=startups || true
assert_scp_works "$p_startup" 127.0.0.1 "max_startups, after the held sessions closed"

# max_sessions per route.
hold "$p_sess" 2 127.0.0.2
kb_wait_events "$log" 2 10 session_start route=sessions || kb_fail "held sessions did not start"
kb_assert_eq "$(probe "$p_sess" 127.0.0.1)" closed "max_sessions: a third connection is closed"
assert_limit "$log" max_sessions 2 sessions
release

# handshake_timeout: a client that sends nothing is closed after 2 s.
hold "$p_hs" 1 127.0.0.1
assert_limit "$log" handshake_timeout 2 handshake
release

# idle_timeout: an ssh session running "sleep 8" is idle and closed after 2 s.
rc=0
kb_openssh ssh -p "$p_idle" "$dest" sleep 8 2>/dev/null || rc=$?
[ "$rc" -ne 0 ] && kb_pass "idle_timeout: the idle ssh session was closed ($rc)" ||
    kb_fail "idle_timeout: the ssh session ran to its end"
assert_limit "$log" idle_timeout 2 idle
kb_assert_alive "$tap_pid" "tap: kexbridge still runs"

# --- [global] max_sessions over two routes ----------------------------------
p_a=$(kb_free_port)
p_b=$(kb_free_port)
cat >"$KB_TMP/global.conf" <<EOF
[global]
log_format = json
max_sessions = 3

[route a]
listen = 127.0.0.1:$p_a
upstream = 127.0.0.1:$SSHD_PORT

[route b]
listen = 127.0.0.1:$p_b
upstream = 127.0.0.1:$SSHD_PORT
EOF
kb_start_kexbridge global "$p_a" --config "$KB_TMP/global.conf"
glog="$KB_TMP/global.log"
hold "$p_a" 3 127.0.0.1
kb_wait_events "$glog" 3 10 session_start || kb_fail "held sessions did not start"
kb_assert_eq "$(probe "$p_b" 127.0.0.2)" closed "global max_sessions: route b is closed too"
assert_limit "$glog" global_max_sessions 3 b
release
kb_wait_events "$glog" 3 10 session_end || true
assert_scp_works "$p_b" 127.0.0.1 "global max_sessions, after the held sessions closed"

# --- Bridge route: max_startups, handshake_timeout, idle_timeout ------------
p_br=$(kb_free_port)
mkdir -p "$KB_TMP/bridge-state"
chmod 700 "$KB_TMP/bridge-state"
cat >"$KB_TMP/bridge.conf" <<EOF
[global]
log_format = json
state_dir = $KB_TMP/bridge-state

[route br]
listen = 127.0.0.1:$p_br
upstream = 127.0.0.1:$SSHD_PORT
mode = bridge
max_startups = 2
handshake_timeout = 2
idle_timeout = 4
EOF
kb_start_kexbridge bridge "$p_br" --config "$KB_TMP/bridge.conf"
blog="$KB_TMP/bridge.log"
hold "$p_br" 2 127.0.0.1
kb_wait_events "$blog" 2 10 session_start || kb_fail "held bridge sessions did not start"
kb_assert_eq "$(probe "$p_br" 127.0.0.2)" closed "bridge max_startups: a third connection is closed"
assert_limit "$blog" max_startups 2 br
assert_limit "$blog" handshake_timeout 2 br
release
assert_scp_works "$p_br" 127.0.0.1 "bridge, after the held sessions closed"

# An sftp session waiting for commands is idle: closed after 4 s.
rc=0
(sleep 8; echo bye) | SSH_ASKPASS="$KB_ASKPASS" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
    timeout 30 sftp -F /dev/null -o UserKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=no -o PreferredAuthentications=password \
    -o PubkeyAuthentication=no -o BatchMode=no -P "$p_br" "$dest" \
    >/dev/null 2>&1 || rc=$?
assert_limit "$blog" idle_timeout 4 br

kb_finish
