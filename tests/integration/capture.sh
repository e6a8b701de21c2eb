#!/usr/bin/env bash
# kexbridge capture listens as a fake server, records the version line and
# KEXINIT of each client that connects, and writes a client profile. Here an
# OpenSSH client restricted to the FI 4.0(2a)+ offer connects first, then
# dbclient. The profile must load back into probe and behave like the
# built-in ucsm-4.0 profile: fail on kex against the legacy sshd, agree with
# the default sshd.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh sshd ssh-keygen dbclient

profile="$KB_TMP/fi.profile"
port=$(kb_free_port)
"$KEXBRIDGE" capture --listen "127.0.0.1:$port" --count 2 \
    --write-profile "$profile" --name fi-lab >"$KB_TMP/capture.out" \
    2>"$KB_TMP/capture.log" &
capture=$!
KB_PIDS+=("$capture")
kb_wait_port "$port" 10 || kb_fail "capture is not listening on 127.0.0.1:$port"

# Neither client can log in to a capture; they only have to send their offer.
timeout 15 ssh -F /dev/null "${KB_FI_OPTS[@]}" -o BatchMode=yes \
    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no \
    -o ConnectTimeout=10 -p "$port" kbcapture@127.0.0.1 true \
    </dev/null >/dev/null 2>&1 || true
HOME="$KB_TMP" timeout 15 dbclient -y -y -p "$port" kbcapture@127.0.0.1 true \
    </dev/null >/dev/null 2>&1 || true

if kb_wait_exit "$capture" 15; then
	status=0
	wait "$capture" || status=$?
	kb_assert_eq "$status" 0 "capture exits 0 after two clients"
else
	kb_fail "capture still runs 15 s after the second client"
fi
out=$(cat "$KB_TMP/capture.out" "$KB_TMP/capture.log")
kb_say "capture output:"
printf '%s\n' "$out" | head -n 40 | cut -c1-200
kb_assert_match "$out" 'SSH-2\.0-OpenSSH_' "capture prints the OpenSSH version line"
kb_assert_match "$out" 'SSH-2\.0-dropbear' "capture prints the dropbear version line"
kb_assert_match "$out" 'diffie-hellman-group-exchange-sha256' "capture prints the FI kex offer"

if [ -s "$profile" ]; then
	kb_pass "capture wrote the profile $profile"
	kb_say "profile file:"
	head -n 30 "$profile"
else
	kb_fail "capture did not write $profile"
fi

kb_start_sshd legacy sshd-legacy
legacy_port=$SSHD_PORT
kb_start_sshd default sshd-default
default_port=$SSHD_PORT

status=0
out=$(timeout 30 "$KEXBRIDGE" probe --json --timeout 5 --profile-file "$profile" \
    --profile fi-lab "127.0.0.1:$legacy_port" 2>"$KB_TMP/probe-legacy.log") || status=$?
kb_assert_eq "$status" 1 "probe with the captured profile fails against the legacy sshd"
json=$(printf '%s' "$out" | tr -d '\n')
kb_assert_eq "$(kb_json get "$json" profiles.0.name)" fi-lab "probe used the fi-lab profile"
failed=$(kb_json get "$json" profiles.0.failed)
kb_assert_match "$failed" '"kex"' "fi-lab fails on kex like ucsm-4.0 ($failed)"

# Every category ucsm-4.0 fails must fail for fi-lab too. fi-lab may fail
# more: OpenSSH 9.2 offers no ssh-rsa host key, so it adds hostkey.
ref=$(timeout 30 "$KEXBRIDGE" probe --json --timeout 5 --profile ucsm-4.0 \
    "127.0.0.1:$legacy_port" 2>/dev/null | tr -d '\n') || true
ref_failed=$(kb_json get "$ref" profiles.0.failed)
kb_assert_match "$ref_failed" '"kex"' "ucsm-4.0 fails on kex ($ref_failed)"
for category in $(printf '%s' "$ref_failed" | tr -d '[]"' | tr ',' ' '); do
	kb_assert_match "$failed" "\"$category\"" "fi-lab fails on $category like ucsm-4.0"
done

status=0
out=$(timeout 30 "$KEXBRIDGE" probe --timeout 5 --profile-file "$profile" \
    --profile fi-lab "127.0.0.1:$default_port" 2>&1) || status=$?
kb_assert_eq "$status" 0 "probe with the captured profile agrees with the default sshd"
[ "$status" -eq 0 ] || printf '%s\n' "$out" | head -n 20

kb_finish
