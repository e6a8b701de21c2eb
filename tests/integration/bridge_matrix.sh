#!/usr/bin/env bash
# Every client-facing algorithm of bridge mode works with a real OpenSSH
# client. One small scp -O upload per algorithm, varying one category at a
# time (key exchange, host key, cipher, MAC with a non-AEAD cipher) while the
# others keep OpenSSH's defaults. The client's `ssh -v` output and the
# session_record must both name the algorithm, and the copy must be
# byte-exact. Then strict key exchange (OpenSSH 9.2 offers
# kex-strict-c-v00@openssh.com) and a 20 MiB upload with RekeyLimit=1M, so
# the client rekeys many times mid-transfer. The upstream is a legacy-only
# OpenSSH sshd.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sshd ssh-keygen sha256sum

KEXES=(curve25519-sha256 curve25519-sha256@libssh.org ecdh-sha2-nistp256
    ecdh-sha2-nistp384 ecdh-sha2-nistp521 diffie-hellman-group-exchange-sha256
    diffie-hellman-group16-sha512 diffie-hellman-group18-sha512
    diffie-hellman-group14-sha256)
HOSTKEYS=(ssh-ed25519 ecdsa-sha2-nistp256 rsa-sha2-512 rsa-sha2-256 ssh-rsa)
CIPHERS=(chacha20-poly1305@openssh.com aes128-gcm@openssh.com
    aes256-gcm@openssh.com aes128-ctr aes192-ctr aes256-ctr)
MACS=(hmac-sha2-256 hmac-sha2-512 hmac-sha2-256-etm@openssh.com
    hmac-sha2-512-etm@openssh.com)

kb_make_account
kb_start_sshd legacy

# One host key of each type, given explicitly.
mkdir -p "$KB_TMP/hostkeys"
ssh-keygen -q -t ed25519 -N '' -f "$KB_TMP/hostkeys/ed25519" </dev/null
ssh-keygen -q -t ecdsa -b 256 -N '' -f "$KB_TMP/hostkeys/ecdsa" </dev/null
ssh-keygen -q -t rsa -b 3072 -N '' -f "$KB_TMP/hostkeys/rsa" </dev/null
kb_start_bridge bridge "$SSHD_PORT" --hostkey "$KB_TMP/hostkeys/ed25519" \
    --hostkey "$KB_TMP/hostkeys/ecdsa" --hostkey "$KB_TMP/hostkeys/rsa"
port=$KB_PORT
log=$KB_LOG
records=0

head -c 32768 /dev/urandom >"$KB_TMP/small"

# Uploads the small file with the client options given and checks the copy
# and the session_record. $1 names the case (also the remote file), $2 the
# session_record path to check and $3 its expected value; $4 is a regex the
# `ssh -v` output must match. Sets err to the file holding that output.
upload_case() {
	local what=$1 path=$2 want=$3 regex=$4 name

	shift 4
	name=$(printf '%s' "$what" | tr -c 'A-Za-z0-9.-' '_')
	err="$KB_TMP/v-$name.err"
	kb_openssh scp -O -v -P "$port" "$@" "$KB_TMP/small" "$KB_USER@127.0.0.1:m-$name" \
	    2>"$err" || kb_fail "$what: scp exited $?: $(grep -v '^debug' "$err" | head -c 400)"
	kb_assert_same_file "$KB_TMP/small" "$KB_HOME/m-$name" "$what: copy"
	# ssh ends its debug lines with CR LF.
	kb_assert_match "$(grep '^debug1: kex: ' "$err" | tr -d '\r')" "$regex" "$what: client agreed"
	records=$((records + 1))
	kb_assert_record "$(kb_record_n "$log" "$records")" "$what" exit=0 \
	    "$path=$want" "file=upload:small:32768"
}

for kex in "${KEXES[@]}"; do
	upload_case "kex $kex" client_algorithms.kex "$kex" \
	    "kex: algorithm: ${kex//./\\.}\$" -o "KexAlgorithms=$kex"
done
for hk in "${HOSTKEYS[@]}"; do
	upload_case "host key $hk" client_algorithms.hostkey "$hk" \
	    "kex: host key algorithm: $hk\$" -o "HostKeyAlgorithms=$hk"
done
for cipher in "${CIPHERS[@]}"; do
	upload_case "cipher $cipher" client_algorithms.cipher_c2s "$cipher" \
	    "client->server cipher: ${cipher//./\\.} MAC" -o "Ciphers=$cipher"
done
for mac in "${MACS[@]}"; do
	upload_case "MAC $mac" client_algorithms.mac_c2s "$mac" \
	    "client->server cipher: aes128-ctr MAC: ${mac//./\\.} compression" \
	    -o Ciphers=aes128-ctr -o "MACs=$mac"
done

# Strict key exchange: OpenSSH prints its decision at -vvv, and the
# kexbridge log must record it for the session too.
kb_openssh scp -O -vvv -P "$port" "$KB_TMP/small" "$KB_USER@127.0.0.1:m-kex-order" \
    2>"$KB_TMP/strict.err" || kb_fail "strict kex: scp exited $?"
kb_assert_same_file "$KB_TMP/small" "$KB_HOME/m-kex-order" "strict kex: copy"
kb_assert_match "$(grep -E 'KEX algorithms:.*kex-strict-s-v00@openssh\.com' "$KB_TMP/strict.err" | head -n 1)" \
    'kex-strict-s-v00@openssh\.com' "strict kex: kexbridge offers kex-strict-s-v00@openssh.com"
kb_assert_match "$(grep 'strict KEX' "$KB_TMP/strict.err" || true)" \
    'will use strict KEX ordering' "strict kex: the client uses strict KEX ordering"
records=$((records + 1))
strict_record=$(kb_record_n "$log" "$records")
strict_session=$(kb_json get "$strict_record" session)
kb_assert_match "$(kb_json get "$strict_record" strict_kex)" '^(true|True)$' \
    "strict kex: the session record of $strict_session says strict_kex true"

# Rekeying mid-transfer: the client starts a new key exchange after every
# MiB, in both directions.
head -c $((20 * 1048576)) /dev/urandom >"$KB_TMP/rekey"
kb_openssh_within 120 scp -O -v -o RekeyLimit=1M -P "$port" "$KB_TMP/rekey" \
    "$KB_USER@127.0.0.1:m-rekey" 2>"$KB_TMP/rekey.err" ||
    kb_fail "rekey: scp exited $?: $(grep -v '^debug' "$KB_TMP/rekey.err" | head -c 400)"
kb_assert_same_file "$KB_TMP/rekey" "$KB_HOME/m-rekey" "rekey: 20 MiB copy"
newkeys=$(grep -c 'SSH2_MSG_NEWKEYS sent' "$KB_TMP/rekey.err" || true)
if [ "$newkeys" -ge 10 ]; then
	kb_pass "rekey: $newkeys key exchanges in one session"
else
	kb_fail "rekey: only $newkeys key exchange(s); expected at least 10 with RekeyLimit=1M and 20 MiB"
fi
records=$((records + 1))
kb_assert_record "$(kb_record_n "$log" "$records")" "rekey" exit=0 \
    "file=upload:rekey:$((20 * 1048576))"

kb_assert_alive "$KB_PID" "kexbridge still runs after $records sessions"
kb_finish
