#!/usr/bin/env bash
# One auto route in front of an OpenSSH sshd that speaks legacy algorithms
# and also group14-sha256, aes128-ctr and hmac-sha2-256. Two clients copy
# through it at the same time:
#   a compatible OpenSSH client (group14-sha256, aes128-ctr, hmac-sha2-256,
#   ssh-rsa): the offers agree, so the session stays a byte relay;
#   an OpenSSH client restricted to the FI 4.0(2a)+ offer: no kex in common,
#   so kexbridge sends its own KEXINIT in reply and bridges the session.
# Every copy is compared by SHA-256, and each negotiation event must say
# which way its session went ("decision": "relay" or "bridge"), in the JSON
# log and in the text log.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sshd ssh-keygen sha256sum

# The legacy server also accepts one modern choice per category.
KB_LEGACY_KEX=diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256
KB_LEGACY_CIPHERS=aes128-cbc,3des-cbc,aes128-ctr
KB_LEGACY_MACS=hmac-sha1,hmac-md5,hmac-sha2-256
COMPAT_OPTS=(-o KexAlgorithms=diffie-hellman-group14-sha256 -o Ciphers=aes128-ctr
    -o MACs=hmac-sha2-256 -o HostKeyAlgorithms=ssh-rsa)

kb_make_account
kb_start_sshd legacy

# Starts an auto route named $1 to the sshd with log format $2. Sets KB_PORT,
# KB_LOG and KB_PID.
start_auto() {
	local name=$1 format=$2

	KB_PORT=$(kb_free_port)
	KB_LOG="$KB_TMP/$name.log"
	mkdir -p "$KB_TMP/$name-state"
	chmod 700 "$KB_TMP/$name-state"
	kb_start_kexbridge "$name" "$KB_PORT" --mode auto \
	    --listen "127.0.0.1:$KB_PORT" --upstream "127.0.0.1:$SSHD_PORT" \
	    --state-dir "$KB_TMP/$name-state" --log-format "$format"
}

start_auto auto json
port=$KB_PORT
log=$KB_LOG
auto_pid=$KB_PID
dest="$KB_USER@127.0.0.1"

mkdir -p "$KB_TMP/in"
for who in relay bridge; do
	head -c 1048576 /dev/urandom >"$KB_TMP/$who"
	install -o "$KB_USER" -m 644 "$KB_TMP/$who" "$KB_HOME/remote-$who"
done

copy_pids=()

# Runs scp with the options of $1 (relay: compatible, bridge: FI) in the
# background; its exit status is written to $KB_TMP/$1.rc.
copy_bg() {
	local who=$1

	shift
	if [ "$who" = relay ]; then
		set -- "${COMPAT_OPTS[@]}" "$@"
	else
		set -- "${KB_FI_OPTS[@]}" "$@"
	fi
	(
		rc=0
		kb_openssh scp -P "$port" "$@" 2>"$KB_TMP/$who.err" || rc=$?
		echo "$rc" >"$KB_TMP/$who.rc"
	) &
	copy_pids+=("$!")
}

# Waits for both background copies and checks their exit status; $1 names
# the step.
wait_copies() {
	local who

	# Only the copies: a bare wait would wait for sshd and kexbridge too.
	wait "${copy_pids[@]}"
	copy_pids=()
	for who in relay bridge; do
		if [ "$(cat "$KB_TMP/$who.rc")" != 0 ]; then
			kb_fail "$1 ($who) exited $(cat "$KB_TMP/$who.rc"): $(head -c 300 "$KB_TMP/$who.err" | tr '\n' ' ')"
		fi
	done
}

# Uploads at the same time, then downloads at the same time.
copy_bg relay "$KB_TMP/relay" "$dest:up-relay"
copy_bg bridge "$KB_TMP/bridge" "$dest:up-bridge"
wait_copies upload
for who in relay bridge; do
	kb_assert_same_file "$KB_TMP/$who" "$KB_HOME/up-$who" "upload through auto ($who)"
done
copy_bg relay "$dest:remote-relay" "$KB_TMP/in/relay"
copy_bg bridge "$dest:remote-bridge" "$KB_TMP/in/bridge"
wait_copies download
for who in relay bridge; do
	kb_assert_same_file "$KB_TMP/$who" "$KB_TMP/in/$who" "download through auto ($who)"
done

# Four negotiations: two relayed with the compatible choice, two bridged.
kb_wait_events "$log" 4 10 negotiation ||
    kb_fail "fewer than 4 negotiation events within 10 s"
kb_assert_eq "$(kb_json count "$log" negotiation decision=relay \
    result.kex=diffie-hellman-group14-sha256)" 2 \
    "two negotiations with group14-sha256 were relayed"
