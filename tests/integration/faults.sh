#!/usr/bin/env bash
# Faults against one kexbridge process with a tap route (to a default sshd)
# and a bridge route (to a legacy-only sshd). For every fault a normal scp
# through the same listener runs at the same time and must arrive intact:
#   - a client that stalls after its version line (handshake_timeout 3 s);
#   - random bytes in a tap stream after the key exchange: relayed as they
#     are, so the sshd fails and kexbridge stays up;
#   - a client TCP reset before the version line, after it, after KEXINIT
#     and during an SFTP upload;
#   - a kill -9 of the sshd session process before login and during an upload;
#   - one flipped byte in an encrypted packet towards the bridge: a MAC
#     error, and nothing corrupted reaches the upstream;
#   - 1,000 connections that never send a byte (limits raised so they are
#     accepted; handshake_timeout closes them);
#   - an upstream that accepts TCP and never speaks.
# Each ended session must be logged with its session id and leave no socket
# open in kexbridge. At the end kexbridge's VmRSS and descriptor count must
# be back within 2 MiB and 4 descriptors of the idle values from the start.
# The resets, the stalled and idle clients, the random bytes, the silent
# upstream and the byte-flipping relay come from faults_peer.py: no real SSH
# program produces them. Every scp and ssh session here is real OpenSSH.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sshd ssh-keygen sha256sum pgrep cmp
PEER="$KB_SRCDIR/tests/integration/faults_peer.py"
"$KB_PY" -c 'import paramiko' 2>/dev/null || kb_skip "paramiko not installed for $KB_PY"

# After 1,000 connections at once, glibc's heap stays fragmented even once
# kexbridge returns free memory with malloc_trim: measured about +3.5 MB of
# VmRSS with under 1 MB more in use. Three rounds of 500 idle bridge
# connections left 785, 788 and 793 KB in use, so the growth is one-time,
# not per session. The margin allows for that, not for a leak.
RSS_MARGIN_KB=5120
FD_MARGIN=4
IDLE_PER_ROUTE=500

# Restarts the sshd of instance $1 with "MaxStartups $2", so hundreds of
# connections that kexbridge opens at once are not dropped by sshd.
sshd_set_startups() {
	local dir="$KB_TMP/$1" pid

	pid=$(cat "$dir/sshd.pid")
	kill "$pid"
	kb_wait_exit "$pid" 10 || kb_fail "sshd $1 did not stop"
	sed -i "s/^MaxStartups .*/MaxStartups $2/" "$dir/sshd_config"
	/usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>>"$KB_TMP/$1.log" &
	KB_PIDS+=("$!")
	kb_wait_port "$SSHD_PORT" 10 || kb_fail "sshd $1 did not start again"
}

kb_make_account
dest="$KB_USER@127.0.0.1"
kb_start_sshd default
sshd_set_startups sshd-default 2000
tap_sshd=$SSHD_PORT
tap_sshd_pid=$(cat "$KB_TMP/sshd-default/sshd.pid")
kb_start_sshd legacy
br_sshd=$SSHD_PORT
br_sshd_pid=$(cat "$KB_TMP/sshd-legacy/sshd.pid")

silent=$(kb_free_port)
"$KB_PY" "$PEER" silent "$silent" &
KB_PIDS+=("$!")
kb_wait_port "$silent" 10 || kb_fail "the silent upstream did not start"

p_tap=$(kb_free_port)
p_br=$(kb_free_port)
p_tap_silent=$(kb_free_port)
p_br_silent=$(kb_free_port)
mkdir -p "$KB_TMP/state"
chmod 700 "$KB_TMP/state"
limits="max_sessions = 2000
max_per_source = 2000
max_startups = 2000
handshake_timeout = 3"
cat >"$KB_TMP/faults.ini" <<EOF2
[global]
log_format = json
state_dir = $KB_TMP/state
max_sessions = 5000

[route tap]
listen = 127.0.0.1:$p_tap
upstream = 127.0.0.1:$tap_sshd
mode = tap
$limits

[route br]
listen = 127.0.0.1:$p_br
upstream = 127.0.0.1:$br_sshd
mode = bridge
$limits

