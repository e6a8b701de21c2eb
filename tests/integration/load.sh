#!/usr/bin/env bash
# Load through one kexbridge process, all at once:
#   - 200 concurrent tap sessions, each an ssh session running "cat > FILE"
#     with its own 256 KiB file, through one tap listener to a default sshd;
#   - 50 concurrent scp uploads of 4 MiB each through a bridge route to a
#     legacy-only sshd.
# Everything must be done within LOAD_LIMIT seconds, every file must arrive
# with its SHA-256, and afterwards kexbridge's VmRSS and descriptor count
# must be back within 2 MiB and 4 descriptors of the idle values from the
# start. The figures are printed. All sessions are real OpenSSH.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sshd ssh-keygen sha256sum split

TAP_SESSIONS=200
TAP_SIZE=$((256 * 1024))
BRIDGE_SESSIONS=50
BRIDGE_SIZE=$((4 * 1024 * 1024))
LOAD_LIMIT=180
RSS_MARGIN_KB=2048
FD_MARGIN=4
# 250 concurrent sessions under AddressSanitizer take several times the
# CPU and memory, and their figures would not be kexbridge's.
if kb_sanitized; then
	kb_skip "the load test does not run against a sanitizer build"
fi

# Restarts the sshd of instance $1 (listening on $2) with the sshd_config
# lines $3..., which replace the lines with the same keyword.
sshd_reconfigure() {
	local dir="$KB_TMP/$1" port=$2 pid line

	shift 2
	pid=$(cat "$dir/sshd.pid")
	kill "$pid"
	kb_wait_exit "$pid" 10 || kb_fail "sshd $1 did not stop"
	for line in "$@"; do
		sed -i "/^${line%% *} /d" "$dir/sshd_config"
		printf '%s\n' "$line" >>"$dir/sshd_config"
	done
	/usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>>"$KB_TMP/$1.log" &
	KB_PIDS+=("$!")
	kb_wait_port "$port" 10 || kb_fail "sshd $1 did not start again"
}

kb_make_account
dest="$KB_USER@127.0.0.1"
kb_start_sshd default
sshd_reconfigure sshd-default "$SSHD_PORT" "MaxStartups 400" "MaxSessions 400"
tap_sshd=$SSHD_PORT
kb_start_sshd legacy
sshd_reconfigure sshd-legacy "$SSHD_PORT" "MaxStartups 100:30:200" "MaxSessions 100"
br_sshd=$SSHD_PORT

p_tap=$(kb_free_port)
p_br=$(kb_free_port)
mkdir -p "$KB_TMP/state"
chmod 700 "$KB_TMP/state"
cat >"$KB_TMP/load.ini" <<EOF2
[global]
log_format = json
state_dir = $KB_TMP/state
max_sessions = 1000

[route tap]
listen = 127.0.0.1:$p_tap
upstream = 127.0.0.1:$tap_sshd
mode = tap
max_sessions = 400
max_per_source = 400
max_startups = 400

[route br]
listen = 127.0.0.1:$p_br
upstream = 127.0.0.1:$br_sshd
mode = bridge
max_sessions = 100
max_per_source = 100
max_startups = 100
EOF2
kb_start_kexbridge kexbridge "$p_tap" -f "$KB_TMP/load.ini"
kb_pid=$KB_PID
LOG="$KB_TMP/kexbridge.log"
kb_wait_port "$p_br" 10 || kb_fail "no bridge listener on $p_br"

# One random file per session, so a mix-up between sessions shows.
mkdir -p "$KB_TMP/tap-src" "$KB_TMP/br-src"
head -c $((TAP_SESSIONS * TAP_SIZE)) /dev/urandom |
    split -a 3 -d -b "$TAP_SIZE" - "$KB_TMP/tap-src/t"
head -c $((BRIDGE_SESSIONS * BRIDGE_SIZE)) /dev/urandom |
    split -a 3 -d -b "$BRIDGE_SIZE" - "$KB_TMP/br-src/b"

kb_usage() {
	printf '%s %s\n' "$(awk '/^VmRSS:/ {print $2}' "/proc/$kb_pid/status")" \
	    "$(find "/proc/$kb_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)"
}

