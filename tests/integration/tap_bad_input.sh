#!/usr/bin/env bash
# Bad input through a tap route: for each case kexbridge must log a line that
# names the problem with the session id, keep running, and let a normal ssh
# session through the same process at the same time negotiate as usual.
#   http       an HTTP request instead of an SSH version line
#   truncated  a well-formed packet whose KEXINIT payload ends inside a name-list
#   biglen     a packet length of 2^31
#   longline   a version line of 1 MiB
#   prelines   an upstream that sends 10,000 lines before its version line
# No real SSH program produces these bytes, so the peers that send them are
# small Python mocks written by this test; the ssh sessions are real.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh sshd ssh-keygen

kb_make_account
kb_start_sshd default

# Mock client: connects, prints its local port, sends the bytes of one case,
# then reads until the peer closes or 8 s pass.
cat >"$KB_TMP/mock_client.py" <<'EOF'
import socket
import struct
import sys
import time

port, case = int(sys.argv[1]), sys.argv[2]
version = b"SSH-2.0-kbmock_1.0\r\n"
if case == "http":
    data = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
elif case == "truncated":
    # packet_length and padding_length agree with the bytes sent, but the
    # KEXINIT inside stops 10 bytes into a name-list that claims 100 bytes.
    payload = bytes([20]) + b"\x11" * 16 + struct.pack(">I", 100) + b"curve25519"
    padding = 4
    while (5 + len(payload) + padding) % 8:
        padding += 1
    body = bytes([padding]) + payload + b"\0" * padding
    data = version + struct.pack(">I", len(body)) + body
elif case == "biglen":
    data = version + struct.pack(">I", 2 ** 31) + b"\x04\x14" + b"\0" * 30
elif case == "longline":
    data = b"SSH-2.0-" + b"A" * (1024 * 1024) + b"\r\n"
else:
    data = version
s = socket.create_connection(("127.0.0.1", port), timeout=10)
print("local_port=%d" % s.getsockname()[1], flush=True)
try:
    s.sendall(data)
except OSError as e:
    print("send stopped: %s" % e, flush=True)
deadline = time.time() + 8
closed = False
s.settimeout(0.5)
while time.time() < deadline:
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        continue
    except OSError:
        closed = True
        break
    if not chunk:
        closed = True
        break
print("closed_by_peer=%s" % ("yes" if closed else "no"), flush=True)
EOF

# Mock upstream: sends 10,000 lines and then a version line to whoever
# connects, and holds the connection until the other side closes it.
cat >"$KB_TMP/mock_server.py" <<'EOF'
import socket
import sys

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
while True:
    conn, _ = srv.accept()
    conn.settimeout(15)
    try:
        for i in range(10000):
            conn.sendall(b"pre-version line %d of 10000\r\n" % i)
        conn.sendall(b"SSH-2.0-kbmock_server\r\n")
        while conn.recv(65536):
            pass
    except OSError:
        pass
    conn.close()
EOF

mock_port=$(kb_free_port)
"$KB_PY" "$KB_TMP/mock_server.py" "$mock_port" 2>"$KB_TMP/mock_server.log" &
KB_PIDS+=("$!")
kb_wait_port "$mock_port" 10 || kb_fail "mock upstream did not start"

# One kexbridge process, two routes: to the real sshd and to the mock.
real_port=$(kb_free_port)
fake_port=$(kb_free_port)
cat >"$KB_TMP/kexbridge.ini" <<EOF
[global]
log_format = json
log_level = info

[route real]
listen = 127.0.0.1:$real_port
upstream = 127.0.0.1:$SSHD_PORT
mode = tap
handshake_timeout = 10
idle_timeout = 60

[route fake]
listen = 127.0.0.1:$fake_port
upstream = 127.0.0.1:$mock_port
mode = tap
handshake_timeout = 10
idle_timeout = 60
EOF
kb_start_kexbridge kexbridge "$real_port" -f "$KB_TMP/kexbridge.ini"
kb_wait_port "$fake_port" 5 || kb_fail "the route to the mock upstream is not listening"
LOG="$KB_TMP/kexbridge.log"

# Prints every log line of the session whose session_start names the
# client port $1, except session_start itself.
session_lines() {
	"$KB_PY" - "$LOG" "$1" <<'EOF'
import json
import sys

log, port = sys.argv[1], sys.argv[2]
objs = []
with open(log, encoding="utf-8", errors="replace") as f:
    for line in f:
        try:
            objs.append(json.loads(line))
        except ValueError:
            pass

def names_port(obj):
    for key, value in obj.items():
        if key == "ts":
            continue
        if isinstance(value, str) and (value.endswith(":" + port) or
                                       value.endswith("]:" + port)):
            return True
        if isinstance(value, int) and "port" in key and str(value) == port:
            return True
    return False

ids = {o.get("session") for o in objs
       if o.get("event") == "session_start" and names_port(o)}
for o in objs:
    if o.get("session") in ids and o.get("event") != "session_start":
        print(json.dumps(o))
EOF
}

