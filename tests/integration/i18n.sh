#!/usr/bin/env bash
# Messages are translated: with LANG=ja_JP.UTF-8 and the Japanese catalog
# built from po/ja.po, --help and probe's failure report are Japanese; with
# LANG=C they are English. What goes on the wire stays English: a bridge's
# SSH_MSG_DISCONNECT text is ASCII in ja_JP.UTF-8 too. KEXBRIDGE_LOCALEDIR points kexbridge at the
# catalog in the test's temp folder, so nothing needs to be installed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require sshd ssh-keygen msgfmt locale
[ -f "$KB_SRCDIR/po/ja.po" ] || kb_skip "po/ja.po does not exist yet"
grep -Eqi '^ja_JP\.utf-?8$' <<<"$(locale -a)" ||
    kb_skip "the ja_JP.UTF-8 locale is not generated (run contrib/deps.sh)"

mkdir -p "$KB_TMP/locale/ja/LC_MESSAGES"
msgfmt -c -o "$KB_TMP/locale/ja/LC_MESSAGES/kexbridge.mo" "$KB_SRCDIR/po/ja.po" ||
    kb_fail "msgfmt -c rejects po/ja.po"

# Succeeds when stdin has Japanese characters: hiragana, katakana or CJK
# ideographs. Python decodes UTF-8 whatever the test's own locale is.
has_japanese() {
	"$KB_PY" -c 'import re, sys
text = sys.stdin.buffer.read().decode("utf-8", "replace")
sys.exit(0 if re.search("[\u3040-\u30ff\u4e00-\u9fff]", text) else 1)'
}

# Checks that $1 has Japanese characters (when $2 is yes) or none (no).
assert_japanese() {
	local found=no

	if printf '%s' "$1" | has_japanese; then
		found=yes
	fi
	if [ "$found" = "$2" ]; then
		kb_pass "$3"
	else
		kb_fail "$3: Japanese found: $found, in: $(printf '%s' "$1" | head -n 3)"
	fi
}

# Runs kexbridge in locale $1 with the other arguments; sets out, status.
kb_in_locale() {
	local lang=$1

	shift
	status=0
	out=$(env -u LANGUAGE -u LC_MESSAGES LC_ALL= LANG="$lang" \
	    KEXBRIDGE_LOCALEDIR="$KB_TMP/locale" \
	    timeout 30 "$KEXBRIDGE" "$@" 2>&1) || status=$?
}

kb_in_locale ja_JP.UTF-8 --help
kb_say "--help in ja_JP.UTF-8: $(printf '%s' "$out" | head -n 3)"
assert_japanese "$out" yes "--help in ja_JP.UTF-8 prints Japanese"
kb_in_locale C --help
kb_assert_match "$out" '[Uu]sage|run|probe' "--help in C prints English"
assert_japanese "$out" no "--help in C has no Japanese"

# A mistyped option names the command and the option, in the locale's
# language, and "help COMMAND" shows that command's usage.
kb_in_locale C run --upstrem 127.0.0.1:22
kb_assert_eq "$status" 2 "an unknown option exits 2"
kb_assert_match "$out" "^kexbridge run: .*--upstrem" "an unknown option names the command and the option"
kb_in_locale ja_JP.UTF-8 run --upstrem 127.0.0.1:22
assert_japanese "$out" yes "an unknown option is reported in Japanese"
kb_assert_match "$out" "--upstrem" "the Japanese report names the option"
kb_in_locale C help run
kb_assert_match "$out" "kexbridge run \\[-f FILE" "help run prints the usage of run"

kb_start_sshd legacy
kb_in_locale ja_JP.UTF-8 probe --timeout 5 --profile ucsm-4.0 "127.0.0.1:$SSHD_PORT"
kb_say "probe in ja_JP.UTF-8:"
printf '%s\n' "$out" | head -n 20
kb_assert_eq "$status" 1 "probe in ja_JP.UTF-8 still exits 1"
assert_japanese "$out" yes "probe's failure report is Japanese"
kb_assert_match "$out" 'KexAlgorithms' "the sshd_config keyword stays untranslated"
kb_in_locale C probe --timeout 5 --profile ucsm-4.0 "127.0.0.1:$SSHD_PORT"
kb_assert_eq "$status" 1 "probe in C exits 1"
assert_japanese "$out" no "probe in C is English"

