#!/usr/bin/env bash
# Transparent interception: kexbridge sits on a router between an FI-like
# client and a legacy server, and the client connects to the server's own
# address. Three network namespaces (client, router, server) joined by veth
# pairs carry all traffic, on 10.203.1.0/24, 10.203.2.0/24,
# fd00:203:1::/64 and fd00:203:2::/64 only. The router sends port 22 to
# kexbridge with iptables REDIRECT, then with TPROXY, over IPv4 and IPv6; an
# FI-restricted scp reaches the legacy-only sshd through bridge routes and
# the file arrives unchanged. A tap route logs the negotiation with the
# original destination. Destinations outside the allow-list, and a direct
# connection to the listener, are refused and logged, and nothing connects
# to them.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sshd ssh-keygen sha256sum socat ip iptables ip6tables
ip netns list >/dev/null 2>&1 || kb_skip "ip netns is not available"

NS_C="kbc$$"
NS_R="kbr$$"
NS_S="kbs$$"
NAMESPACES=()

# Kills what runs in the test's namespaces, then removes them (with their
# veths, routes and iptables rules), then does the shared cleanup.
tp_cleanup() {
	local status=$? ns pid

	for ns in "${NAMESPACES[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill "$pid" 2>/dev/null || true
		done
	done
	sleep 0.3
	for ns in "${NAMESPACES[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	(exit "$status")
	kb_cleanup
}
trap tp_cleanup EXIT

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Builds client <-> router <-> server. The veths are created inside the
# router namespace, so no interface ever exists outside the namespaces.
make_network() {
	local ns

	for ns in "$NS_C" "$NS_R" "$NS_S"; do
		ip netns add "$ns" || kb_skip "cannot create network namespace $ns"
		NAMESPACES+=("$ns")
		in_ns "$ns" ip link set lo up
	done
	ip -n "$NS_R" link add veth-c type veth peer name eth0 netns "$NS_C"
	ip -n "$NS_R" link add veth-s type veth peer name eth0 netns "$NS_S"

	ip -n "$NS_C" addr add 10.203.1.2/24 dev eth0
	ip -n "$NS_C" addr add fd00:203:1::2/64 dev eth0 nodad
	ip -n "$NS_R" addr add 10.203.1.1/24 dev veth-c
	ip -n "$NS_R" addr add fd00:203:1::1/64 dev veth-c nodad
	ip -n "$NS_R" addr add 10.203.2.1/24 dev veth-s
	ip -n "$NS_R" addr add fd00:203:2::1/64 dev veth-s nodad
	ip -n "$NS_S" addr add 10.203.2.2/24 dev eth0
	ip -n "$NS_S" addr add 10.203.2.3/24 dev eth0
	ip -n "$NS_S" addr add fd00:203:2::2/64 dev eth0 nodad
	for ns in "$NS_C" "$NS_S"; do
		ip -n "$ns" link set eth0 up
	done
	ip -n "$NS_R" link set veth-c up
	ip -n "$NS_R" link set veth-s up
	ip -n "$NS_C" route add default via 10.203.1.1
	ip -n "$NS_C" -6 route add default via fd00:203:1::1
	ip -n "$NS_S" route add default via 10.203.2.1
	ip -n "$NS_S" -6 route add default via fd00:203:2::1
	in_ns "$NS_R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# Waits up to 10 s for a TCP listener on port $2 in namespace $1.
ns_wait_port() {
	local deadline=$((SECONDS + 10))

	until [ -n "$(in_ns "$1" ss -Hltn "sport = :$2" 2>/dev/null)" ]; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# Starts sshd in the server namespace on port $2 of both server addresses;
# $1 is legacy or default.
start_server_sshd() {
	local kind=$1 port=$2 dir="$KB_TMP/sshd-$1"

	mkdir -p "$dir" /run/sshd
	ssh-keygen -q -t rsa -b 2048 -N '' -f "$dir/host_rsa" </dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$dir/host_ed25519" </dev/null
	{
		printf 'ListenAddress 10.203.2.2:%s\n' "$port"
		printf 'ListenAddress [fd00:203:2::2]:%s\n' "$port"
		printf 'PidFile %s\n' "$dir/sshd.pid"
		printf 'HostKey %s\n' "$dir/host_rsa"
		if [ "$kind" = legacy ]; then
			printf 'KexAlgorithms %s\n' "$KB_LEGACY_KEX"
			printf 'HostKeyAlgorithms ssh-rsa\n'
			printf 'Ciphers %s\n' "$KB_LEGACY_CIPHERS"
			printf 'MACs %s\n' "$KB_LEGACY_MACS"
		else
			printf 'HostKey %s\n' "$dir/host_ed25519"
		fi
		printf 'PasswordAuthentication yes\nKbdInteractiveAuthentication no\n'
		printf 'PubkeyAuthentication no\nUsePAM no\nPermitRootLogin no\n'
		printf 'AllowUsers %s\n' "$KB_USER"
		printf 'Subsystem sftp /usr/lib/openssh/sftp-server\n'
	} >"$dir/sshd_config"
	in_ns "$NS_S" /usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$KB_TMP/sshd-$kind.log" &
	KB_PIDS+=("$!")
	ns_wait_port "$NS_S" "$port" || kb_fail "sshd ($kind) did not start"
}

# A TCP listener that only records connections, on address $1 port $2.
start_trap_listener() {
	in_ns "$NS_S" socat -d -d "TCP-LISTEN:$2,bind=$1,reuseaddr,fork" SYSTEM:true \
	    2>>"$KB_TMP/socat.log" &
	KB_PIDS+=("$!")
	ns_wait_port "$NS_S" "$2" || kb_fail "socat on $1:$2 did not start"
}

write_config() {
	local state="$KB_TMP/state"

	mkdir -p "$state"
	chmod 700 "$state"
	cat >"$KB_TMP/kexbridge.conf" <<EOF
[global]
log_format = json
state_dir = $state

[route redirect-bridge4]
listen = 0.0.0.0:7001
mode = bridge
transparent = redirect
allow = 10.203.2.2:22

[route redirect-bridge6]
listen = [::]:7001
mode = bridge
transparent = redirect
allow = [fd00:203:2::]/64:22

[route redirect-tap4]
listen = 0.0.0.0:7002
mode = tap
transparent = redirect
allow = 10.203.2.2:2200

[route redirect-auto4]
listen = 0.0.0.0:7004
mode = auto
transparent = redirect
allow = 10.203.2.2:22

[route tproxy-bridge4]
listen = 0.0.0.0:7003
mode = bridge
transparent = tproxy
allow = 10.203.2.2:22

[route tproxy-bridge6]
listen = [::]:7003
mode = bridge
transparent = tproxy
allow = [fd00:203:2::2]:22
EOF
}

# scp from the client namespace, restricted to the FI offer. $1 is the
# destination host as scp writes it, $2 the local file, $3 the remote name.
fi_scp() {
	kb_openssh "$KB_TMP/client-scp" "${KB_FI_OPTS[@]}" -O "$2" "$KB_USER@$1:$3" \
	    2>"$KB_TMP/client.err"
}

# Connects from the client namespace to $1 port $2 and reads until EOF.
poke() {
	in_ns "$NS_C" timeout 5 socat -u "TCP:$1:$2,connect-timeout=3" - \
	    </dev/null >/dev/null 2>&1 || true
}

client_err() { head -c 400 "$KB_TMP/client.err" | tr '\n' ' '; }

# Checks that a bridge session on route $1 reached upstream $2 with exit 0.
assert_bridged() {
	local route=$1 upstream=$2 start record

	start=$(kb_json select "$LOG" session_start "route=$route" "upstream=$upstream" | tail -n 1)
	kb_assert_match "$start" '"mode":"bridge"' "$route: session_start names $upstream"
	record=$(kb_json select "$LOG" session_record "route=$route" | tail -n 1)
	kb_assert_match "$record" '"exit_status":0' "$route: session_record with exit 0"
}

assert_refused() {
	local route=$1 dst=$2 reason=$3

	if kb_wait_events "$LOG" 1 10 refused "route=$route" "original_destination=$dst" \
	    "reason=$reason"; then
		kb_pass "$route: $dst refused ($reason)"
	else
		kb_fail "$route: no refused event for $dst ($reason)"
	fi
}

kb_make_account
make_network
start_server_sshd legacy 22
start_server_sshd default 2200
start_trap_listener 10.203.2.2 2222
start_trap_listener 10.203.2.3 22
printf '#!/bin/sh\nexec ip netns exec %s scp "$@"\n' "$NS_C" >"$KB_TMP/client-scp"
chmod 755 "$KB_TMP/client-scp"

write_config
LOG="$KB_TMP/kexbridge.log"
in_ns "$NS_R" "$KEXBRIDGE" run -f "$KB_TMP/kexbridge.conf" 2>"$LOG" &
kb_pid=$!
KB_PIDS+=("$kb_pid")
ns_wait_port "$NS_R" 7003 || kb_fail "kexbridge is not listening in the router namespace"

src="$KB_TMP/payload"
head -c 300000 /dev/urandom >"$src"

# REDIRECT: port 22 to the bridge routes, port 2200 to the tap route, and
# port 2222 too, which no allow entry names.
for ipt in iptables ip6tables; do
	in_ns "$NS_R" "$ipt" -t nat -A PREROUTING -i veth-c -p tcp --dport 22 \
	    -j REDIRECT --to-ports 7001
	in_ns "$NS_R" "$ipt" -t nat -A PREROUTING -i veth-c -p tcp --dport 2222 \
	    -j REDIRECT --to-ports 7001
done
in_ns "$NS_R" iptables -t nat -A PREROUTING -i veth-c -p tcp --dport 2200 \
    -j REDIRECT --to-ports 7002

fi_scp 10.203.2.2 "$src" redirect4.bin || kb_fail "scp over REDIRECT (IPv4) exited $?: $(client_err)"
kb_assert_same_file "$src" "$KB_HOME/redirect4.bin" "REDIRECT IPv4 bridge upload"
kb_wait_events "$LOG" 1 15 session_record "route=redirect-bridge4" || true
assert_bridged redirect-bridge4 10.203.2.2:22

fi_scp '[fd00:203:2::2]' "$src" redirect6.bin ||
    kb_fail "scp over REDIRECT (IPv6) exited $?: $(client_err)"
kb_assert_same_file "$src" "$KB_HOME/redirect6.bin" "REDIRECT IPv6 bridge upload"
kb_wait_events "$LOG" 1 15 session_record "route=redirect-bridge6" || true
assert_bridged redirect-bridge6 '[fd00:203:2::2]:22'

# Tap: the FI offer agrees with the default sshd; the negotiation is logged
# under the session whose upstream is the original destination.
kb_openssh "$KB_TMP/client-scp" "${KB_FI_OPTS[@]}" -O -P 2200 "$src" \
    "$KB_USER@10.203.2.2:tap.bin" 2>"$KB_TMP/client.err" ||
    kb_fail "scp through the tap route exited $?: $(client_err)"
kb_assert_same_file "$src" "$KB_HOME/tap.bin" "REDIRECT IPv4 tap upload"
tap_start=$(kb_json select "$LOG" session_start route=redirect-tap4 upstream=10.203.2.2:2200 |
    head -n 1)
kb_assert_match "$tap_start" '"mode":"tap"' "tap session_start names 10.203.2.2:2200"
tap_id=$(kb_json get "${tap_start:-{\}}" session)
kb_assert_match "$(kb_json select "$LOG" negotiation "session=$tap_id")" \
    '"kex":"diffie-hellman-group-exchange-sha256"' \
    "tap negotiation logged for the original destination"

# Refused: a port and an address outside the allow-lists, and the listener.
poke 10.203.2.2 2222
assert_refused redirect-bridge4 10.203.2.2:2222 not_allowed
poke 10.203.2.3 22
assert_refused redirect-bridge4 10.203.2.3:22 not_allowed
poke 10.203.1.1 7001
assert_refused redirect-bridge4 10.203.1.1:7001 loop
kb_assert_eq "$(grep -c 'accepting connection' "$KB_TMP/socat.log" || true)" 0 \
    "REDIRECT: nothing connected to the destinations outside the allow-list"

# auto over REDIRECT: port 22 now goes to the auto route. The FI-restricted
# client disagrees with the legacy server and is bridged; a client that
# offers the server's own algorithms agrees and is relayed untouched.
in_ns "$NS_R" iptables -t nat -F PREROUTING
in_ns "$NS_R" iptables -t nat -A PREROUTING -i veth-c -p tcp --dport 22 \
    -j REDIRECT --to-ports 7004
fi_scp 10.203.2.2 "$src" auto-bridged.bin ||
    kb_fail "scp over REDIRECT to the auto route exited $?: $(client_err)"
kb_assert_same_file "$src" "$KB_HOME/auto-bridged.bin" "REDIRECT IPv4 auto upload (bridged)"
kb_wait_events "$LOG" 1 15 session_record "route=redirect-auto4" || true
kb_assert_match "$(kb_json select "$LOG" negotiation route=redirect-auto4 | tail -n 1)" \
    '"decision":"bridge"' "auto route: the FI-restricted client is bridged"
kb_openssh "$KB_TMP/client-scp" -O -o "KexAlgorithms=$KB_LEGACY_KEX" \
    -o HostKeyAlgorithms=ssh-rsa -o "Ciphers=$KB_LEGACY_CIPHERS" -o "MACs=$KB_LEGACY_MACS" \
    "$src" "$KB_USER@10.203.2.2:auto-relayed.bin" 2>"$KB_TMP/client.err" ||
    kb_fail "legacy-compatible scp to the auto route exited $?: $(client_err)"
kb_assert_same_file "$src" "$KB_HOME/auto-relayed.bin" "REDIRECT IPv4 auto upload (relayed)"
kb_assert_match "$(kb_json select "$LOG" negotiation route=redirect-auto4 | tail -n 1)" \
    '"decision":"relay"' "auto route: a compatible client is relayed"

# TPROXY: the same traffic, now delivered unchanged to the port 7003 routes.
for ipt in iptables ip6tables; do
	in_ns "$NS_R" "$ipt" -t nat -F PREROUTING
	in_ns "$NS_R" "$ipt" -t mangle -A PREROUTING -i veth-c -p tcp --dport 22 \
	    -j TPROXY --on-port 7003 --tproxy-mark 1
done
in_ns "$NS_R" ip rule add fwmark 1 lookup 100
in_ns "$NS_R" ip route add local 0.0.0.0/0 dev lo table 100
in_ns "$NS_R" ip -6 rule add fwmark 1 lookup 100
in_ns "$NS_R" ip -6 route add local ::/0 dev lo table 100

fi_scp 10.203.2.2 "$src" tproxy4.bin || kb_fail "scp over TPROXY (IPv4) exited $?: $(client_err)"
kb_assert_same_file "$src" "$KB_HOME/tproxy4.bin" "TPROXY IPv4 bridge upload"
kb_wait_events "$LOG" 1 15 session_record "route=tproxy-bridge4" || true
assert_bridged tproxy-bridge4 10.203.2.2:22

fi_scp '[fd00:203:2::2]' "$src" tproxy6.bin ||
    kb_fail "scp over TPROXY (IPv6) exited $?: $(client_err)"
kb_assert_same_file "$src" "$KB_HOME/tproxy6.bin" "TPROXY IPv6 bridge upload"
kb_wait_events "$LOG" 1 15 session_record "route=tproxy-bridge6" || true
assert_bridged tproxy-bridge6 '[fd00:203:2::2]:22'

poke 10.203.2.3 22
assert_refused tproxy-bridge4 10.203.2.3:22 not_allowed
kb_assert_eq "$(grep -c 'accepting connection' "$KB_TMP/socat.log" || true)" 0 \
    "TPROXY: nothing connected to the destination outside the allow-list"

kb_assert_alive "$kb_pid" "kexbridge still running"
kb_finish