run_case() {
	local case=$1 port=$2 problem=$3 before after client_port lines

	kb_say "case $case: mock peer on route port $port"
	before=$(kb_json count "$LOG" negotiation)
	"$KB_PY" "$KB_TMP/mock_client.py" "$port" "$case" >"$KB_TMP/client-$case.out" 2>&1 &
	local mock=$!
	KB_PIDS+=("$mock")
	sleep 0.5

	# A normal session through the same process while the mock is connected.
	if kb_openssh ssh -p "$real_port" "$KB_USER@127.0.0.1" true 2>"$KB_TMP/ssh-$case.err"; then
		kb_pass "case $case: a concurrent ssh session logged in"
	else
		kb_fail "case $case: concurrent ssh failed: $(cat "$KB_TMP/ssh-$case.err")"
	fi
	kb_wait_events "$LOG" $((before + 1)) 10 negotiation ||
	    kb_fail "case $case: no negotiation event for the concurrent ssh session"
	after=$(kb_json select "$LOG" negotiation | tail -n 1)
	kb_assert_match "$(kb_json get "$after" result.kex)" '^[a-z0-9]' \
	    "case $case: the concurrent session agreed on kex $(kb_json get "$after" result.kex)"

	kb_wait_exit "$mock" 15 || kb_fail "case $case: mock client still running after 15 s"
	client_port=$(sed -n 's/^local_port=//p' "$KB_TMP/client-$case.out")
	kb_say "case $case: mock client $(tr '\n' ' ' <"$KB_TMP/client-$case.out")"
	sleep 0.3
	lines=$(session_lines "$client_port")
	kb_assert_match "$lines" '"session"' "case $case: the log has lines for the mock's session"
	kb_assert_match "$lines" "$problem" "case $case: a log line names the problem"
	kb_say "case $case: $(printf '%s' "$lines" | grep -Ei "$problem" | head -n 1 | cut -c1-300)"
	kb_assert_alive "$KB_PID" "case $case: kexbridge still runs"
	if kb_port_listening "$real_port"; then
		kb_pass "case $case: the listener is still up"
	else
		kb_fail "case $case: the listener on $real_port is gone"
	fi
}

run_case http "$real_port" 'version|identification|banner|not (an )?ssh|protocol'
run_case truncated "$real_port" 'kexinit|truncat|short|malformed|invalid|incomplete'
run_case biglen "$real_port" 'length|too (large|long|big)|packet'
run_case longline "$real_port" 'version|too long|line|length'
run_case prelines "$fake_port" 'lines|banner|version|too (many|long)'

# Upstreams that are no SSH server, in a second kexbridge process: an HTTP
# server must be named in a warn line with its first line, and a closed port
# must be logged at warn. A client that stops inside its version line gets
# the same kind of line.
http_port=$(kb_free_port)
"$KB_PY" - "$http_port" <<'EOF' &
import socket
import sys

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(8)
while True:
    conn, _ = srv.accept()
    conn.settimeout(5)
    try:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass
    conn.close()
EOF
KB_PIDS+=("$!")
kb_wait_port "$http_port" 10 || kb_fail "the HTTP upstream did not start"
closed_port=$(kb_free_port)
http_route=$(kb_free_port)
closed_route=$(kb_free_port)
cat >"$KB_TMP/upstreams.ini" <<EOF
[global]
log_format = json

[route http]
listen = 127.0.0.1:$http_route
upstream = 127.0.0.1:$http_port
handshake_timeout = 10

[route closed]
listen = 127.0.0.1:$closed_route
upstream = 127.0.0.1:$closed_port
EOF
kb_start_kexbridge upstreams "$closed_route" -f "$KB_TMP/upstreams.ini"
LOG2="$KB_TMP/upstreams.log"

# Sends $2 to route port $1 and reads until kexbridge closes the connection.
send_and_close() {
	"$KB_PY" - "$1" "$2" <<'EOF'
import socket
import sys

s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
try:
    s.sendall(sys.argv[2].encode())
    while s.recv(65536):
        pass
except ConnectionError:
    pass
EOF
}

send_and_close "$http_route" $'SSH-2.0-kbmock_1.0\r\n' ||
    kb_fail "the client of the HTTP upstream failed"
kb_wait_events "$LOG2" 1 10 protocol_error side=server ||
    kb_fail "no protocol_error event for the HTTP upstream"
line=$(kb_json select "$LOG2" protocol_error side=server | head -n 1)
kb_say "HTTP upstream: $line"
kb_assert_eq "$(kb_json get "$line" level)" warn "the HTTP upstream is logged at warn"
kb_assert_eq "$(kb_json get "$line" first_line)" 'HTTP/1.1 400 Bad Request' \
    "the log line shows the HTTP upstream's first line"
kb_assert_eq "$(kb_json get "$line" bytes)" 47 "the log line counts the HTTP upstream's bytes"

send_and_close "$http_route" 'SSH-2.0-cut' || kb_fail "the cut client failed"
kb_wait_events "$LOG2" 1 10 protocol_error side=client ||
    kb_fail "no protocol_error event for a client without a version line"
line=$(kb_json select "$LOG2" protocol_error side=client | head -n 1)
kb_say "client without a version line: $line"
kb_assert_eq "$(kb_json get "$line" first_line)" 'SSH-2.0-cut' \
    "the log line shows what the client sent"

send_and_close "$closed_route" $'SSH-2.0-kbmock_1.0\r\n' ||
    kb_fail "the client of the closed upstream failed"
kb_wait_events "$LOG2" 1 10 connect_failed ||
    kb_fail "no connect_failed event for the closed upstream"
line=$(kb_json select "$LOG2" connect_failed | head -n 1)
kb_say "closed upstream: $line"
kb_assert_eq "$(kb_json get "$line" level)" warn "a refused upstream is logged at warn"

kb_finish