[route tapsilent]
listen = 127.0.0.1:$p_tap_silent
upstream = 127.0.0.1:$silent
mode = tap
handshake_timeout = 3

[route brsilent]
listen = 127.0.0.1:$p_br_silent
upstream = 127.0.0.1:$silent
mode = bridge
handshake_timeout = 3
upstream_handshake_timeout = 3
EOF2
kb_start_kexbridge kexbridge "$p_tap" -f "$KB_TMP/faults.ini"
KB_PID_MAIN=$KB_PID
LOG="$KB_TMP/kexbridge.log"
for p in "$p_br" "$p_tap_silent" "$p_br_silent"; do
	kb_wait_port "$p" 10 || kb_fail "no listener on $p"
done

head -c $((1024 * 1024)) /dev/urandom >"$KB_TMP/mid"
head -c $((16 * 1024 * 1024)) /dev/urandom >"$KB_TMP/big"

# Prints "RSS_KB FDS" of kexbridge.
kb_usage() {
	printf '%s %s\n' "$(awk '/^VmRSS:/ {print $2}' "/proc/$KB_PID_MAIN/status")" \
	    "$(find "/proc/$KB_PID_MAIN/fd" -mindepth 1 -maxdepth 1 | wc -l)"
}

# Prints the number of TCP sockets kexbridge has open, listeners excepted.
kb_conns() {
	ss -Htanp 2>/dev/null | grep -F "pid=$KB_PID_MAIN," | grep -cv '^LISTEN' || true
}

# Waits up to 10 s until kexbridge has no connection open. $1 names the case.
assert_nothing_open() {
	local deadline=$((SECONDS + 10))

	until [ "$(kb_conns)" -eq 0 ]; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			kb_fail "$1: kexbridge still has $(kb_conns) connection(s) open: $(ss -Htanp |
			    grep -F "pid=$KB_PID_MAIN," | grep -v '^LISTEN' | head -n 4 | tr -s ' ')"
			return
		fi
		sleep 0.1
	done
	kb_pass "$1: kexbridge has no connection open afterwards"
}

# Prints the listening port of route $1 (tap or br).
route_port() { case $1 in tap) echo "$p_tap" ;; br) echo "$p_br" ;; esac; }

# Uploads 1 MiB with scp through route $1 and checks the copy. $2 names the case.
NORMAL_N=0
normal_scp() {
	local route=$1 what=$2 name rc=0 opts=()

	NORMAL_N=$((NORMAL_N + 1))
	name="normal-$NORMAL_N"
	[ "$route" = br ] && opts=("${KB_FI_OPTS[@]}")
	kb_openssh scp -O "${opts[@]}" -P "$(route_port "$route")" "$KB_TMP/mid" \
	    "$dest:$name" 2>"$KB_TMP/normal.err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		kb_fail "$what: concurrent scp through $route exited $rc: $(tail -n 2 "$KB_TMP/normal.err" | tr '\n' ' ')"
	else
		kb_assert_same_file "$KB_TMP/mid" "$KB_HOME/$name" "$what: concurrent scp through $route"
	fi
	rm -f "$KB_HOME/$name"
}

# Starts normal_scp in the background; sets NORMAL_JOB.
normal_scp_bg() {
	normal_scp "$@" >"$KB_TMP/normal-bg.out" 2>&1 &
	NORMAL_JOB=$!
	KB_PIDS+=("$NORMAL_JOB")
}

# Waits for the job of normal_scp_bg and passes on its result.
normal_scp_wait() {
	local rc=0

	kb_wait_exit "$NORMAL_JOB" 60 || kb_fail "concurrent scp still runs after 60 s"
	wait "$NORMAL_JOB" 2>/dev/null || rc=$?
	cat "$KB_TMP/normal-bg.out"
	grep -q 'FAIL:' "$KB_TMP/normal-bg.out" && KB_FAILED=$((KB_FAILED + 1))
	return 0
}

# Prints the session id of the session from client port $1.
sid_of() {
	local line

	kb_wait_events "$LOG" 1 10 session_start "client=127.0.0.1:$1" || return 0
	line=$(kb_json select "$LOG" session_start "client=127.0.0.1:$1" | head -n 1)
	kb_json get "$line" session
}

