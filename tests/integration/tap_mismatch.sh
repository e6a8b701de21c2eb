#!/usr/bin/env bash
# An OpenSSH scp restricted to the FI 4.0(2a)+ offer copies through a tap
# route to an sshd that speaks only old algorithms. The copy must fail, and
# kexbridge must log why: the failing categories, both offers and advice, in
# the JSON log and in the text log.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sshd ssh-keygen

kb_make_account
kb_start_sshd legacy
head -c 4096 /dev/urandom >"$KB_TMP/payload"

# One copy through a JSON-logging tap, one through a text-logging tap.
for format in json text; do
	kb_start_tap "tap-$format" "$SSHD_PORT" "$format"
	kb_say "scp with the FI offer through the $format tap on port $KB_PORT"
	if kb_openssh scp "${KB_FI_OPTS[@]}" -P "$KB_PORT" "$KB_TMP/payload" \
	    "$KB_USER@127.0.0.1:payload" 2>"$KB_TMP/scp-$format.err"; then
		kb_fail "scp succeeded, but the FI offer and the legacy server share no kex"
	else
		kb_pass "scp failed: $(head -n 1 "$KB_TMP/scp-$format.err")"
	fi
	kb_assert_match "$(cat "$KB_TMP/scp-$format.err")" 'no matching|unable to negotiate' \
	    "scp reports a negotiation failure"
	if [ "$format" = json ]; then
		json_log=$KB_LOG
	else
		text_log=$KB_LOG
	fi
done

# The JSON negotiation event.
kb_wait_events "$json_log" 1 10 negotiation ||
    kb_fail "no negotiation event in the JSON log within 10 s"
line=$(kb_json select "$json_log" negotiation | head -n 1)
kb_say "negotiation event: $(printf '%s' "$line" | head -c 300)..."

failed=$(kb_json get "$line" failed)
for category in kex cipher_c2s cipher_s2c mac_c2s mac_s2c; do
	kb_assert_match "$failed" "\"$category\"" "failed lists $category"
done
kb_assert_match "$(kb_json get "$line" session)" '.' "the event carries a session id"
kb_assert_match "$(kb_json get "$line" client_version)" '^SSH-2\.0-OpenSSH' \
    "client_version is the OpenSSH client's version line"
kb_assert_match "$(kb_json get "$line" server_version)" '^SSH-2\.0-OpenSSH' \
    "server_version is the sshd version line"

# Both offers, as sent on the wire.
# OpenSSH appends ext-info-c and kex-strict-c-v00@openssh.com, so each
# FI name is looked up instead of comparing the whole list.
client_kex=$(kb_json get "$line" client_offer.kex)
for alg in ${KB_FI_KEX//,/ }; do
	kb_assert_match "$client_kex" "\"$alg\"" "client_offer.kex has $alg"
done
kb_assert_eq "$(kb_json get "$line" client_offer.cipher_c2s)" \
    '["aes128-ctr","aes192-ctr","aes256-ctr"]' "client_offer.cipher_c2s is the FI list"
kb_assert_eq "$(kb_json get "$line" client_offer.mac_s2c)" \
    '["hmac-sha2-256","hmac-sha2-512"]' "client_offer.mac_s2c is the FI list"
server_kex=$(kb_json get "$line" server_offer.kex)
for alg in ${KB_LEGACY_KEX//,/ }; do
	kb_assert_match "$server_kex" "\"$alg\"" "server_offer.kex has $alg"
done
kb_assert_eq "$(kb_json get "$line" server_offer.hostkey)" '["ssh-rsa"]' \
    "server_offer.hostkey is ssh-rsa"
kb_assert_eq "$(kb_json get "$line" server_offer.cipher_s2c)" \
    '["aes128-cbc","3des-cbc","aes256-cbc"]' "server_offer.cipher_s2c is the legacy list"
kb_assert_eq "$(kb_json get "$line" server_offer.mac_c2s)" '["hmac-sha1","hmac-md5"]' \
    "server_offer.mac_c2s is the legacy list"
kb_assert_eq "$(kb_json get "$line" result.kex)" null "result.kex is null"

advice=$(kb_json get "$line" advice)
kb_assert_match "$advice" '^\[".+' "advice is a non-empty list"
kb_assert_match "$advice" 'KexAlgorithms|kex' "advice talks about the key exchange"

# The text log.
kb_wait_log "$text_log" 'kex' 10 || true
kb_say "text log: $(grep -Ei 'fail|mismatch|no common|no match' "$text_log" | head -n 3 | cut -c1-300)"
kb_assert_match "$(cat "$text_log")" '(fail|mismatch|no common|no match).*kex|kex.*(fail|mismatch|no common|no match)' \
    "the text log names the failing kex"
kb_assert_match "$(cat "$text_log")" 'cipher' "the text log mentions the cipher failure"

kb_assert_alive "$KB_PID" "kexbridge still runs after the failed session"
kb_finish
