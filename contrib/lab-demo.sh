#!/usr/bin/env bash
# Lab demo: reproduces the UCS fabric interconnect (FI) 4.0(2a)+ backup
# failure on loopback and shows what kexbridge reports about it.
#   bash contrib/lab-demo.sh        (as root on Debian 12)
# It installs the build dependencies and builds kexbridge in build/, or
# reuses that build (KEXBRIDGE_BUILD_DIR picks another folder). It starts an
# OpenSSH sshd that speaks only old algorithms. An scp restricted to the FI's
# algorithms copies a file to it directly, then through
# `kexbridge run --mode tap`, and `kexbridge probe` checks the server. Then
# `kexbridge run --mode bridge` carries an SCP and an SFTP backup from the
# same restricted client to that server, and the demo compares SHA-256 of
# each file on both ends. Everything it starts, the throwaway account kbdemo
# and its temp folder are removed when it exits, whatever the reason, and
# any failure exits non-zero.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${KEXBRIDGE_BUILD_DIR:-$top/build}	# reused when already configured
demo_user=kbdemo
demo_comment="kexbridge lab demo (removed when the demo exits)"
pids=()
tmp=
user_created=no
failed_line=
failed_command=
# A signal trap can run while a function's output is redirected to a file
# in $tmp, so cleanup reports on a copy of the original stderr.
exec 3>&2

# The demo's messages are translated once a kexbridge catalog is compiled
# into $tmp/locale (see compile_catalogs), before or after the build.
export TEXTDOMAIN=kexbridge
translate() {
	if command -v gettext >/dev/null && [ -n "${TEXTDOMAINDIR:-}" ]; then
		gettext "$1"
	else
		printf '%s' "$1"
	fi
}

# Prints "lab-demo.sh: " and the printf format $1, filled with the other
# arguments, to stderr. Callers pass $1 through translate, so each %s in
# it must stay in the translation, in the same order.
error() {
	local format=$1

	shift
	# shellcheck disable=SC2059 # $1 is a format string on purpose.
	printf "lab-demo.sh: $format\n" "$@" >&2
}

heading() {
	if [ -t 1 ]; then
		printf '\n\033[1m== %s\033[0m\n' "$*"
	else
		printf '\n== %s\n' "$*"
	fi
}
note() { printf '   %s\n' "$*"; }
# Like note, with the printf format $1 filled with the other arguments.
notef() {
	local format=$1

	shift
	# shellcheck disable=SC2059 # $1 is a format string on purpose.
	printf "   $format\n" "$@"
}

# Succeeds while the process $1 runs. A child that exited but was not
# waited for yet is a zombie, which kill -0 still finds.
process_running() {
	local state

	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ "${state#Z}" = "$state" ]
}

# Stops the process $1: SIGTERM, then SIGKILL if it still runs after 5 s.
stop_process() {
	local deadline=$((SECONDS + 5))

	kill "$1" 2>/dev/null || return 0
	while process_running "$1" && [ "$SECONDS" -lt "$deadline" ]; do
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	local status=$? pid interrupted failed failed_at

	# The catalogs are in $tmp, so the messages are translated before it
	# is removed and printed after.
	interrupted=$(translate 'interrupted; sshd, kexbridge, the account and the temp folder were removed')
	# xgettext:c-format
	failed=$(translate 'the demo FAILED with exit status %s; sshd, kexbridge, the account and the temp folder were removed')
	# xgettext:c-format
	failed_at=$(translate 'the demo FAILED with exit status %s at line %s (%s); sshd, kexbridge, the account and the temp folder were removed')
	for pid in "${pids[@]}"; do
		stop_process "$pid"
	done
	if [ "$user_created" = yes ]; then
		userdel -r -f "$demo_user" >/dev/null 2>&1 || true
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
	if [ "$status" -eq 130 ]; then
		error "$interrupted" 2>&3
	elif [ "$status" -ne 0 ] && [ -n "$failed_line" ]; then
		error "$failed_at" "$status" "$failed_line" "$failed_command" 2>&3
	elif [ "$status" -ne 0 ]; then
		error "$failed" "$status" 2>&3
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
# Remembers which command stopped the demo under set -e. A helper that
# fails has printed its own message before "return 1", so that return is
# not recorded. BASH_COMMAND is the unexpanded source text, so no password
# reaches the message.
trap '[ "${BASH_COMMAND%% *}" = return ] || {
	failed_line=$LINENO
	failed_command=$BASH_COMMAND
}' ERR

