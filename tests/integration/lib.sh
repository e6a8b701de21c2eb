# Shared helpers for the integration tests. Source it from a test script:
#   . "$(dirname "$0")/lib.sh"
#
# The tests start real programs (OpenSSH sshd, dropbear, kexbridge) on
# 127.0.0.1 only, create a throwaway local account, and remove everything
# they started when the script exits, on success or failure. A test exits 0
# when it passes, 1 when a check fails and 77 when it cannot run here.
# Every wait is bounded by a timeout.

# shellcheck shell=bash disable=SC2034

KB_TEST_NAME=$(basename "$0" .sh)
KB_SRCDIR=${top_srcdir:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KEXBRIDGE=${KEXBRIDGE:-${top_builddir:-$PWD}/kexbridge}
KB_PY=/usr/bin/python3	# the Debian python3, which has paramiko

# The FI 4.0(2a)+ client offer (Cisco UCS Manager backup over SCP/SFTP).
KB_FI_KEX=diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512
KB_FI_CIPHERS=aes128-ctr,aes192-ctr,aes256-ctr
KB_FI_MACS=hmac-sha2-256,hmac-sha2-512
KB_FI_OPTS=(-o "KexAlgorithms=$KB_FI_KEX" -o "Ciphers=$KB_FI_CIPHERS"
    -o "MACs=$KB_FI_MACS")

# What the legacy-only sshd offers, like an old backup server.
KB_LEGACY_KEX=diffie-hellman-group1-sha1,diffie-hellman-group14-sha1
KB_LEGACY_CIPHERS=aes128-cbc,3des-cbc,aes256-cbc
KB_LEGACY_MACS=hmac-sha1,hmac-md5

KB_PIDS=()
KB_USERS=()
KB_MOUNTS=()
KB_TMP=
KB_FAILED=0

kb_say() { printf '%s: %s\n' "$KB_TEST_NAME" "$*"; }
kb_skip() { kb_say "SKIP: $*"; exit 77; }
kb_pass() { kb_say "ok: $*"; }

# Records a failed check and goes on, so one run shows every failure.
kb_fail() {
	kb_say "FAIL: $*" >&2
	KB_FAILED=$((KB_FAILED + 1))
}

# Ends the test with the right exit status.
kb_finish() {
	if [ "$KB_FAILED" -ne 0 ]; then
		kb_say "$KB_FAILED check(s) failed"
		exit 1
	fi
	kb_say "all checks passed"
	exit 0
}

# Skips unless the test can run here: integration tests enabled, root, and
# the named programs installed.
kb_require() {
	local tool

	if [ "${KEXBRIDGE_TESTS:-all}" = unit ]; then
		kb_skip "KEXBRIDGE_TESTS=unit"
	fi
	if [ "$(id -u)" -ne 0 ]; then
		kb_skip "needs root (starts sshd and creates a local account)"
	fi
	for tool in ss useradd userdel chpasswd timeout "$KB_PY" "$@"; do
		command -v "$tool" >/dev/null 2>&1 ||
		    kb_skip "$tool not installed (run contrib/deps.sh)"
	done
	[ -x "$KEXBRIDGE" ] || kb_skip "kexbridge not built at $KEXBRIDGE"
	KB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kb-$KB_TEST_NAME.XXXXXX")
	chmod 755 "$KB_TMP"
	kb_write_jsontool
	trap kb_cleanup EXIT
	trap 'exit 1' INT TERM HUP
}

# True when $KEXBRIDGE is built with AddressSanitizer, whose quarantine and
# shadow memory make its RSS and speed say nothing about kexbridge's own.
kb_sanitized() {
	grep -q 'libasan' <<<"$(ldd "$KEXBRIDGE" 2>/dev/null)"
}

# Checks every file the test left in its temp folder (logs of kexbridge,
# sshd and clients, outputs, captures) for the test account's password, so
# that no test anywhere in the suite lets a secret reach a log unnoticed.
# Files named *password* hold it on purpose and are skipped.
kb_scan_for_password() {
	local leaks

	[ -n "${KB_PASSWORD_FILE:-}" ] && [ -s "$KB_PASSWORD_FILE" ] || return 0
	leaks=$(grep -rlaF --exclude='*password*' -f "$KB_PASSWORD_FILE" -- "$KB_TMP" \
	    2>/dev/null || true)
	if [ -n "$leaks" ]; then
		kb_say "FAIL: the test password appears in: $(printf '%s ' "$leaks")"
		return 1
	fi
	return 0
}

# Kills every process the test started, unmounts what it mounted (KB_MOUNTS),
# removes its accounts and its temp folder. On failure the logs are printed
# first, because the temp folder holding them goes away.
kb_cleanup() {
	local status=$? pid user log mnt

	for pid in "${KB_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${KB_PIDS[@]}"; do
		kb_wait_exit "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
	done
	kb_scan_for_password || status=1
	if [ "$status" -ne 0 ] && [ "$status" -ne 77 ] && [ -n "$KB_TMP" ]; then
		for log in "$KB_TMP"/*.log; do
			[ -f "$log" ] || continue
			printf -- '--- %s (last 40 lines) ---\n' "$(basename "$log")"
			tail -n 40 "$log" | cut -c1-400
		done
	fi
	for mnt in "${KB_MOUNTS[@]}"; do
		umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
	done
	for user in "${KB_USERS[@]}"; do
		userdel -r -f "$user" >/dev/null 2>&1 || true
	done
	[ -n "$KB_TMP" ] && rm -rf "$KB_TMP"
	exit "$status"
}

# Waits up to $2 seconds for process $1 to exit.
kb_wait_exit() {
	local pid=$1 deadline=$((SECONDS + $2))

	while kill -0 "$pid" 2>/dev/null; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
	return 0
}

# Prints a TCP port on 127.0.0.1 that is free right now.
kb_free_port() {
	"$KB_PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

kb_port_listening() {
	[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}

# Waits up to $2 seconds (default 10) for a listener on 127.0.0.1:$1. It
# looks at the socket table instead of connecting, so no session is opened.
kb_wait_port() {
	local port=$1 deadline=$((SECONDS + ${2:-10}))

	until kb_port_listening "$port"; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			kb_say "timed out waiting for a listener on 127.0.0.1:$port" >&2
			return 1
		fi
		sleep 0.1
	done
}

# Waits up to $3 seconds for a line matching the extended regex $2 in file $1.
kb_wait_log() {
	local file=$1 regex=$2 deadline=$((SECONDS + ${3:-10}))

	until grep -Eq -- "$regex" "$file" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.1
	done
}

# Creates a throwaway account with a random password and sets KB_USER,
# KB_PASSWORD_FILE (mode 600) and KB_ASKPASS (a script that prints the
# password for OpenSSH's SSH_ASKPASS). The password is never printed.
kb_make_account() {
	local password

	KB_USER="kbt${RANDOM}x$$"
	KB_USER=${KB_USER:0:31}
	password=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)
	useradd -m -s /bin/bash "$KB_USER" || { kb_fail "useradd $KB_USER failed"; return 1; }
	KB_USERS+=("$KB_USER")
	printf '%s:%s\n' "$KB_USER" "$password" | chpasswd
	KB_HOME=$(getent passwd "$KB_USER" | cut -d: -f6)

	KB_PASSWORD_FILE="$KB_TMP/password"
	(umask 077 && printf '%s\n' "$password" >"$KB_PASSWORD_FILE")
	KB_ASKPASS="$KB_TMP/askpass.sh"
	printf '#!/bin/sh\nexec cat %q\n' "$KB_PASSWORD_FILE" >"$KB_ASKPASS"
	chmod 700 "$KB_ASKPASS"
}

# Runs an OpenSSH client program ($1: ssh, scp or sftp) with the password
# from the askpass script, no user or system config, no host key checks
# (these are throwaway servers) and a 30 s limit. BatchMode=no comes first
# because sftp -b adds BatchMode=yes, which would turn askpass off.
kb_openssh() {
	kb_openssh_within 30 "$@"
}

# kb_openssh with a limit of $1 seconds instead of 30, for long transfers.
kb_openssh_within() {
	local limit=$1 prog=$2

	shift 2
	SSH_ASKPASS="$KB_ASKPASS" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
	    timeout "$limit" "$prog" -F /dev/null \
	    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no \
	    -o GlobalKnownHostsFile=/dev/null \
	    -o PreferredAuthentications=password,keyboard-interactive \
	    -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1 \
	    -o ConnectTimeout=10 -o BatchMode=no "$@" </dev/null
}

# Runs dropbear's client with the password from DROPBEAR_PASSWORD, no host
# key checks and a 30 s limit. HOME is the test's folder so no known_hosts
# file outside it is written.
kb_dbclient() {
	DROPBEAR_PASSWORD=$(cat "$KB_PASSWORD_FILE") HOME="$KB_TMP" \
	    timeout 30 dbclient -y -y "$@"
}

# Starts an OpenSSH sshd on 127.0.0.1 and sets SSHD_PORT and SSHD_LOG.
# $1 is "legacy" (only old algorithms, like an old backup server) or
# "default" (the algorithms this OpenSSH offers by default). $2 names the
# instance when a test needs more than one.
kb_start_sshd() {
	local kind=$1 name=${2:-sshd-$1} dir port

	dir="$KB_TMP/$name"
	mkdir -p "$dir" /run/sshd
	port=$(kb_free_port)
	ssh-keygen -q -t rsa -b 2048 -N '' -f "$dir/host_rsa" </dev/null
	ssh-keygen -q -t ed25519 -N '' -f "$dir/host_ed25519" </dev/null
	{
		printf 'ListenAddress 127.0.0.1:%s\n' "$port"
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
		printf 'PasswordAuthentication yes\n'
		printf 'KbdInteractiveAuthentication no\n'
		printf 'PubkeyAuthentication no\n'
		printf 'UsePAM no\n'
		printf 'PermitRootLogin no\n'
		printf 'AllowUsers %s\n' "${KB_USER:-nobody}"
		printf 'MaxStartups 50:30:100\n'
		printf 'Subsystem sftp /usr/lib/openssh/sftp-server\n'
		printf 'LogLevel VERBOSE\n'
	} >"$dir/sshd_config"
	/usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$KB_TMP/$name.log" &
	KB_PIDS+=("$!")
	kb_wait_port "$port" 10 || { kb_fail "$name did not start"; return 1; }
	SSHD_PORT=$port
	SSHD_LOG="$KB_TMP/$name.log"
}

# Starts a dropbear server on 127.0.0.1 and sets DROPBEAR_PORT.
kb_start_dropbear() {
	local dir="$KB_TMP/dropbear" port

	mkdir -p "$dir"
	port=$(kb_free_port)
	dropbearkey -t ed25519 -f "$dir/host_ed25519" >/dev/null 2>&1
	dropbearkey -t rsa -s 2048 -f "$dir/host_rsa" >/dev/null 2>&1
	dropbear -F -E -p "127.0.0.1:$port" -P "$dir/dropbear.pid" \
	    -r "$dir/host_ed25519" -r "$dir/host_rsa" 2>"$KB_TMP/dropbear.log" &
	KB_PIDS+=("$!")
	kb_wait_port "$port" 10 || { kb_fail "dropbear did not start"; return 1; }
	DROPBEAR_PORT=$port
}

# Starts `kexbridge run` with the arguments given, stderr to $KB_TMP/$1.log
# ($1 names the instance), and waits for the listening port $2. Sets KB_PID.
kb_start_kexbridge() {
	local name=$1 port=$2

	shift 2
	"$KEXBRIDGE" run "$@" 2>"$KB_TMP/$name.log" &
	KB_PID=$!
	KB_PIDS+=("$KB_PID")
	if ! kb_wait_port "$port" 10; then
		kb_fail "kexbridge ($name) is not listening on 127.0.0.1:$port"
		return 1
	fi
}

# Starts a tap route from a free port to 127.0.0.1:$2 with the log format $3
# (default json). Sets KB_PORT and KB_LOG.
kb_start_tap() {
	local name=$1 upstream=$2 format=${3:-json}

	KB_PORT=$(kb_free_port)
	KB_LOG="$KB_TMP/$name.log"
	kb_start_kexbridge "$name" "$KB_PORT" --listen "127.0.0.1:$KB_PORT" \
	    --upstream "127.0.0.1:$upstream" --mode tap --log-format "$format"
}

kb_sha256() { sha256sum "$1" | cut -d' ' -f1; }

# Checks that two files have the same SHA-256; $3 names the copy.
kb_assert_same_file() {
	if [ ! -f "$2" ]; then
		kb_fail "$3: $2 was not created"
	elif [ "$(kb_sha256 "$1")" != "$(kb_sha256 "$2")" ]; then
		kb_fail "$3: SHA-256 differs ($1: $(kb_sha256 "$1"), $2: $(kb_sha256 "$2"))"
	else
		kb_pass "$3: SHA-256 matches ($(stat -c %s "$2") bytes)"
	fi
}

kb_assert_eq() {
	if [ "$1" = "$2" ]; then
		kb_pass "$3"
	else
		kb_fail "$3: expected '$2', got '$1'"
	fi
}

# Checks that the text $1 matches the extended regex $2 (case-insensitive).
kb_assert_match() {
	# A here-string, not a pipe: with pipefail, grep -q closing the pipe
	# early would make printf's SIGPIPE fail a matching check.
	if grep -Eiq -- "$2" <<<"$1"; then
		kb_pass "$3"
	else
		kb_fail "$3: no match for /$2/ in: $(printf '%s' "$1" | head -c 600)"
	fi
}

# Checks that the text $1 does not match the extended regex $2 (case-insensitive).
kb_assert_no_match() {
	if grep -Eiq -- "$2" <<<"$1"; then
		kb_fail "$3: /$2/ matches: $(grep -Eio -- "$2" <<<"$1" | head -n 1)"
	else
		kb_pass "$3"
	fi
}

kb_assert_alive() {
	if kill -0 "$1" 2>/dev/null; then
		kb_pass "$2"
	else
		kb_fail "$2: process $1 is gone"
	fi
}

# kb_json is a small JSON-lines query tool for the kexbridge log, written
# to the temp folder so the test needs nothing but python3:
#   kb_json select LOG EVENT [PATH=VALUE]...  matching lines, one per line
#   kb_json get JSON PATH                     a value (strings unquoted)
#   kb_json count LOG EVENT [PATH=VALUE]...   number of matching lines
# PATH is dotted: result.kex, server_offer.kex. VALUE is compared with the
# value as printed by get.
kb_write_jsontool() {
	cat >"$KB_TMP/kb_json.py" <<'EOF'
import json
import sys


def lookup(obj, path):
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
    return obj


def show(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def events(log, event, conds):
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if event != "*" and obj.get("event") != event:
                continue
            if all(show(lookup(obj, p)) == v for p, v in conds):
                yield obj


def main():
    cmd = sys.argv[1]
    if cmd == "get":
        print(show(lookup(json.loads(sys.argv[2]), sys.argv[3])))
        return
    conds = [c.split("=", 1) for c in sys.argv[4:]]
    found = list(events(sys.argv[2], sys.argv[3], conds))
    if cmd == "count":
        print(len(found))
    else:
        for obj in found:
            print(json.dumps(obj, separators=(",", ":")))


main()
EOF
}

kb_json() { "$KB_PY" "$KB_TMP/kb_json.py" "$@"; }

# Waits up to $3 seconds until the log $1 has at least $2 lines of event $4
# (further PATH=VALUE conditions may follow).
kb_wait_events() {
	local log=$1 want=$2 deadline=$((SECONDS + $3)) event=$4

	shift 4
	until [ "$(kb_json count "$log" "$event" "$@")" -ge "$want" ]; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# --- Bridge mode ---------------------------------------------------------

# Starts a bridge route from a free port to 127.0.0.1:$2 with a JSON log and
# its own state folder (host keys, known_hosts); further arguments go to
# `kexbridge run`. Sets KB_PORT, KB_LOG, KB_STATE and KB_PID.
kb_start_bridge() {
	local name=$1 upstream=$2

	shift 2
	KB_PORT=$(kb_free_port)
	KB_LOG="$KB_TMP/$name.log"
	KB_STATE="$KB_TMP/$name-state"
	mkdir -p "$KB_STATE"
	chmod 700 "$KB_STATE"
	kb_start_kexbridge "$name" "$KB_PORT" --mode bridge \
	    --listen "127.0.0.1:$KB_PORT" --upstream "127.0.0.1:$upstream" \
	    --state-dir "$KB_STATE" --log-format json "$@"
}

# Waits up to 15 s for the log $1 to hold $2 session_record events and
# prints the $2-th, or prints nothing and fails.
kb_record_n() {
	local log=$1 n=$2

	kb_wait_events "$log" "$n" 15 session_record || return 1
	kb_json select "$log" session_record | sed -n "${n}p"
}

# Prints the process ids below $1, children before grandchildren.
kb_descendants() {
	local child

	for child in $(pgrep -P "$1" 2>/dev/null); do
		printf '%s\n' "$child"
		kb_descendants "$child"
	done
}

# Samples VmRSS of process $1 every 50 ms until it exits or kb_rss_stop is
# called, keeping the peak in kB in the file $2. Sets KB_RSS_PID.
kb_rss_start() {
	local pid=$1 out=$2

	printf '0\n' >"$out"
	(
		peak=0
		while [ -r "/proc/$pid/status" ]; do
			while read -r key value _; do
				if [ "$key" = VmRSS: ] && [ "$value" -gt "$peak" ]; then
					peak=$value
					printf '%s\n' "$peak" >"$out"
				fi
			done <"/proc/$pid/status" 2>/dev/null || true
			sleep 0.05
		done
	) &
	KB_RSS_PID=$!
	KB_PIDS+=("$KB_RSS_PID")
}

# Stops the sampler started by kb_rss_start and prints the peak in kB.
kb_rss_stop() {
	kill "$KB_RSS_PID" 2>/dev/null || true
	kb_wait_exit "$KB_RSS_PID" 5 || true
	cat "$1"
}

# Mounts a tmpfs of size $2 (e.g. 2m) on the new folder $1, owned by $3, and
# has kb_cleanup unmount it.
kb_mount_tmpfs() {
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2,mode=755" tmpfs "$1" || return 1
	KB_MOUNTS+=("$1")
	chown "$3" "$1"
}

# Checks that none of the files given contains the password of
# kb_make_account (or the one in the file KB_SECRET_FILE when set). Only
# file names are printed, never the password.
kb_assert_no_password() {
	local secret=${KB_SECRET_FILE:-$KB_PASSWORD_FILE} leaks

	leaks=$(grep -lF -f "$secret" -- "$@" 2>/dev/null || true)
	if [ -n "$leaks" ]; then
		kb_fail "the password appears in: $(printf '%s ' "$leaks")"
	else
		kb_pass "the password appears in none of $# file(s)"
	fi
}

# Writes $KB_TMP/dbclient-ssh.sh, a program for `scp -S` and `sftp -S` that
# runs dbclient: it takes the OpenSSH options scp and sftp pass (-l, -p,
# -oPort, -s; other -o and -x are dropped) and adds the dbclient options
# given here. The password comes from DROPBEAR_PASSWORD, read from
# KB_PASSWORD_FILE when the wrapper runs.
kb_write_dbclient_wrapper() {
	local extra

	extra=$(printf '%q ' "$@")
	cat >"$KB_TMP/dbclient-ssh.sh" <<WRAPPER
#!/usr/bin/env bash
args=(-y -y $extra)
while [ \$# -gt 0 ]; do
	case \$1 in
	-l) args+=(-l "\$2"); shift ;;
	-p) args+=(-p "\$2"); shift ;;
	-s) args+=(-s) ;;
	-oPort=*) args+=(-p "\${1#-oPort=}") ;;
	-oPort\\ *) args+=(-p "\${1#-oPort }") ;;
	-o) shift ;;
	-o*|-x|-T|-a|-k|-q|-v) ;;
	--) shift; break ;;
	-*) echo "dbclient-ssh.sh: unexpected option \$1" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
DROPBEAR_PASSWORD=\$(cat $(printf '%q' "$KB_PASSWORD_FILE"))
export DROPBEAR_PASSWORD
HOME=$(printf '%q' "$KB_TMP") exec dbclient "\${args[@]}" "\$@"
WRAPPER
	chmod 700 "$KB_TMP/dbclient-ssh.sh"
}

# Checks one session_record JSON line $1 against expectations; $2 names the
# session in the messages. Each further argument is one check:
#   user=NAME  files_total=N  complete=yes (every listed file complete)
#   exit=N     exit=nonzero: anything but 0; exit=ok: 0, or none sent
#              because the client closed the channel first
#   file=DIRECTION:NAME:BYTES  a listed file whose name is NAME or ends in
#                              /NAME, with that many data bytes
#   KEY.PATH=VALUE             a value as kb_json get prints it
kb_assert_record() {
	local record=$1 what=$2 out

	shift 2
	if [ -z "$record" ]; then
		kb_fail "$what: no session_record"
		return
	fi
	[ -f "$KB_TMP/kb_record.py" ] || cat >"$KB_TMP/kb_record.py" <<'PYEOF'
import json
import sys

rec = json.loads(sys.argv[1])
problems = []


def lookup(obj, path):
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def show(value):
    return value if isinstance(value, str) else json.dumps(value)


for check in sys.argv[2:]:
    key, _, want = check.partition("=")
    if key == "user" and rec.get("user") != want:
        problems.append("user is %r, expected %r" % (rec.get("user"), want))
    elif key == "exit":
        got = rec.get("exit_status")
        if want == "nonzero":
            bad = got == 0
        elif want == "ok":
            bad = got not in (0, None) or (got is None and rec.get("reason") != "channel_closed")
        else:
            bad = got != int(want)
        if bad:
            problems.append("exit_status is %s (reason %s), expected %s"
                            % (show(got), rec.get("reason"), want))
    elif key == "complete":
        partial = [f.get("name") for f in rec.get("files", []) if not f.get("complete")]
        if not rec.get("files") or partial:
            problems.append("incomplete files %r in %s" % (partial, show(rec.get("files"))))
    elif key == "files_total" and rec.get("files_total") != int(want):
        problems.append("files_total is %s, expected %s" % (show(rec.get("files_total")), want))
    elif key == "file":
        direction, name, size = want.split(":", 2)
        hits = [f for f in rec.get("files", [])
                if f.get("direction") == direction
                and (f.get("name") == name or f.get("name", "").endswith("/" + name))]
        if not hits:
            problems.append("no %s of %r in files %s" % (direction, name, show(rec.get("files"))))
        elif not any(f.get("bytes") == int(size) for f in hits):
            problems.append("%s of %r: bytes %s, expected %s"
                            % (direction, name, [f.get("bytes") for f in hits], size))
    elif key not in ("user", "exit", "files_total", "file", "complete") and show(lookup(rec, key)) != want:
        problems.append("%s is %s, expected %s" % (key, show(lookup(rec, key)), want))
print("; ".join(problems))
sys.exit(1 if problems else 0)
PYEOF
	if out=$("$KB_PY" "$KB_TMP/kb_record.py" "$record" "$@" 2>&1); then
		kb_pass "$what: session_record has $*"
	else
		kb_fail "$what: session_record: $out"
	fi
}