# Prints the session_end or session_record of session $1 (waits up to 15 s).
end_of() {
	local deadline=$((SECONDS + 15)) line

	while [ "$SECONDS" -lt "$deadline" ]; do
		line=$(kb_json select "$LOG" '*' "session=$1" |
		    grep -E '"event":"session_(end|record)"' | head -n 1 || true)
		[ -n "$line" ] && { printf '%s\n' "$line"; return 0; }
		sleep 0.2
	done
}

# Checks that the session from client port $1 was logged with its id and an
# end; $2 names the case; $3 (optional) is a regex the end line must match.
assert_logged_end() {
	local port=$1 what=$2 want=${3:-} sid end

	sid=$(sid_of "$port")
	if [ -z "$sid" ] || [ "$sid" = None ]; then
		kb_fail "$what: no session_start for client port $port"
		return
	fi
	end=$(end_of "$sid")
	if [ -z "$end" ]; then
		kb_fail "$what: session $sid has no session_end/session_record"
		return
	fi
	kb_pass "$what: session $sid ended: closed_by $(kb_json get "$end" closed_by), reason $(kb_json get "$end" reason)"
	[ -n "$want" ] && kb_assert_match "$end" "$want" "$what: the end of session $sid matches /$want/"
	return 0
}

# Prints kexbridge's VmRSS and descriptors with the label $1, for the report.
usage_note() {
	local r f

	read -r r f <<<"$(kb_usage)"
	kb_say "$1: VmRSS $r kB, $f descriptors"
}

peer_out() { grep -E "^$2=" "$1" | tail -n 1 | cut -d= -f2- || true; }

# --- Idle baseline, after one warm-up session per route -------------------
normal_scp tap "warm-up"
normal_scp br "warm-up"
assert_nothing_open "warm-up"
sleep 1
read -r base_rss base_fds <<<"$(kb_usage)"
kb_say "idle baseline: VmRSS $base_rss kB, $base_fds descriptors"

# --- A client that stalls after its version line --------------------------
for route in tap br; do
	port=$(route_port "$route")
	"$KB_PY" "$PEER" stall "$port" >"$KB_TMP/stall.out" 2>&1 &
	job=$!
	KB_PIDS+=("$job")
	normal_scp "$route" "stall"
	kb_wait_exit "$job" 25 || kb_fail "stall: the stalled client still waits"
	cport=$(peer_out "$KB_TMP/stall.out" local_port)
	outcome=$(peer_out "$KB_TMP/stall.out" outcome | cut -d' ' -f1)
	elapsed=$(sed -n 's/.*elapsed=//p' "$KB_TMP/stall.out")
	kb_assert_eq "$outcome" closed "stall ($route): kexbridge closed the stalled client (after $elapsed s)"
	if awk -v e="${elapsed:-0}" 'BEGIN { exit !(e >= 2.5 && e <= 8) }'; then
		kb_pass "stall ($route): closed after $elapsed s (handshake_timeout 3)"
	else
		kb_fail "stall ($route): closed after '$elapsed' s, expected about 3"
	fi
	if kb_wait_events "$LOG" 1 10 limit limit=handshake_timeout "route=$route" \
	    "client=127.0.0.1:$cport"; then
		line=$(kb_json select "$LOG" limit limit=handshake_timeout "client=127.0.0.1:$cport")
		kb_assert_eq "$(kb_json get "$line" session)" "$(sid_of "$cport")" \
		    "stall ($route): the limit event carries the session id"
	else
		kb_fail "stall ($route): no handshake_timeout limit event for port $cport"
	fi
	assert_logged_end "$cport" "stall ($route)"
	assert_nothing_open "stall ($route)"
done

usage_note "after the stalled clients"

# --- Random bytes in a tap stream after the key exchange ------------------
sshd_errs_before=$(grep -Eci 'bad packet length|corrupted mac|message authentication code incorrect|padding error' \
    "$KB_TMP/sshd-default.log" || true)
