#!/usr/bin/env bash
# Lab demo: reproduces the UCS fabric interconnect (FI) 4.0(2a)+ backup
# failure on loopback and shows what kexbridge reports about it.
#   bash contrib/lab-demo.sh        (as root on Debian 12)
# It installs the build dependencies and builds kexbridge in build/, or
# reuses that build (KEXBRIDGE_BUILD_DIR picks another folder). It starts an
# OpenSSH sshd that speaks only old algorithms. An scp restricted to the FI's
# algorithms copies a file to it directly, then through
# `kexbridge run --mode tap`, and `kexbridge probe` checks the server. Everything it starts, the throwaway account kbdemo and
# its temp folder are removed when it exits, whatever the reason.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${KEXBRIDGE_BUILD_DIR:-$top/build}	# reused when already configured
demo_user=kbdemo
demo_comment="kexbridge lab demo (removed when the demo exits)"
pids=()
tmp=
user_created=no

# Headings are translated when the kexbridge catalog for $LANG is built.
export TEXTDOMAIN=kexbridge
translate() {
	if command -v gettext >/dev/null && [ -n "${TEXTDOMAINDIR:-}" ]; then
		gettext "$1"
	else
		printf '%s' "$1"
	fi
}

heading() {
	if [ -t 1 ]; then
		printf '\n\033[1m== %s\033[0m\n' "$*"
	else
		printf '\n== %s\n' "$*"
	fi
}
note() { printf '   %s\n' "$*"; }

cleanup() {
	local status=$? pid

	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$user_created" = yes ]; then
		userdel -r -f "$demo_user" >/dev/null 2>&1 || true
	fi
	[ -n "$tmp" ] && rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

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
			echo "lab-demo.sh: timed out after 10 s waiting for a listener on 127.0.0.1:$1" >&2
			return 1
		fi
		sleep 0.1
	done
}

if [ "$(id -u)" -ne 0 ]; then
	echo "lab-demo.sh: run as root (it starts sshd and creates the account $demo_user)" >&2
	exit 1
fi

# Step 0: dependencies and build. Output goes to a log shown on failure.
tmp=$(mktemp -d /tmp/kexbridge-demo.XXXXXX)
chmod 755 "$tmp"
heading "0. $(translate "Installing dependencies and building kexbridge")"
if ! bash "$top/contrib/deps.sh" >"$tmp/deps.log" 2>&1; then
	cat "$tmp/deps.log"
	exit 1
fi
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
	echo "lab-demo.sh: the build failed; the last 40 lines of its log are above" >&2
	exit 1
}
kexbridge="$build/kexbridge"
note "$(translate "kexbridge:") $kexbridge"

# Install the built catalogs where gettext and kexbridge can find them.
for gmo in "$build"/po/*.gmo "$top"/po/*.gmo; do
	[ -f "$gmo" ] || continue
	lang=$(basename "$gmo" .gmo)
	mkdir -p "$tmp/locale/$lang/LC_MESSAGES"
	cp "$gmo" "$tmp/locale/$lang/LC_MESSAGES/kexbridge.mo"
	export TEXTDOMAINDIR="$tmp/locale" KEXBRIDGE_LOCALEDIR="$tmp/locale"
done

# Step 1: the old backup server and a throwaway account on it.
heading "1. $(translate "Starting an old backup server (OpenSSH sshd with legacy algorithms only)")"
if id "$demo_user" >/dev/null 2>&1; then
	if [ "$(getent passwd "$demo_user" | cut -d: -f5)" != "$demo_comment" ]; then
		echo "lab-demo.sh: an account $demo_user exists and was not made by this demo; remove it or edit demo_user" >&2
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
note "$(translate "sshd on") 127.0.0.1:$server_port, $(translate "account") $demo_user"
note "KexAlgorithms     diffie-hellman-group1-sha1,diffie-hellman-group14-sha1"
note "HostKeyAlgorithms ssh-rsa"
note "Ciphers           aes128-cbc,3des-cbc,aes256-cbc"
note "MACs              hmac-sha1,hmac-md5"

# The FI 4.0(2a)+ client offer, played by OpenSSH scp.
fi_opts=(-o "KexAlgorithms=diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512"
    -o "Ciphers=aes128-ctr,aes192-ctr,aes256-ctr"
    -o "MACs=hmac-sha2-256,hmac-sha2-512")
head -c 65536 /dev/urandom >"$tmp/ucs-backup.tgz"

# Copies the backup file to port $1 as the FI would; stderr to $2.
fi_scp() {
	SSH_ASKPASS="$tmp/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=none \
	    timeout 30 scp -F /dev/null "${fi_opts[@]}" \
	    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no \
	    -o PreferredAuthentications=password -o ConnectTimeout=10 \
	    -P "$1" "$tmp/ucs-backup.tgz" "$demo_user@127.0.0.1:ucs-backup.tgz" \
	    </dev/null 2>"$2"
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
note "$(translate "kexbridge log (the negotiation line names the failing categories, both offers and advice):")"
sed 's/^/     | /' "$tmp/kexbridge.log"

# Step 4: probe the server without the FI.
heading "4. $(translate "Checking the server without the FI: kexbridge probe")"
note "kexbridge probe --profile ucsm-4.0 127.0.0.1:$server_port"
probe_status=0
"$kexbridge" probe --timeout 5 --profile ucsm-4.0 \
    "127.0.0.1:$server_port" >"$tmp/probe.out" 2>&1 || probe_status=$?
sed 's/^/     | /' "$tmp/probe.out"
note "$(translate "probe exit status:") $probe_status  (0 $(translate "all profiles agree"), 1 $(translate "a profile fails"), 2 $(translate "error"))"

# Step 5: bridge mode.
# TODO: once `--mode bridge` exists, start it here between the same scp and
# sshd, copy the file through it and compare SHA-256 on both ends.
heading "5. $(translate "Bridging the copy (bridge mode): not available yet")"
note "$(translate "A later version copies the file through kexbridge --mode bridge here.")"

heading "$(translate "Done. Cleaning up: sshd, kexbridge, the account and the temp folder are removed.")"