kb_conns() {
	ss -Htanp 2>/dev/null | grep -F "pid=$kb_pid," | grep -cv '^LISTEN' || true
}

# ssh with the options of kb_openssh, but reading stdin from the file $2;
# $1 is the time limit.
ssh_from_file() {
	local limit=$1 input=$2

	shift 2
	SSH_ASKPASS="$KB_ASKPASS" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
	    timeout "$limit" ssh -F /dev/null \
	    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no \
	    -o GlobalKnownHostsFile=/dev/null \
	    -o PreferredAuthentications=password -o PubkeyAuthentication=no \
	    -o NumberOfPasswordPrompts=1 -o ConnectTimeout=30 -o BatchMode=no \
	    "$@" <"$input"
}

# Warm-up: one session per route, then the idle figures.
ssh_from_file 30 "$KB_TMP/tap-src/t000" -p "$p_tap" "$dest" 'cat > warm-tap' 2>/dev/null ||
    kb_fail "warm-up ssh through tap failed"
kb_openssh scp -O "${KB_FI_OPTS[@]}" -P "$p_br" "$KB_TMP/br-src/b000" "$dest:warm-br" \
    2>/dev/null || kb_fail "warm-up scp through the bridge failed"
rm -f "$KB_HOME/warm-tap" "$KB_HOME/warm-br"
sleep 1
read -r base_rss base_fds <<<"$(kb_usage)"
kb_say "idle baseline: VmRSS $base_rss kB, $base_fds descriptors"
starts_before=$(kb_json count "$LOG" session_start)
kb_rss_start "$kb_pid" "$KB_TMP/rss-peak"

# Every job waits for the file "go", so all sessions start together.
mkdir -p "$KB_TMP/rc"
go="$KB_TMP/go"
jobs=()
for i in $(seq -f '%03g' 0 $((TAP_SESSIONS - 1))); do
	(
		until [ -e "$go" ]; do sleep 0.05; done
		rc=0
		ssh_from_file "$LOAD_LIMIT" "$KB_TMP/tap-src/t$i" -p "$p_tap" "$dest" \
		    "cat > tap-$i" 2>"$KB_TMP/rc/tap-$i.err" || rc=$?
		echo "$rc" >"$KB_TMP/rc/tap-$i"
	) &
	jobs+=("$!")
done
for i in $(seq -f '%03g' 0 $((BRIDGE_SESSIONS - 1))); do
	(
		until [ -e "$go" ]; do sleep 0.05; done
		rc=0
		kb_openssh_within "$LOAD_LIMIT" scp -O "${KB_FI_OPTS[@]}" -o ConnectTimeout=30 \
		    -P "$p_br" "$KB_TMP/br-src/b$i" "$dest:br-$i" 2>"$KB_TMP/rc/br-$i.err" || rc=$?
		echo "$rc" >"$KB_TMP/rc/br-$i"
	) &
	jobs+=("$!")
done
KB_PIDS+=("${jobs[@]}")
start=$SECONDS
touch "$go"
deadline=$((start + LOAD_LIMIT))
for job in "${jobs[@]}"; do
	while kill -0 "$job" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do
		sleep 0.2
	done
done
took=$((SECONDS - start))
running=0
for job in "${jobs[@]}"; do
	kill -0 "$job" 2>/dev/null && running=$((running + 1))
done
if [ "$running" -eq 0 ]; then
	kb_pass "all $((TAP_SESSIONS + BRIDGE_SESSIONS)) sessions finished in $took s (limit $LOAD_LIMIT s)"
else
	kb_fail "$running session(s) still run after $LOAD_LIMIT s"
fi
peak=$(kb_rss_stop "$KB_TMP/rss-peak")