free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# Waits up to 10 s for a listener on 127.0.0.1:$1 without connecting to it.
wait_port() {
	local deadline=$((SECONDS + 10))

	until [ -n "$(ss -Hltn "sport = :$1")" ]; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			# xgettext:c-format
			error "$(translate 'timed out after 10 s waiting for a listener on %s')" "127.0.0.1:$1"
			return 1
		fi
		sleep 0.1
	done
}

# Compiles each translation in po/ into $tmp/locale, where the demo's
# gettext and kexbridge look, so that the demo is translated before the
# build too. Does nothing when msgfmt is missing, as it can be until
# deps.sh has installed gettext. A catalog that fails to compile is
# skipped. Either way the messages stay in English.
compile_catalogs() {
	local lang mo

	command -v msgfmt >/dev/null || return 0
	# LINGUAS separates the languages by spaces or newlines.
	# shellcheck disable=SC2013
	for lang in $(sed 's/#.*//' "$top/po/LINGUAS" 2>/dev/null); do
		mo="$tmp/locale/$lang/LC_MESSAGES/kexbridge.mo"
		mkdir -p "${mo%/*}"
		if msgfmt -o "$mo" "$top/po/$lang.po" 2>/dev/null; then
			export TEXTDOMAINDIR="$tmp/locale" KEXBRIDGE_LOCALEDIR="$tmp/locale"
		else
			rm -f "$mo"
		fi
	done
}

tmp=$(mktemp -d /tmp/kexbridge-demo.XXXXXX)
chmod 755 "$tmp"
compile_catalogs

if [ "$(id -u)" -ne 0 ]; then
	# xgettext:c-format
	error "$(translate 'run as root (it starts sshd and creates the account %s)')" "$demo_user"
	exit 1
fi

# Step 0: dependencies and build. Output goes to a log shown on failure.
heading "0. $(translate "Installing dependencies and building kexbridge")"
if ! bash "$top/contrib/deps.sh" >"$tmp/deps.log" 2>&1; then
	cat "$tmp/deps.log"
	error "$(translate 'installing the dependencies failed; the output of contrib/deps.sh is above')"
	exit 1
fi
# On a fresh machine deps.sh installs msgfmt, so translate from here on.
[ -n "${TEXTDOMAINDIR:-}" ] || compile_catalogs
# Each step is checked explicitly: bash ignores set -e inside a subshell
# that is followed by ||, so a failed make would otherwise go unnoticed.
build_kexbridge() {
	cd "$top" || return 1
	if [ ! -x configure ]; then ./autogen.sh || return 1; fi
	mkdir -p "$build" && cd "$build" || return 1
	if [ ! -f Makefile ]; then "$top/configure" -q || return 1; fi
	make -j2 kexbridge || return 1
	make -C po || return 1
}
( build_kexbridge ) >"$tmp/build.log" 2>&1 || {
	tail -n 40 "$tmp/build.log"
	error "$(translate 'the build failed; the last 40 lines of its log are above')"
	exit 1
}
kexbridge="$build/kexbridge"
note "$(translate "kexbridge:") $kexbridge"

