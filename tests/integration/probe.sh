#!/usr/bin/env bash
# kexbridge probe reads a server's offer and checks the built-in client
# profiles against it. Exit status: 0 all profiles agree, 1 one fails,
# 2 error (closed port, not an SSH server).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require sshd ssh-keygen

kb_start_sshd legacy sshd-legacy
legacy_port=$SSHD_PORT
kb_start_sshd default sshd-default
default_port=$SSHD_PORT

# Runs probe with the arguments given; sets out and status.
probe() {
	status=0
	out=$(timeout 30 "$KEXBRIDGE" probe --timeout 5 "$@" 2>&1) || status=$?
}

# Legacy server: ucsm-4.0 fails on kex, ciphers and MACs, with advice.
probe --profile ucsm-4.0 "127.0.0.1:$legacy_port"
kb_say "probe legacy (text):"
printf '%s\n' "$out" | head -n 40
kb_assert_eq "$status" 1 "probe of the legacy server exits 1"
kb_assert_match "$out" 'ucsm-4\.0' "the output names the ucsm-4.0 profile"
kb_assert_match "$out" 'kex' "the output names the kex category"
kb_assert_match "$out" 'cipher' "the output names the cipher category"
kb_assert_match "$out" 'mac' "the output names the MAC category"
kb_assert_match "$out" 'KexAlgorithms' "the output gives sshd_config advice"

probe --json --profile ucsm-4.0 --profile openssh-9.2 "127.0.0.1:$legacy_port"
kb_assert_eq "$status" 1 "probe --json of the legacy server exits 1"
if printf '%s' "$out" | "$KB_PY" -m json.tool >/dev/null; then
	kb_pass "probe --json prints valid JSON"
else
	kb_fail "probe --json output is not JSON: $(printf '%s' "$out" | head -c 400)"
fi
json=$(printf '%s' "$out" | tr -d '\n')
kb_assert_match "$(kb_json get "$json" server_version)" '^SSH-2\.0-OpenSSH' \
    "server_version is the sshd version line"
kb_assert_match "$(kb_json get "$json" server_offer.kex)" 'diffie-hellman-group1-sha1' \
    "server_offer.kex has diffie-hellman-group1-sha1"
kb_assert_match "$(kb_json get "$json" target)" "$legacy_port" "target names the port"
for i in 0 1; do
	name=$(kb_json get "$json" "profiles.$i.name")
	kb_assert_eq "$(kb_json get "$json" "profiles.$i.ok")" false "profile $name is not ok"
	failed=$(kb_json get "$json" "profiles.$i.failed")
	kb_say "profile $name failed: $failed"
	kb_assert_match "$failed" '"kex"' "profile $name fails on kex"
done
failed=$(kb_json get "$json" profiles.0.failed)
for category in cipher_c2s cipher_s2c mac_c2s mac_s2c; do
	kb_assert_match "$failed" "\"$category\"" "ucsm-4.0 fails on $category"
done

# Default server: every built-in profile agrees.
probe "127.0.0.1:$default_port"
kb_say "probe default (text):"
printf '%s\n' "$out" | head -n 20
kb_assert_eq "$status" 0 "probe of the default server exits 0"
probe --json "127.0.0.1:$default_port"
kb_assert_eq "$status" 0 "probe --json of the default server exits 0"
json=$(printf '%s' "$out" | tr -d '\n')
kb_assert_eq "$(kb_json get "$json" profiles.0.failed)" '[]' \
    "profile $(kb_json get "$json" profiles.0.name) has nothing failed"
kb_assert_match "$(kb_json get "$json" profiles)" 'ucsm-4\.0' "the default run includes ucsm-4.0"

# A closed port is an error.
closed_port=$(kb_free_port)
probe "127.0.0.1:$closed_port"
kb_assert_eq "$status" 2 "probe of a closed port exits 2"
kb_say "closed port: $(printf '%s' "$out" | head -n 2)"

# A listener that is not an SSH server is an error too.
http_port=$(kb_free_port)
"$KB_PY" - "$http_port" <<'EOF' &
import socket
import sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(4)
while True:
    conn, _ = srv.accept()
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    conn.close()
EOF
KB_PIDS+=("$!")
kb_wait_port "$http_port" 10 || kb_fail "the HTTP mock did not start"
probe "127.0.0.1:$http_port"
kb_assert_eq "$status" 2 "probe of a non-SSH listener exits 2"
kb_say "non-SSH listener: $(printf '%s' "$out" | head -n 2)"

# An IPv6 address without brackets is one address on port 22. "::1:2222" is
# such an address (not loopback), so probe must say how to write a port, and
# it runs in a new network namespace where no packet can leave.
hint='write \[ADDR\]:PORT for an IPv6 address with a port'
if unshare -n true 2>/dev/null; then
	status=0
	out=$(timeout 30 unshare -n "$KEXBRIDGE" probe --timeout 5 ::1:2222 2>&1) || status=$?
	kb_say "::1:2222: $(printf '%s' "$out" | head -n 2)"
	kb_assert_eq "$status" 2 "probe of ::1:2222 in an empty namespace exits 2"
	kb_assert_match "$out" "'::1:2222' is read as an IPv6 address on port 22" \
	    "probe says ::1:2222 is an address on port 22"
	kb_assert_match "$out" "$hint" "probe of ::1:2222 hints at [ADDR]:PORT"
	kb_assert_match "$out" '\[::1:2222\]:22' "probe of ::1:2222 names port 22"
else
	kb_say "unshare -n is not available; ::1:2222 not checked"
fi

# Several colons that are not an IPv6 address are an invalid target.
probe "::1:x:$closed_port"
kb_assert_eq "$status" 2 "probe of ::1:x:PORT exits 2"
kb_assert_match "$out" 'invalid target' "::1:x:PORT is an invalid target"

# Loopback forms need no hint.
for target in ::1 "[::1]:$closed_port"; do
	probe "$target"
	kb_say "$target: $(printf '%s' "$out" | head -n 1)"
	if grep -q -e "$hint" <<<"$out"; then
		kb_fail "probe of $target hints at [ADDR]:PORT: $out"
	else
		kb_pass "probe of $target gives no port hint"
	fi
done
kb_assert_match "$out" "\\[::1\\]:$closed_port" "probe of [::1]:PORT names that port"

kb_finish
