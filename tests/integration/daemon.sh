#!/usr/bin/env bash
# The daemon runs unattended: SIGHUP reloads the configuration file while
# transfers run, SIGTERM drains open sessions, and "user" drops root.
#
# Reload: three 50 MiB uploads run through a bridge route while SIGHUP
# brings a file that adds a second route and changes the first route's
# idle_timeout. Every upload arrives unchanged (SHA-256), the first route
# accepts throughout, the new route accepts, and a later reload that removes
# the first route closes its port. An invalid file on SIGHUP is logged with
# FILE:LINE and the running configuration stays.
# Drain: SIGTERM during an upload lets it finish unchanged and kexbridge
# exits 0; with drain_timeout = 1 a throttled upload is cut and logged.
# Privilege drop: with user = nobody, ps shows nobody and tap and bridge
# routes still carry files.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sshd ssh-keygen sha256sum ps

UPLOADS=3

kb_make_account
kb_start_sshd legacy
legacy_port=$SSHD_PORT
kb_start_sshd default
modern_port=$SSHD_PORT
dest="$KB_USER@127.0.0.1"
conf="$KB_TMP/kexbridge.conf"
src="$KB_TMP/big"
small="$KB_TMP/small"
head -c $((50 * 1024 * 1024)) /dev/urandom >"$src"
head -c 65536 /dev/urandom >"$small"

# Writes the configuration file $1: [global] with the JSON log, the state
# folder and further lines from $2, then the routes given as
# NAME:PORT:MODE:UPSTREAM_PORT[:EXTRA KEY LINE].
write_conf() {
	local file=$1 global=$2 route name port mode upstream extra

	shift 2
	{
		printf '[global]\nlog_format = json\nstate_dir = %s\n' "$KB_TMP/state"
		printf '%b' "$global"
		for route in "$@"; do
			IFS=: read -r name port mode upstream extra <<<"$route"
			printf '\n[route %s]\nlisten = 127.0.0.1:%s\n' "$name" "$port"
			printf 'upstream = 127.0.0.1:%s\nmode = %s\n' "$upstream" "$mode"
			if [ -n "$extra" ]; then
				printf '%s\n' "$extra"
			fi
		done
	} >"$file"
}

# Uploads $1 through the bridge on port $2 to the remote name $3 with the
# FI 4.0(2a)+ offer; further arguments go to scp.
fi_upload() {
	local file=$1 port=$2 name=$3

	shift 3
	kb_openssh_within 300 scp -O "${KB_FI_OPTS[@]}" -P "$port" "$@" "$file" \
	    "$dest:$name" 2>"$KB_TMP/scp-$name.err"
}

