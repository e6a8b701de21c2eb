#!/usr/bin/env bash
# Installs every Debian 12 package needed to build and test kexbridge, and
# generates the ja_JP.UTF-8 locale the translation test uses. Run as root.
# Installs only what is missing and runs apt-get update at most once.
set -euo pipefail

packages=(
	build-essential autoconf automake libtool autopoint gettext pkg-config
	libevent-dev libssl-dev libssh2-1-dev libinih-dev libcmocka-dev
	openssh-server openssh-client openssh-sftp-server dropbear-bin
	python3-paramiko socat valgrind clang locales iproute2 tcpdump
	libpcap-dev tshark libclang-rt-14-dev iptables
)

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run as root (it installs packages with apt-get)" >&2
	exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	echo "deps.sh: all ${#packages[@]} packages are installed"
fi

# The Debian openssh-server package enables and starts sshd on port 22; the
# tests start their own sshd instances and do not need it.

if ! locale -a 2>/dev/null | grep -Eqi '^ja_JP\.utf-?8$'; then
	echo "deps.sh: generating the ja_JP.UTF-8 locale"
	if [ -f /etc/locale.gen ] && command -v locale-gen >/dev/null; then
		sed -i 's/^# *\(ja_JP\.UTF-8 UTF-8\)/\1/' /etc/locale.gen
		grep -q '^ja_JP\.UTF-8 UTF-8' /etc/locale.gen ||
		    echo 'ja_JP.UTF-8 UTF-8' >>/etc/locale.gen
		locale-gen
	else
		localedef -i ja_JP -c -f UTF-8 ja_JP.UTF-8
	fi
fi