"$KB_PY" "$PEER" garbage "$p_tap" >"$KB_TMP/garbage.out" 2>&1 &
job=$!
KB_PIDS+=("$job")
normal_scp tap "garbage"
kb_wait_exit "$job" 30 || kb_fail "garbage: the client still runs"
kb_assert_eq "$(peer_out "$KB_TMP/garbage.out" kex_done)" True "garbage: the key exchange through tap finished first"
kb_assert_eq "$(peer_out "$KB_TMP/garbage.out" closed_by_peer)" yes "garbage: the connection was closed"
cport=$(peer_out "$KB_TMP/garbage.out" local_port)
sid=$(sid_of "$cport")
end=$(end_of "$sid")
kb_assert_eq "$(kb_json get "$end" closed_by)" server \
    "garbage: the sshd ended the session, not kexbridge (session $sid)"
if [ "$(kb_json get "$end" bytes_c2s)" -ge 4096 ]; then
	kb_pass "garbage: all $(kb_json get "$end" bytes_c2s) client bytes went through"
else
	kb_fail "garbage: only $(kb_json get "$end" bytes_c2s) client bytes went through"
fi
sshd_errs_after=$(grep -Eci 'bad packet length|corrupted mac|message authentication code incorrect|padding error' \
    "$KB_TMP/sshd-default.log" || true)
if [ "$sshd_errs_after" -gt "$sshd_errs_before" ]; then
	kb_pass "garbage: the sshd saw the bytes: $(grep -Ei 'bad packet length|corrupted mac|message authentication code incorrect|padding error' "$KB_TMP/sshd-default.log" | tail -n 1)"
else
	kb_fail "garbage: the sshd logged no packet error: $(tail -n 3 "$KB_TMP/sshd-default.log" | tr '\n' ' ')"
fi
kb_assert_alive "$KB_PID_MAIN" "garbage: kexbridge still runs"
assert_nothing_open "garbage"

usage_note "after the random bytes"

# --- Client TCP resets at each phase --------------------------------------
for route in tap br; do
	port=$(route_port "$route")
	for phase in pre version kexinit; do
		"$KB_PY" "$PEER" reset "$port" "$phase" >"$KB_TMP/reset.out" 2>&1 &
		job=$!
		KB_PIDS+=("$job")
		normal_scp "$route" "reset $phase"
		kb_wait_exit "$job" 25 || kb_fail "reset $phase ($route): the client still runs"
		[ "$phase" = kexinit ] && kb_assert_eq "$(peer_out "$KB_TMP/reset.out" server_kexinit)" True \
		    "reset $phase ($route): the server's KEXINIT arrived before the reset"
		assert_logged_end "$(peer_out "$KB_TMP/reset.out" local_port)" "reset $phase ($route)" \
		    '"closed_by":"client"'
		assert_nothing_open "reset $phase ($route)"
	done
	"$KB_PY" "$PEER" midreset "$port" "$KB_USER" "$KB_PASSWORD_FILE" "reset-$route" \
	    >"$KB_TMP/midreset.out" 2>&1 &
	job=$!
	KB_PIDS+=("$job")
	normal_scp "$route" "reset mid-transfer"
	kb_wait_exit "$job" 30 || kb_fail "reset mid-transfer ($route): the client still runs"
	kb_assert_eq "$(peer_out "$KB_TMP/midreset.out" sent)" 2097152 \
	    "reset mid-transfer ($route): 2 MiB were written before the reset"
	assert_logged_end "$(peer_out "$KB_TMP/midreset.out" local_port)" \
	    "reset mid-transfer ($route)" '"closed_by":"client"'
	assert_nothing_open "reset mid-transfer ($route)"
done

usage_note "after the client resets"

# --- kill -9 of the sshd session process ----------------------------------
# Only the processes that appeared for the victim session are killed; the
# concurrent scp starts after they are known.
new_children() { comm -13 <(printf '%s\n' "$2" | sort) <(kb_descendants "$1" | sort); }