# Without msgfmt for compile_catalogs, install the built catalogs where
# gettext and kexbridge can find them. Otherwise the catalogs compiled from
# po/*.po are used, because make -C po rebuilds a .gmo only when the .pot
# changes, so a .gmo can be older than its .po.
if [ -z "${TEXTDOMAINDIR:-}" ]; then
	for gmo in "$build"/po/*.gmo "$top"/po/*.gmo; do
		[ -f "$gmo" ] || continue
		lang=$(basename "$gmo" .gmo)
		mkdir -p "$tmp/locale/$lang/LC_MESSAGES"
		cp "$gmo" "$tmp/locale/$lang/LC_MESSAGES/kexbridge.mo"
		export TEXTDOMAINDIR="$tmp/locale" KEXBRIDGE_LOCALEDIR="$tmp/locale"
	done
fi

# Step 1: the old backup server and a throwaway account on it.
heading "1. $(translate "Starting an old backup server (OpenSSH sshd with legacy algorithms only)")"
if id "$demo_user" >/dev/null 2>&1; then
	if [ "$(getent passwd "$demo_user" | cut -d: -f5)" != "$demo_comment" ]; then
		# xgettext:c-format
		error "$(translate 'an account %s exists and was not made by this demo; remove it or edit demo_user in this script')" "$demo_user"
		exit 1
	fi
	userdel -r -f "$demo_user" >/dev/null 2>&1 || true	# left by a killed run
fi
useradd -m -s /bin/bash -c "$demo_comment" "$demo_user"
user_created=yes
password=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)
printf '%s:%s\n' "$demo_user" "$password" | chpasswd
(umask 077 && printf '%s\n' "$password" >"$tmp/password")
unset password
printf '#!/bin/sh\nexec cat %q\n' "$tmp/password" >"$tmp/askpass"
chmod 700 "$tmp/askpass"

mkdir -p /run/sshd
ssh-keygen -q -t rsa -b 2048 -N '' -f "$tmp/host_rsa" </dev/null
server_port=$(free_port)
cat >"$tmp/sshd_config" <<EOF
ListenAddress 127.0.0.1:$server_port
PidFile $tmp/sshd.pid
HostKey $tmp/host_rsa
KexAlgorithms diffie-hellman-group1-sha1,diffie-hellman-group14-sha1
HostKeyAlgorithms ssh-rsa
Ciphers aes128-cbc,3des-cbc,aes256-cbc
MACs hmac-sha1,hmac-md5
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $demo_user
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
/usr/sbin/sshd -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
pids+=("$!")
wait_port "$server_port"
# xgettext:c-format
notef "$(translate 'sshd on %s, account %s')" "127.0.0.1:$server_port" "$demo_user"
note "KexAlgorithms     diffie-hellman-group1-sha1,diffie-hellman-group14-sha1"
note "HostKeyAlgorithms ssh-rsa"
note "Ciphers           aes128-cbc,3des-cbc,aes256-cbc"
note "MACs              hmac-sha1,hmac-md5"

# The FI 4.0(2a)+ client offer, played by OpenSSH scp.
fi_opts=(-o "KexAlgorithms=diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512"
    -o "Ciphers=aes128-ctr,aes192-ctr,aes256-ctr"
    -o "MACs=hmac-sha2-256,hmac-sha2-512")
head -c 65536 /dev/urandom >"$tmp/ucs-backup.tgz"
fi_client_opts=(-F /dev/null "${fi_opts[@]}"
    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no
    -o PreferredAuthentications=password -o ConnectTimeout=10)

# Runs an OpenSSH client command as the FI would: the password comes from
# askpass, stdin is empty, and the command gets at most 60 s.
as_fi() {
	SSH_ASKPASS="$tmp/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
	    timeout 60 "$@" </dev/null
}

# Copies the backup file to port $1 as the FI would; stderr to $2.
fi_scp() {
	as_fi scp "${fi_client_opts[@]}" -P "$1" \
	    "$tmp/ucs-backup.tgz" "$demo_user@127.0.0.1:ucs-backup.tgz" 2>"$2"
}

# Step 2: the direct copy fails.
heading "2. $(translate "The FI copies its backup directly: the copy fails")"
note "scp -o KexAlgorithms=... -o Ciphers=... -o MACs=...  ($(translate "the FI 4.0(2a)+ offer"))"
if fi_scp "$server_port" "$tmp/direct.err"; then
	note "$(translate "Unexpected: the copy succeeded.")"
else
	note "$(translate "scp exited with an error:")"
	sed 's/^/     | /' "$tmp/direct.err"
fi
note "$(translate "The FI itself only reports: End point timed out. Check for IP, password, space or access related issues.")"

# Step 3: the same copy through a tap route, which shows why.
heading "3. $(translate "The same copy through kexbridge in tap mode: the log says why")"
tap_port=$(free_port)
"$kexbridge" run --listen "127.0.0.1:$tap_port" --upstream "127.0.0.1:$server_port" \
    --mode tap --log-format text 2>"$tmp/kexbridge.log" &
pids+=("$!")
wait_port "$tap_port"
note "kexbridge run --listen 127.0.0.1:$tap_port --upstream 127.0.0.1:$server_port --mode tap"
fi_scp "$tap_port" "$tmp/tap.err" || true
note "$(translate "scp still fails, because tap mode changes no byte:")"
sed 's/^/     | /' "$tmp/tap.err"
sleep 0.5
# The failed negotiation has kexbridge's own word for "failed:" after the
# session ID, so the note quotes that word from the same catalog.
# xgettext:c-format
notef "$(translate 'kexbridge log (the line with "%s" after the session ID names the failing categories, both offers and the advice):')" \
    "$(translate 'failed:')"
sed 's/^/     | /' "$tmp/kexbridge.log"
# OpenSSH 8.8 and later offer no ssh-rsa by default, so the client that
# plays the FI fails on hostkey against this ssh-rsa-only server.
if grep -qF 'hostkey (' "$tmp/kexbridge.log"; then
	note "$(translate 'The hostkey failure above comes from this demo: the OpenSSH client that plays the FI does not offer ssh-rsa (off by default since OpenSSH 8.8).')"
	note "$(translate 'The ucsm-4.0 profile in step 4 does not restrict host key algorithms, so do not change HostKeyAlgorithms on the server because of this line.')"
fi

# Step 4: probe the server without the FI.
heading "4. $(translate "Checking the server without the FI: kexbridge probe")"
note "kexbridge probe --profile ucsm-4.0 127.0.0.1:$server_port"
probe_status=0
"$kexbridge" probe --timeout 5 --profile ucsm-4.0 \
    "127.0.0.1:$server_port" >"$tmp/probe.out" 2>&1 || probe_status=$?
sed 's/^/     | /' "$tmp/probe.out"
# xgettext:c-format
notef "$(translate 'probe exit status: %s  (0 all profiles agree, 1 a profile fails, 2 error)')" "$probe_status"

# Step 5: a bridge route in front of the same sshd.
heading "5. $(translate "Starting kexbridge in bridge mode")"
bridge_port=$(free_port)
mkdir -m 700 "$tmp/bridge-state"
"$kexbridge" run --listen "127.0.0.1:$bridge_port" --upstream "127.0.0.1:$server_port" \
    --mode bridge --state-dir "$tmp/bridge-state" --hostkey-policy accept-new \
    --log-format text 2>"$tmp/bridge.log" &
pids+=("$!")
if ! wait_port "$bridge_port"; then
	sed 's/^/     | /' "$tmp/bridge.log"
	error "$(translate 'kexbridge in bridge mode did not start; its log is above')"
	exit 1
fi
note "kexbridge run --listen 127.0.0.1:$bridge_port --upstream 127.0.0.1:$server_port --mode bridge"
note "    --state-dir $tmp/bridge-state --hostkey-policy accept-new"
note "$(translate "The FI negotiates modern algorithms with kexbridge, and kexbridge logs in to the server with legacy ones.")"
note "$(translate "kexbridge passes the FI's password on to the server and never logs it.")"
home=$(getent passwd "$demo_user" | cut -d: -f6)

# Prints the client's exit status $2 and its output file $3; fails the demo
# unless the status is 0. $1 names the client.
check_client() {
	note "$1 $(translate "exit status:") $2"
	if [ -s "$3" ]; then
		sed 's/^/     | /' "$3"
	fi
	if [ "$2" -ne 0 ]; then
		sed 's/^/     | /' "$tmp/bridge.log"
		# xgettext:c-format
		error "$(translate '%s through the bridge exited with status %s; the kexbridge log is above')" "$1" "$2"
		return 1
	fi
}

# Prints size and SHA-256 of the source $1 and of its copy $2 on the server,
# one above the other. Fails the demo when they differ.
compare_copies() {
	local src_sum dst_sum

	if [ ! -f "$2" ]; then
		# xgettext:c-format
		error "$(translate '%s is missing on the server after the copy')" "$2"
		return 1
	fi
	src_sum=$(sha256sum <"$1" | cut -d' ' -f1)
	dst_sum=$(sha256sum <"$2" | cut -d' ' -f1)
	# xgettext:c-format
	notef "$(translate 'source: %s bytes, SHA-256 %s  %s')" "$(stat -c %s "$1")" "$src_sum" "$1"
	# xgettext:c-format
	notef "$(translate 'server: %s bytes, SHA-256 %s  %s')" "$(stat -c %s "$2")" "$dst_sum" "$2"
	if [ "$src_sum" != "$dst_sum" ]; then
		# xgettext:c-format
		error "$(translate 'MISMATCH: the SHA-256 of %s on the server differs from its source %s')" "$2" "$1"
		return 1
	fi
	note "=> $(translate "equal")"
}

# Prints the session record of the copy of file $1: the log line that
# contains the user, the upstream and the file name. Matching these values
# rather than words keeps this working when the log is translated.
# kexbridge logs the record when the session closes, which can be a moment
# after the client exits, so this waits up to 10 s.
show_session_record() {
	local deadline=$((SECONDS + 10)) line=

	while [ -z "$line" ]; do
		line=$(grep -F "$demo_user" "$tmp/bridge.log" | grep -F "127.0.0.1:$server_port" |
		    grep -F "$1" | tail -n 1) || true
		if [ -z "$line" ] && [ "$SECONDS" -ge "$deadline" ]; then
			sed 's/^/     | /' "$tmp/bridge.log"
			# xgettext:c-format
			error "$(translate 'timed out after 10 s waiting for the session record of %s in the kexbridge log above')" "$1"
			return 1
		fi
		[ -n "$line" ] || sleep 0.1
	done
	note "$(translate "kexbridge session record (client side: FI, upstream side: server):")"
	printf '%s\n' "$line" | sed 's/^/     | /'
}

# Step 6: an SCP backup, as the FI runs it with protocol scp.
heading "6. $(translate "SCP backup through the bridge (scp -O)")"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$tmp/ucs-backup-scp.tgz"
rm -f "$home/ucs-backup-scp.tgz"
note "scp -O -o KexAlgorithms=... -P $bridge_port ucs-backup-scp.tgz $demo_user@127.0.0.1:"
scp_status=0
as_fi scp -O "${fi_client_opts[@]}" -o LogLevel=ERROR -P "$bridge_port" \
    "$tmp/ucs-backup-scp.tgz" "$demo_user@127.0.0.1:ucs-backup-scp.tgz" \
    >"$tmp/scp.out" 2>&1 || scp_status=$?
check_client scp "$scp_status" "$tmp/scp.out"
compare_copies "$tmp/ucs-backup-scp.tgz" "$home/ucs-backup-scp.tgz"
show_session_record ucs-backup-scp.tgz

# Step 7: an SFTP backup, as the FI runs it with protocol sftp. sftp -b
# sets BatchMode, which disables password prompts. The -o BatchMode=no
# placed before -b wins, because ssh uses the first value it obtains for
# an option (ssh_config(5)).
heading "7. $(translate "SFTP backup through the bridge (sftp -b)")"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$tmp/ucs-backup-sftp.tgz"
rm -f "$home/ucs-backup-sftp.tgz"
printf 'put %s ucs-backup-sftp.tgz\n' "$tmp/ucs-backup-sftp.tgz" >"$tmp/sftp.batch"
note "sftp -o KexAlgorithms=... -b sftp.batch -P $bridge_port $demo_user@127.0.0.1"
sftp_status=0
as_fi sftp "${fi_client_opts[@]}" -o LogLevel=ERROR -o BatchMode=no \
    -b "$tmp/sftp.batch" -P "$bridge_port" "$demo_user@127.0.0.1" \
    >"$tmp/sftp.out" 2>&1 || sftp_status=$?
check_client sftp "$sftp_status" "$tmp/sftp.out"
compare_copies "$tmp/ucs-backup-sftp.tgz" "$home/ucs-backup-sftp.tgz"
show_session_record ucs-backup-sftp.tgz

heading "$(translate "Done. Cleaning up: sshd, kexbridge, the account and the temp folder are removed.")"