# A bridge in ja_JP.UTF-8 with a text log: its log is Japanese, but the
# SSH_MSG_DISCONNECT text the client gets must be English, with the English
# system error, whatever the locale. The upstream port has no listener, so
# the connect fails after the client sends its password. No account is
# needed, and kb_cleanup still checks that the password reached no log.
closed=$(kb_free_port)
bridge_port=$(kb_free_port)
mkdir -p "$KB_TMP/bridge-state"
chmod 700 "$KB_TMP/bridge-state"
KB_PASSWORD_FILE="$KB_TMP/password"
(umask 077 && head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20 \
    >"$KB_PASSWORD_FILE")
KB_ASKPASS="$KB_TMP/askpass.sh"
printf '#!/bin/sh\nexec cat %q\n' "$KB_PASSWORD_FILE" >"$KB_ASKPASS"
chmod 700 "$KB_ASKPASS"
head -c 1024 /dev/urandom >"$KB_TMP/small"

LANG=ja_JP.UTF-8 LC_ALL='' LC_MESSAGES='' LANGUAGE='' \
    KEXBRIDGE_LOCALEDIR="$KB_TMP/locale" \
    kb_start_kexbridge bridge-ja "$bridge_port" --mode bridge \
    --listen "127.0.0.1:$bridge_port" --upstream "127.0.0.1:$closed" \
    --state-dir "$KB_TMP/bridge-state" --log-format text
# The client runs in the C locale, where OpenSSH shows each byte outside
# ASCII as a backslash and three octal digits.
status=0
LC_ALL=C kb_openssh scp -O "${KB_FI_OPTS[@]}" -P "$bridge_port" "$KB_TMP/small" \
    "kbnobody@127.0.0.1:unreachable" 2>"$KB_TMP/scp-ja.err" || status=$?
# OpenSSH ends its messages with CR LF.
disconnect=$(grep -i 'disconnect' "$KB_TMP/scp-ja.err" | head -n 1 | tr -d '\r')
kb_say "bridged scp to a closed port: $disconnect"
if [ "$status" -ne 0 ] && [ "$status" -ne 124 ]; then
	kb_pass "bridged scp to a closed port fails (exit $status)"
else
	kb_fail "bridged scp to a closed port: exit status $status, expected a failure"
fi
kb_assert_match "$disconnect" "kexbridge: upstream 127\\.0\\.0\\.1:$closed: " \
    "the DISCONNECT text names the upstream"
kb_assert_match "$disconnect" 'Connection refused' \
    "the DISCONNECT text has the English system error"
kb_assert_no_match "$disconnect" '\\[0-7]{3}' \
    "the DISCONNECT text has no backslash-octal escapes"
if LC_ALL=C grep -q '[^ -~]' <<<"$disconnect"; then
	kb_fail "the DISCONNECT text is not printable ASCII: $disconnect"
else
	kb_pass "the DISCONNECT text is printable ASCII"
fi
# The bridge's own transport errors go on the wire in English too. No SSH
# client sends a packet length this large, so a raw socket does, and it
# prints the description of the SSH_MSG_DISCONNECT that comes back.
transport_text=$("$KB_PY" - "$bridge_port" <<'EOF'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"SSH-2.0-kbtest_1.0\r\n" + struct.pack(">I", 0x7FFFFFF0) + b"\x00" * 12)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
data = data[data.index(b"\n") + 1:]
while len(data) >= 5:
    plen, pad = struct.unpack(">IB", data[:5])
    payload = data[5:4 + plen - pad]
    data = data[4 + plen:]
    if payload[:1] == b"\x01":
        dlen = struct.unpack(">I", payload[5:9])[0]
        sys.stdout.write(payload[9:9 + dlen].decode("utf-8", "replace"))
        break
EOF
)
kb_say "DISCONNECT for an oversized packet: $transport_text"
kb_assert_match "$transport_text" 'packet' "the transport's DISCONNECT text names the packet"
if LC_ALL=C grep -q '[^ -~]' <<<"$transport_text"; then
	kb_fail "the transport's DISCONNECT text is not printable ASCII: $transport_text"
else
	kb_pass "the transport's DISCONNECT text is printable ASCII"
fi

kb_wait_log "$KB_TMP/bridge-ja.log" "127.0.0.1:$closed" 10 || true
assert_japanese "$(grep -F "127.0.0.1:$closed" "$KB_TMP/bridge-ja.log" |
    grep -v 'listen' || true)" yes "the bridge's text log about the failure stays Japanese"

kb_finish