# Before authentication, tap only: the bridge meets the upstream after the
# client has logged in.
before=$(kb_descendants "$tap_sshd_pid")
"$KB_PY" "$PEER" stall "$p_tap" >"$KB_TMP/kill.out" 2>&1 &
job=$!
KB_PIDS+=("$job")
sleep 1
victims=$(new_children "$tap_sshd_pid" "$before" | tr '\n' ' ')
normal_scp_bg tap "kill -9 pre-auth"
if [ -n "$victims" ]; then
	# shellcheck disable=SC2086 # one pid per word
	kill -KILL $victims 2>/dev/null || true
else
	kb_fail "kill -9 pre-auth: no sshd process found"
fi
normal_scp_wait
kb_wait_exit "$job" 25 || true
elapsed=$(sed -n 's/.*elapsed=//p' "$KB_TMP/kill.out")
kb_assert_eq "$(peer_out "$KB_TMP/kill.out" outcome | cut -d' ' -f1)" closed \
    "kill -9 pre-auth (tap): the client was closed (after $elapsed s, before handshake_timeout)"
assert_logged_end "$(peer_out "$KB_TMP/kill.out" local_port)" "kill -9 pre-auth (tap)" \
    '"closed_by":"server"'
assert_nothing_open "kill -9 pre-auth (tap)"