kb_assert_eq "$(kb_json count "$log" negotiation decision=bridge)" 2 \
    "two negotiations were bridged"
kb_assert_eq "$(kb_json count "$log" negotiation)" 4 "no other negotiation was logged"

# The relayed sessions end as tap sessions, with bytes both ways; the bridged
# ones as bridge sessions whose client side used the FI algorithms.
kb_wait_events "$log" 2 15 session_end ||
    kb_fail "the relayed sessions did not end within 15 s"
for n in 1 2; do
	end=$(kb_json select "$log" session_end | sed -n "${n}p")
	kb_assert_match "$(kb_json get "$end" bytes_c2s)" '^[1-9][0-9]{3,}$' \
	    "relayed session $n: bytes client to server"
	kb_assert_match "$(kb_json get "$end" bytes_s2c)" '^[1-9][0-9]{3,}$' \
	    "relayed session $n: bytes server to client"
done
for n in 1 2; do
	kb_assert_record "$(kb_record_n "$log" "$n")" "bridged session $n" \
	    "user=$KB_USER" exit=0 client_algorithms.cipher_c2s=aes128-ctr
done
kb_assert_eq "$(kb_json count "$log" session_record)" 2 \
    "only the bridged sessions have a session record"

# The text log says the same on the negotiation line.
start_auto auto-text text
if kb_openssh scp "${KB_FI_OPTS[@]}" -P "$KB_PORT" "$KB_TMP/bridge" \
    "$dest:up-text" 2>"$KB_TMP/text.err"; then
	kb_assert_same_file "$KB_TMP/bridge" "$KB_HOME/up-text" "upload through the text-log route"
else
	kb_fail "scp through the text-log route exited $?: $(head -c 300 "$KB_TMP/text.err")"
fi
if grep -q 'auto mode: bridge' "$KB_LOG"; then
	kb_pass "the text negotiation line says the session was bridged"
else
	kb_fail "no 'auto mode: bridge' in the text log"
fi

# A server that sends its KEXINIT only after the client's. No OpenSSH or
# Dropbear build waits like that, so faults_peer.py delays the real sshd's
# packets until the client's KEXINIT has passed, for three connections:
# the compatible client, the FI client, and the bridge's own. Both kinds
# of client must get through well before handshake_timeout.
wait_port=$(kb_free_port)
"$KB_PY" "$(dirname "$0")/faults_peer.py" waitkex "$wait_port" "$SSHD_PORT" 3 \
    >"$KB_TMP/waitkex.out" 2>&1 &
KB_PIDS+=("$!")
kb_wait_port "$wait_port" 10 || kb_fail "the waiting relay did not start"
KB_PORT=$(kb_free_port)
KB_LOG="$KB_TMP/waitkex.log"
mkdir -p "$KB_TMP/waitkex-state"
chmod 700 "$KB_TMP/waitkex-state"
kb_start_kexbridge waitkex "$KB_PORT" --mode auto \
    --listen "127.0.0.1:$KB_PORT" --upstream "127.0.0.1:$wait_port" \
    --state-dir "$KB_TMP/waitkex-state" --log-format json
for who in relay bridge; do
	if [ "$who" = relay ]; then
		opts=("${COMPAT_OPTS[@]}")
	else
		opts=("${KB_FI_OPTS[@]}")
	fi
	started=$SECONDS
	if kb_openssh_within 20 scp "${opts[@]}" -P "$KB_PORT" "$KB_TMP/$who" \
	    "$dest:up-wait-$who" 2>"$KB_TMP/wait-$who.err"; then
		kb_assert_same_file "$KB_TMP/$who" "$KB_HOME/up-wait-$who" \
		    "server waiting for the client's KEXINIT ($who, $((SECONDS - started)) s)"
	else
		kb_fail "server waiting for the client's KEXINIT ($who): scp failed: $(head -c 300 "$KB_TMP/wait-$who.err")"
	fi
done
kb_assert_match "$(cat "$KB_TMP/waitkex.out")" "holding the server's packets" \
    "the waiting relay held the server's packets"
kb_wait_events "$KB_LOG" 2 10 negotiation ||
    kb_fail "fewer than 2 negotiation events from the waiting server within 10 s"
kb_assert_eq "$(kb_json count "$KB_LOG" negotiation decision=relay)" 1 \
    "waiting server: the compatible client was relayed"
kb_assert_eq "$(kb_json count "$KB_LOG" negotiation decision=bridge)" 1 \
    "waiting server: the FI client was bridged"

kb_assert_alive "$auto_pid" "kexbridge (JSON route) still runs"
kb_finish