# Exit statuses and SHA-256 of every file.
check_batch() {
	local kind=$1 n=$2 srcdir=$3 prefix=$4 i bad=0 failed=0 first=

	for i in $(seq -f '%03g' 0 $((n - 1))); do
		if [ "$(cat "$KB_TMP/rc/$kind-$i" 2>/dev/null || echo none)" != 0 ]; then
			failed=$((failed + 1))
			[ -z "$first" ] && first="$kind-$i exit $(cat "$KB_TMP/rc/$kind-$i" 2>/dev/null || echo none): $(grep -v '^Warning' "$KB_TMP/rc/$kind-$i.err" | head -n 2 | tr '\n' ' ')"
		fi
		if [ ! -f "$KB_HOME/$kind-$i" ] ||
		    [ "$(kb_sha256 "$srcdir/$prefix$i")" != "$(kb_sha256 "$KB_HOME/$kind-$i")" ]; then
			bad=$((bad + 1))
			[ -z "$first" ] && first="$kind-$i: SHA-256 differs or file missing"
		fi
	done
	if [ "$failed" -eq 0 ] && [ "$bad" -eq 0 ]; then
		kb_pass "$kind: all $n sessions exited 0 and every SHA-256 matches"
	else
		kb_fail "$kind: $failed session(s) failed, $bad file(s) differ or are missing; first: $first"
	fi
}
check_batch tap "$TAP_SESSIONS" "$KB_TMP/tap-src" t
check_batch br "$BRIDGE_SESSIONS" "$KB_TMP/br-src" b

# The log must show every session, and how many ran at the same time.
starts=$(($(kb_json count "$LOG" session_start) - starts_before))
kb_assert_eq "$starts" $((TAP_SESSIONS + BRIDGE_SESSIONS)) "the log has a session_start for every session"
cat >"$KB_TMP/overlap.py" <<'EOF'
import json
import sys

events = []
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("event") == "session_start":
            events.append((o["ts"], 1))
        elif o.get("event") in ("session_end", "session_record"):
            events.append((o["ts"], -1))
now = peak = 0
for _, d in sorted(events, key=lambda e: (e[0], e[1])):
    now += d
    peak = max(peak, now)
print(peak)
EOF
concurrent=$("$KB_PY" "$KB_TMP/overlap.py" "$LOG")
kb_say "at most $concurrent sessions were open at the same time"
if [ "$concurrent" -ge $(((TAP_SESSIONS + BRIDGE_SESSIONS) / 4)) ]; then
	kb_pass "the sessions overlapped ($concurrent at once)"
else
	kb_fail "only $concurrent sessions were open at once; the load did not overlap"
fi

# After a failed memory check: shows through gdb, when installed, whether
# the memory is in use or only kept by glibc's allocator (malloc_stats()
# writes to kexbridge's stderr, its log). $1 is the process, $2 its log.
heap_note() {
	command -v gdb >/dev/null 2>&1 || return 0
	timeout 30 gdb -p "$1" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
	sleep 0.3
	kb_say "glibc heap of kexbridge: $(grep -A2 '^Total' "$2" | tail -n 2 | tr -s ' \n' ' ')"
}

# Back to the idle figures.
deadline=$((SECONDS + 15))
until [ "$(kb_conns)" -eq 0 ] || [ "$SECONDS" -ge "$deadline" ]; do sleep 0.2; done
kb_assert_eq "$(kb_conns)" 0 "kexbridge has no connection open afterwards"
kb_assert_alive "$kb_pid" "kexbridge still runs"
sleep 2
read -r rss fds <<<"$(kb_usage)"
kb_say "VmRSS: idle $base_rss kB, peak $peak kB, after $rss kB; descriptors: idle $base_fds, after $fds"
if [ "$rss" -le $((base_rss + RSS_MARGIN_KB)) ]; then
	kb_pass "VmRSS back within $RSS_MARGIN_KB kB of idle (+$((rss - base_rss)) kB)"
else
	kb_fail "VmRSS is $rss kB, idle was $base_rss kB (+$((rss - base_rss)) kB > $RSS_MARGIN_KB)"
	heap_note "$kb_pid" "$LOG"
fi
if [ "$fds" -le $((base_fds + FD_MARGIN)) ]; then
	kb_pass "descriptors back within $FD_MARGIN of idle ($fds, idle $base_fds)"
else
	kb_fail "kexbridge has $fds descriptors, idle was $base_fds"
fi

kb_finish