# During an upload, on both routes; scp -l keeps it at 2 MB/s.
for route in tap br; do
	if [ "$route" = tap ]; then spid=$tap_sshd_pid; opts=(); else spid=$br_sshd_pid; opts=("${KB_FI_OPTS[@]}"); fi
	before=$(kb_descendants "$spid")
	(
		rc=0
		kb_openssh_within 60 scp -O -l 16000 "${opts[@]}" -P "$(route_port "$route")" \
		    "$KB_TMP/big" "$dest:killed-$route" 2>"$KB_TMP/killed.err" || rc=$?
		echo "$rc" >"$KB_TMP/killed.rc"
	) &
	job=$!
	KB_PIDS+=("$job")
	deadline=$((SECONDS + 20))
	until [ "$(stat -c %s "$KB_HOME/killed-$route" 2>/dev/null || echo 0)" -gt 1048576 ]; do
		[ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.05
	done
	victims=$(new_children "$spid" "$before" | tr '\n' ' ')
	normal_scp_bg "$route" "kill -9 mid-transfer"
	if [ -n "$victims" ]; then
		# shellcheck disable=SC2086 # one pid per word
		kill -KILL $victims 2>/dev/null || true
	else
		kb_fail "kill -9 mid-transfer ($route): no sshd process found"
	fi
	kb_wait_exit "$job" 40 || kb_fail "kill -9 mid-transfer ($route): scp still runs"
	normal_scp_wait
	rc=$(cat "$KB_TMP/killed.rc" 2>/dev/null || echo missing)
	if [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ "$rc" != missing ]; then
		kb_pass "kill -9 mid-transfer ($route): scp failed ($rc: $(grep -v '^Warning' "$KB_TMP/killed.err" | head -n 1))"
	else
		kb_fail "kill -9 mid-transfer ($route): scp exit status $rc, expected a failure"
	fi
	sid=$(kb_json select "$LOG" session_start "route=$route" | tail -n 2 | head -n 1)
	sid=$(kb_json get "$sid" session)
	end=$(end_of "$sid")
	kb_assert_match "$end" '"closed_by":"(server|upstream)"' \
	    "kill -9 mid-transfer ($route): session $sid logged as ended by the server: $(printf '%s' "$end" | grep -o '"closed_by":"[a-z]*","reason":"[a-z_]*"')"
	assert_nothing_open "kill -9 mid-transfer ($route)"
	rm -f "$KB_HOME/killed-$route"
done

usage_note "after the kill -9 cases"

# --- One flipped byte towards the bridge ----------------------------------
# hmac-sha2-256-etm keeps the packet length in the clear, so the relay can
# flip a byte inside the ciphertext of a whole packet.
p_flip=$(kb_free_port)
"$KB_PY" "$PEER" flip "$p_flip" "$p_br" 1048576 32 >"$KB_TMP/flip.out" 2>&1 &
flip_job=$!
KB_PIDS+=("$flip_job")
kb_wait_port "$p_flip" 10 || kb_fail "flip: the relay did not start"
normal_scp_bg br "flip"
rc=0
kb_openssh scp -O -o "KexAlgorithms=$KB_FI_KEX" -o Ciphers=aes128-ctr \
    -o MACs=hmac-sha2-256-etm@openssh.com -P "$p_flip" "$KB_TMP/big" "$dest:flipped" \
    2>"$KB_TMP/flip.err" || rc=$?
normal_scp_wait
kb_wait_exit "$flip_job" 20 || kb_fail "flip: the relay still runs"
kb_say "flip: $(tr '\n' ' ' <"$KB_TMP/flip.out")"
kb_assert_match "$(cat "$KB_TMP/flip.out")" 'flipped=True' "flip: the relay flipped a byte"
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
	kb_pass "flip: scp failed ($rc: $(grep -v '^Warning' "$KB_TMP/flip.err" | head -n 1))"
else
	kb_fail "flip: scp exit status $rc, expected a failure"
fi
kb_assert_match "$(cat "$KB_TMP/flip.err")" 'disconnect.*:5:.*integrity' \
    "flip: the client receives SSH_MSG_DISCONNECT with reason MAC error (5)"
sid=$(sid_of "$(peer_out "$KB_TMP/flip.out" upstream_port)")
flip_line=$(grep -F "\"session\":\"$sid\"" "$LOG" | grep -iE 'integrity check|invalid MAC' || true)
kb_assert_match "$flip_line" 'integrity check|invalid MAC' \
    "flip: the bridge logs the MAC error for session $sid: $flip_line"
end=$(end_of "$sid")
kb_assert_match "$end" 'session_(end|record)' \
    "flip: session $sid ended: $(printf '%s' "$end" | grep -o '"closed_by":"[a-z]*","reason":"[a-z_]*"')"
if [ ! -e "$KB_HOME/flipped" ]; then
	kb_pass "flip: no file reached the upstream"
else
	got=$(stat -c %s "$KB_HOME/flipped")
	if cmp -s -n "$got" "$KB_TMP/big" "$KB_HOME/flipped"; then
		kb_pass "flip: the $got bytes on the upstream are a prefix of the original"
	else
		kb_fail "flip: the upstream file differs from the original within its $got bytes"
	fi
	if [ "$got" -eq "$(stat -c %s "$KB_TMP/big")" ]; then
		kb_fail "flip: the whole file arrived although a packet was corrupted"
	fi
fi
assert_nothing_open "flip"

usage_note "after the flipped byte"

# --- 1,000 connections that never send a byte ----------------------------
# $1 names the round.
idle_round() {
	local round=$1 limits_before route job out idle_jobs=()

	limits_before=$(kb_json count "$LOG" limit limit=handshake_timeout)
	for route in tap br; do
		"$KB_PY" "$PEER" idle "$(route_port "$route")" "$IDLE_PER_ROUTE" 100 30 \
		    >"$KB_TMP/idle-$route.out" 2>&1 &
		idle_jobs+=("$!")
		KB_PIDS+=("$!")
	done
	sleep 1
	normal_scp tap "$round, during"
	normal_scp br "$round, during"
	for job in "${idle_jobs[@]}"; do
		kb_wait_exit "$job" 60 || kb_fail "$round: a client still runs"
	done
	for route in tap br; do
		out=$(tr '\n' ' ' <"$KB_TMP/idle-$route.out")
		kb_assert_match "$out" "connected=$IDLE_PER_ROUTE refused=0" \
		    "$round ($route): all $IDLE_PER_ROUTE accepted ($out)"
		kb_assert_match "$out" "closed=$IDLE_PER_ROUTE reset=0 still_open=0" \
		    "$round ($route): all closed cleanly by handshake_timeout"
	done
	if kb_wait_events "$LOG" $((limits_before + 2 * IDLE_PER_ROUTE)) 20 limit \
	    limit=handshake_timeout; then
		kb_pass "$round: $((2 * IDLE_PER_ROUTE)) handshake_timeout limit events"
	else
		kb_fail "$round: $(($(kb_json count "$LOG" limit limit=handshake_timeout) - limits_before)) limit events, expected $((2 * IDLE_PER_ROUTE))"
	fi
	assert_nothing_open "$round"
	normal_scp tap "$round, after"
	normal_scp br "$round, after"
}

idle_round "idle connections"
usage_note "after 1,000 idle connections"

# --- An upstream that accepts TCP and never speaks ------------------------
"$KB_PY" "$PEER" stall "$p_tap_silent" >"$KB_TMP/silent.out" 2>&1 &
job=$!
KB_PIDS+=("$job")
normal_scp tap "silent upstream"
kb_wait_exit "$job" 25 || kb_fail "silent upstream (tap): the client still waits"
elapsed=$(sed -n 's/.*elapsed=//p' "$KB_TMP/silent.out")
kb_assert_eq "$(peer_out "$KB_TMP/silent.out" outcome | cut -d' ' -f1)" closed \
    "silent upstream (tap): the client was closed after $elapsed s"
cport=$(peer_out "$KB_TMP/silent.out" local_port)
if kb_wait_events "$LOG" 1 10 limit limit=handshake_timeout route=tapsilent \
    "client=127.0.0.1:$cport"; then
	kb_pass "silent upstream (tap): handshake_timeout logged"
else
	kb_fail "silent upstream (tap): no handshake_timeout limit event"
fi
assert_logged_end "$cport" "silent upstream (tap)"

start=$SECONDS
rc=0
normal_scp_bg br "silent upstream"
kb_openssh scp -O "${KB_FI_OPTS[@]}" -P "$p_br_silent" "$KB_TMP/mid" "$dest:silent" \
    2>"$KB_TMP/silent.err" || rc=$?
normal_scp_wait
took=$((SECONDS - start))
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$took" -le 12 ]; then
	kb_pass "silent upstream (bridge): scp failed after $took s ($(grep -v '^Warning' "$KB_TMP/silent.err" | head -n 1))"
else
	kb_fail "silent upstream (bridge): scp exit status $rc after $took s"
fi
sid=$(kb_json get "$(kb_json select "$LOG" session_start route=brsilent | tail -n 1)" session)
kb_assert_match "$(grep -F "\"session\":\"$sid\"" "$LOG" | grep -v session_start)" \
    'timeout|timed out' "silent upstream (bridge): session $sid logs the timeout"