# Waits up to $2 seconds until the upload $1 has started arriving upstream.
wait_arriving() {
	local file="$KB_HOME/$1" deadline=$((SECONDS + $2))

	until [ -s "$file" ]; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# The message lines of the JSON log $1 (the daemon's own log lines).
messages() { kb_json select "$1" message | sed 's/.*"message":"\([^"]*\)".*/\1/'; }

# --- Reload under load -------------------------------------------------

port_a=$(kb_free_port)
port_b=$(kb_free_port)
write_conf "$conf" '' "a:$port_a:bridge:$legacy_port"
kb_start_kexbridge reload "$port_a" -f "$conf"
log="$KB_TMP/reload.log"
pid=$KB_PID

upload_pids=()
for i in $(seq 1 "$UPLOADS"); do
	fi_upload "$src" "$port_a" "load-$i" &
	upload_pids+=("$!")
done
for i in $(seq 1 "$UPLOADS"); do
	wait_arriving "load-$i" 60 || kb_fail "upload load-$i did not start within 60 s"
done

write_conf "$conf" '' "a:$port_a:bridge:$legacy_port:idle_timeout = 600" \
    "b:$port_b:bridge:$legacy_port"
kill -HUP "$pid"
if kb_wait_log "$log" 'configuration reloaded: 2 routes' 10; then
	kb_pass "SIGHUP reloads the file with two routes"
else
	kb_fail "no 'configuration reloaded: 2 routes' in the log"
fi
if kb_port_listening "$port_a"; then
	kb_pass "route a keeps listening across the reload"
else
	kb_fail "route a stopped listening on $port_a after the reload"
fi
kb_wait_port "$port_b" 5 || kb_fail "route b does not listen on $port_b"
active=0
for i in $(seq 1 "$UPLOADS"); do
	[ "$(stat -c %s "$KB_HOME/load-$i" 2>/dev/null || echo 0)" -lt "$(stat -c %s "$src")" ] &&
	    active=$((active + 1))
done
if [ "$active" -gt 0 ]; then
	kb_pass "uploads still running at the reload: $active of $UPLOADS"
else
	kb_fail "every upload had finished before the reload, so none ran across it"
fi

if fi_upload "$small" "$port_b" new-route; then
	kb_assert_same_file "$small" "$KB_HOME/new-route" "upload through the new route b"
else
	kb_fail "upload through route b failed: $(head -c 300 "$KB_TMP/scp-new-route.err")"
fi
for i in $(seq 1 "$UPLOADS"); do
	if wait "${upload_pids[$((i - 1))]}"; then
		kb_assert_same_file "$src" "$KB_HOME/load-$i" "upload load-$i across the reload"
	else
		kb_fail "upload load-$i failed: $(head -c 300 "$KB_TMP/scp-load-$i.err")"
	fi
done
kb_assert_eq "$(kb_json count "$log" session_record route=a exit_status=0)" \
    "$UPLOADS" "route a logged $UPLOADS complete sessions"
if kb_wait_log "$log" 'last session on the previous configuration ended' 10; then
	kb_pass "the previous configuration is freed after its last session"
else
	kb_fail "the previous configuration was not freed"
fi

# An invalid file: the error names FILE:LINE and route b goes on.
printf '[global]\nlog_format = json\n\n[route b]\nlisten = 127.0.0.1:%s\nbogus = 1\n' \
    "$port_b" >"$conf"
kill -HUP "$pid"
if kb_wait_log "$log" "configuration not reloaded.*${conf//./\\.}:6: unknown key 'bogus'" 10; then
	kb_pass "an invalid file is rejected with FILE:LINE"
else
	kb_fail "no error naming $conf:6 for the invalid file"
fi
kb_assert_alive "$pid" "kexbridge runs on after the invalid file"
if fi_upload "$small" "$port_b" after-invalid; then
	kb_assert_same_file "$small" "$KB_HOME/after-invalid" "route b after the invalid file"
else
	kb_fail "route b stopped working after the invalid file"
fi

# A file without route a closes its port.
write_conf "$conf" '' "b:$port_b:bridge:$legacy_port"
kill -HUP "$pid"
kb_wait_log "$log" 'configuration reloaded: 1 routes' 10 ||
    kb_fail "no 'configuration reloaded: 1 routes' after removing route a"
if kb_port_listening "$port_a"; then
	kb_fail "route a still listens on $port_a after it was removed"
elif fi_upload "$small" "$port_a" removed-route; then
	kb_fail "route a accepted an upload after it was removed"
else
	kb_pass "route a no longer accepts after it was removed"
fi
if kb_port_listening "$port_b"; then
	kb_pass "route b keeps listening"
else
	kb_fail "route b stopped listening"
fi

# --- Drain on SIGTERM --------------------------------------------------

fi_upload "$src" "$port_b" drained &
upload=$!
wait_arriving drained 60 || kb_fail "upload drained did not start"
kill -TERM "$pid"
if wait "$upload"; then
	kb_assert_same_file "$src" "$KB_HOME/drained" "upload that runs during the drain"
else
	kb_fail "upload during the drain failed: $(head -c 300 "$KB_TMP/scp-drained.err")"
fi
status=0
kb_wait_exit "$pid" 35 || kb_fail "kexbridge did not exit within drain_timeout"
wait "$pid" || status=$?
kb_assert_eq "$status" 0 "kexbridge exits 0 after the drain"
kb_assert_match "$(messages "$log")" 'all sessions finished' "the drain ends with its last session"

# drain_timeout = 1 cuts a throttled upload (scp -l is in Kbit/s).
port_c=$(kb_free_port)
write_conf "$conf" 'drain_timeout = 1\n' "c:$port_c:bridge:$legacy_port"
kb_start_kexbridge cut "$port_c" -f "$conf"
log="$KB_TMP/cut.log"
pid=$KB_PID
fi_upload "$src" "$port_c" cut -l 2000 &
upload=$!
wait_arriving cut 60 || kb_fail "upload cut did not start"
kill -TERM "$pid"
status=0
kb_wait_exit "$pid" 10 || kb_fail "kexbridge did not exit within 10 s with drain_timeout = 1"
wait "$pid" || status=$?
kb_assert_eq "$status" 0 "kexbridge exits 0 after cutting the session"
if wait "$upload"; then
	kb_fail "the throttled upload completed, although drain_timeout = 1 should cut it"
else
	kb_pass "the throttled upload is cut"
fi
kb_assert_match "$(messages "$log")" 'drain_timeout of 1 s reached; closing sessions still open: 1' \
    "the cut is logged with the count"
kb_assert_eq "$(kb_json count "$log" session_record reason=shutdown closed_by=kexbridge)" 1 \
    "the cut session's record names the shutdown"

# --- Privilege drop ----------------------------------------------------

port_t=$(kb_free_port)
port_d=$(kb_free_port)
rm -rf "$KB_TMP/state"
write_conf "$conf" 'user = nobody\n' "tap:$port_t:tap:$modern_port" \
    "bridge:$port_d:bridge:$legacy_port"
kb_start_kexbridge drop "$port_d" -f "$conf"
log="$KB_TMP/drop.log"
pid=$KB_PID
kb_wait_log "$log" 'running as user nobody' 10 || kb_fail "no 'running as user nobody' log line"
kb_assert_eq "$(ps -o user= -p "$pid" | tr -d ' ')" nobody "ps shows kexbridge as nobody"
kb_assert_eq "$(stat -c %U "$KB_TMP/state")" nobody "the state folder belongs to nobody"
kb_assert_eq "$(find "$KB_TMP/state" -mindepth 1 ! -user nobody | wc -l)" 0 \
    "every file in the state folder belongs to nobody"
if kb_openssh scp -O -P "$port_t" "$small" "$dest:tap-dropped" 2>"$KB_TMP/scp-tap.err"; then
	kb_assert_same_file "$small" "$KB_HOME/tap-dropped" "tap upload as nobody"
else
	kb_fail "tap upload as nobody failed: $(head -c 300 "$KB_TMP/scp-tap.err")"
fi
if fi_upload "$small" "$port_d" bridge-dropped; then
	kb_assert_same_file "$small" "$KB_HOME/bridge-dropped" "bridge upload as nobody"
else
	kb_fail "bridge upload as nobody failed: $(head -c 300 "$KB_TMP/scp-bridge-dropped.err")"
fi
if [ -s "$KB_TMP/state/known_hosts" ]; then
	kb_pass "nobody wrote the upstream host key to known_hosts"
else
	kb_fail "known_hosts in the state folder is missing or empty"
fi
kill -TERM "$pid"
status=0
kb_wait_exit "$pid" 10 || kb_fail "kexbridge as nobody did not exit on SIGTERM"
wait "$pid" || status=$?
kb_assert_eq "$status" 0 "kexbridge as nobody exits 0"

# --- Checking a configuration with -t ---------------------------------------
check_conf="$KB_TMP/check.conf"
cat >"$check_conf" <<EOF
[global]
state_dir = $KB_TMP/check-state

[route fi]
listen = 127.0.0.1:$(kb_free_port)
upstream = 127.0.0.1:$SSHD_PORT
mode = bridge
EOF
status=0
out=$("$KEXBRIDGE" run -t -f "$check_conf" 2>&1) || status=$?
kb_assert_eq "$status" 0 "run -t accepts a valid file ($(head -n 1 <<<"$out"))"
kb_assert_match "$out" '^# configuration OK' "run -t says the configuration is OK"
kb_assert_match "$out" 'handshake_timeout = 60' "run -t prints the defaults it applies"
sed -i 's/^mode = bridge/mode = bridge\nupstream_cipher = aes128-cbc/' "$check_conf"
status=0
out=$("$KEXBRIDGE" run -t -f "$check_conf" 2>&1) || status=$?
kb_assert_eq "$status" 2 "run -t rejects an unknown key"
kb_assert_match "$out" "check\\.conf:8: .*'upstream_cipher'.*did you mean 'upstream_ciphers'" \
    "run -t names the file, the line and the likely key"
sed -i '/^upstream_cipher/d; s|^state_dir = .*|state_dir = '"$KB_TMP"'/no-such-dir/state|' "$check_conf"
status=0
out=$("$KEXBRIDGE" run -t -f "$check_conf" 2>&1) || status=$?
kb_assert_eq "$status" 2 "run -t rejects a state_dir whose parent is missing"
kb_assert_match "$out" 'cannot create state directory .*no-such-dir/state' \
    "run -t says the state directory cannot be created"

# --- Open file limit -------------------------------------------------------
# A soft limit of 256 is raised to the hard limit at start. With a hard
# limit of 2000, below what max_sessions = 1024 may need, a warning is logged.

# Starts a tap route with the soft open file limit $1 and, when $2 is not
# empty, the hard limit $2; its stderr goes to $KB_TMP/$3.log. Sets pid.
start_with_nofile() {
	local port

	port=$(kb_free_port)
	(
		ulimit -Sn "$1"
		if [ -n "$2" ]; then
			ulimit -Hn "$2"
		fi
		exec "$KEXBRIDGE" run --listen "127.0.0.1:$port" \
		    --upstream "127.0.0.1:$SSHD_PORT" --mode tap 2>"$KB_TMP/$3.log"
	) &
	pid=$!
	KB_PIDS+=("$pid")
	kb_wait_port "$port" 10 || kb_fail "kexbridge ($3) is not listening"
}

start_with_nofile 256 "" nofile
soft=$(awk '/^Max open files/ { print $4 }' "/proc/$pid/limits")
hard=$(awk '/^Max open files/ { print $5 }' "/proc/$pid/limits")
kb_assert_eq "$soft" "$hard" "the soft open file limit of 256 was raised to the hard limit"
kill -TERM "$pid"
kb_wait_exit "$pid" 10 || kb_fail "kexbridge (soft limit 256) did not exit on SIGTERM"

start_with_nofile 256 2000 nofile-low
kb_assert_match "$(cat "$KB_TMP/nofile-low.log")" \
    'WARN.*open file limit is 2000.*max_sessions = 1024.*6208' \
    "a hard limit of 2000 is reported against max_sessions"
kill -TERM "$pid"
kb_wait_exit "$pid" 10 || kb_fail "kexbridge (hard limit 2000) did not exit on SIGTERM"

kb_finish
