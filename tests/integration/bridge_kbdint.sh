#!/usr/bin/env bash
# Keyboard-interactive authentication through a bridge route. The upstream
# is a legacy-only OpenSSH sshd that accepts only keyboard-interactive
# through PAM (password authentication off), as many old backup servers
# are set up. An FI-restricted OpenSSH client answers the relayed
# "Password:" prompt, and the copy must arrive byte-exact. A wrong answer
# must fail the client, and no answer may appear in any log.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sshd ssh-keygen sha256sum
[ -f /etc/pam.d/sshd ] || kb_skip "no PAM configuration for sshd (/etc/pam.d/sshd)"

kb_make_account

# An sshd like kb_start_sshd legacy, but with keyboard-interactive through
# PAM as the only way in.
dir="$KB_TMP/sshd-kbdint"
mkdir -p "$dir" /run/sshd
upstream=$(kb_free_port)
ssh-keygen -q -t rsa -b 2048 -N '' -f "$dir/host_rsa" </dev/null
cat >"$dir/sshd_config" <<EOF
ListenAddress 127.0.0.1:$upstream
PidFile $dir/sshd.pid
HostKey $dir/host_rsa
KexAlgorithms $KB_LEGACY_KEX
HostKeyAlgorithms ssh-rsa
Ciphers $KB_LEGACY_CIPHERS
MACs $KB_LEGACY_MACS
UsePAM yes
PasswordAuthentication no
KbdInteractiveAuthentication yes
PubkeyAuthentication no
PermitRootLogin no
AllowUsers $KB_USER
LogLevel VERBOSE
EOF
/usr/sbin/sshd -D -e -f "$dir/sshd_config" 2>"$KB_TMP/sshd-kbdint.log" &
KB_PIDS+=("$!")
kb_wait_port "$upstream" 10 || kb_fail "sshd with keyboard-interactive did not start"

kb_start_bridge bridge "$upstream"
port=$KB_PORT
log=$KB_LOG
head -c 1048576 /dev/urandom >"$KB_TMP/backup"

# The client offers only keyboard-interactive; the askpass helper answers
# the prompt that kexbridge relays from the server's PAM stack.
kb_openssh_within 60 scp -O "${KB_FI_OPTS[@]}" \
    -o PreferredAuthentications=keyboard-interactive -P "$port" \
    "$KB_TMP/backup" "$KB_USER@127.0.0.1:kbdint-copy" 2>"$KB_TMP/client.err" ||
    kb_fail "scp with keyboard-interactive exited $?: $(head -c 400 "$KB_TMP/client.err")"
kb_assert_same_file "$KB_TMP/backup" "$KB_HOME/kbdint-copy" "keyboard-interactive copy"

record=$(kb_record_n "$log" 1) || kb_fail "no session_record for the keyboard-interactive copy"
kb_assert_eq "$(kb_json get "$record" user)" "$KB_USER" "session record names the user"
kb_assert_eq "$(kb_json get "$record" exit_status)" 0 "session record exit status"
kb_assert_eq "$(kb_json get "$record" auth_method)" keyboard-interactive \
    "session record names the login method"

# A wrong answer: the askpass helper answers with another password.
cp "$KB_PASSWORD_FILE" "$KB_TMP/right-password"
printf 'not-%s\n' "$(cat "$KB_TMP/right-password")" >"$KB_PASSWORD_FILE"
cp "$KB_PASSWORD_FILE" "$KB_TMP/wrong-password"
rc=0
kb_openssh_within 60 scp -O "${KB_FI_OPTS[@]}" \
    -o PreferredAuthentications=keyboard-interactive -P "$port" \
    "$KB_TMP/backup" "$KB_USER@127.0.0.1:kbdint-wrong" 2>"$KB_TMP/client-wrong.err" || rc=$?
cp "$KB_TMP/right-password" "$KB_PASSWORD_FILE"
if [ "$rc" -eq 0 ]; then
	kb_fail "a wrong keyboard-interactive answer logged in"
elif [ "$rc" -eq 124 ]; then
	kb_fail "the client hung after a wrong keyboard-interactive answer"
else
	kb_pass "a wrong keyboard-interactive answer fails the client (exit $rc)"
fi
[ ! -e "$KB_HOME/kbdint-wrong" ] || kb_fail "a file arrived after a wrong answer"

kb_assert_no_password "$log" "$KB_TMP/client.err" "$KB_TMP/client-wrong.err"
KB_SECRET_FILE="$KB_TMP/wrong-password" kb_assert_no_password "$log" \
    "$KB_TMP/client.err" "$KB_TMP/client-wrong.err"
kb_finish