assert_nothing_open "silent upstream"

usage_note "after the silent upstreams"

# After a failed memory check: shows through gdb, when installed, whether
# the memory is in use or only kept by glibc's allocator (malloc_stats()
# writes to kexbridge's stderr, its log). $1 is the process, $2 its log.
heap_note() {
	command -v gdb >/dev/null 2>&1 || return 0
	timeout 30 gdb -p "$1" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
	sleep 0.3
	kb_say "glibc heap of kexbridge: $(grep -A2 '^Total' "$2" | tail -n 2 | tr -s ' \n' ' ')"
}

# --- Back to the idle figures ---------------------------------------------
kb_assert_alive "$KB_PID_MAIN" "kexbridge still runs after every fault"
sleep 2
read -r rss fds <<<"$(kb_usage)"
kb_say "after the faults: VmRSS $rss kB (idle $base_rss), $fds descriptors (idle $base_fds)"
if kb_sanitized; then
	kb_say "memory check skipped in a sanitizer build"
elif [ "$rss" -le $((base_rss + RSS_MARGIN_KB)) ]; then
	kb_pass "VmRSS back within $RSS_MARGIN_KB kB of idle (+$((rss - base_rss)) kB)"
else
	kb_fail "VmRSS is $rss kB, idle was $base_rss kB (+$((rss - base_rss)) kB > $RSS_MARGIN_KB)"
	heap_note "$KB_PID_MAIN" "$LOG"
fi
if [ "$fds" -le $((base_fds + FD_MARGIN)) ]; then
	kb_pass "descriptors back within $FD_MARGIN of idle ($fds, idle $base_fds)"
else
	kb_fail "kexbridge has $fds descriptors, idle was $base_fds: $(find "/proc/$KB_PID_MAIN/fd" -mindepth 1 -printf '%l ' | head -c 600)"
fi

kb_finish
