#!/usr/bin/env bash
# Server-started rekeying on a bridge route (rekey_limit, RFC 4253 section
# 9). Through a route with rekey_limit = 1M, OpenSSH scp -O, scp (SFTP
# protocol) and, when it is installed, a paramiko SFTP client copy 20 MiB
# each way to a legacy-only sshd. Every copy must match by SHA-256, every
# session must end with exit status 0 or a complete transfer, and the log
# must show that kexbridge started more than MIN_REKEYS key exchanges per
# 20 MiB. Through a route with the default limit, a 1 MiB copy must start
# none.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sftp sshd ssh-keygen sha256sum

# 20 MiB under a 1 MiB limit would be 20 rekeys if the client stopped at
# once. It sends on until our KEXINIT reaches it, up to the 2 MiB channel
# window, and those bytes still count for the old keys. So a rekey comes
# every 1 to 3 MiB, which was 10 to 14 per 20 MiB when this test was
# written.
BIG_MIB=20
MIN_REKEYS=5
PEER="$KB_SRCDIR/tests/integration/paramiko_peer.py"

kb_make_account
kb_start_sshd legacy

rport=$(kb_free_port)
dport=$(kb_free_port)
while [ "$dport" = "$rport" ]; do
	dport=$(kb_free_port)
done
mkdir -p "$KB_TMP/state"
chmod 700 "$KB_TMP/state"
cat >"$KB_TMP/kexbridge.ini" <<EOF
[global]
log_format = json
state_dir = $KB_TMP/state

[route rekey]
mode = bridge
listen = 127.0.0.1:$rport
upstream = 127.0.0.1:$SSHD_PORT
rekey_limit = 1M

[route default]
mode = bridge
listen = 127.0.0.1:$dport
upstream = 127.0.0.1:$SSHD_PORT
EOF
kb_start_kexbridge bridge "$rport" -f "$KB_TMP/kexbridge.ini"
bridge_pid=$KB_PID
log="$KB_TMP/bridge.log"
kb_wait_port "$dport" 10 || kb_fail "the default route is not listening on 127.0.0.1:$dport"
dest="$KB_USER@127.0.0.1"
records=0

mkdir -p "$KB_TMP/in"
head -c $((BIG_MIB * 1048576)) /dev/urandom >"$KB_TMP/big"
big_size=$(stat -c %s "$KB_TMP/big")
head -c 1048576 /dev/urandom >"$KB_TMP/mib"
install -o "$KB_USER" -m 644 "$KB_TMP/big" "$KB_HOME/remote-big"

# Server-started rekeys logged so far, over all sessions.
rekey_count() {
	grep -c '"message":"rekey data limit reached' "$log" || true
}

# Checks that more than $2 rekeys were logged since the count $1; $3 names
# the copy.
assert_rekeys_since() {
	local before=$1 min=$2 what=$3 started

	started=$(($(rekey_count) - before))
	if [ "$started" -gt "$min" ]; then
		kb_pass "$what: kexbridge started $started rekeys (more than $min)"
	else
		kb_fail "$what: kexbridge started $started rekeys, expected more than $min"
	fi
}

next_record() {
	local what=$1

	shift
	records=$((records + 1))
	kb_assert_record "$(kb_record_n "$log" "$records")" "$what" "user=$KB_USER" "$@"
}

client_err() { head -c 400 "$KB_TMP/client.err" | tr '\n' ' '; }

# scp in both protocols, each way, through the route with the 1 MiB limit.
for proto in -O -s; do
	before=$(rekey_count)
	kb_openssh_within 120 scp "$proto" "${KB_FI_OPTS[@]}" -P "$rport" \
	    "$KB_TMP/big" "$dest:up$proto-big" 2>"$KB_TMP/client.err" ||
	    kb_fail "scp $proto upload of $BIG_MIB MiB exited $?: $(client_err)"
	kb_assert_same_file "$KB_TMP/big" "$KB_HOME/up$proto-big" "scp $proto upload $BIG_MIB MiB"
	# scp -O names the file in its C line (the source's name), SFTP opens
	# the target path.
	if [ "$proto" = -O ]; then
		name=big
	else
		name=up$proto-big
	fi
	next_record "scp $proto upload $BIG_MIB MiB" exit=0 route=rekey \
	    "file=upload:$name:$big_size"
	assert_rekeys_since "$before" "$MIN_REKEYS" "scp $proto upload $BIG_MIB MiB"
	rm -f "$KB_HOME/up$proto-big"

	before=$(rekey_count)
	kb_openssh_within 120 scp "$proto" "${KB_FI_OPTS[@]}" -P "$rport" \
	    "$dest:remote-big" "$KB_TMP/in/big$proto" 2>"$KB_TMP/client.err" ||
	    kb_fail "scp $proto download of $BIG_MIB MiB exited $?: $(client_err)"
	kb_assert_same_file "$KB_TMP/big" "$KB_TMP/in/big$proto" "scp $proto download $BIG_MIB MiB"
	next_record "scp $proto download $BIG_MIB MiB" exit=0 \
	    "file=download:remote-big:$big_size"
	assert_rekeys_since "$before" "$MIN_REKEYS" "scp $proto download $BIG_MIB MiB"
	rm -f "$KB_TMP/in/big$proto"
done

# paramiko: one SFTP session with a put and a get, so rekeys in both
# directions within one session.
if "$KB_PY" -c 'import paramiko' 2>/dev/null; then
	before=$(rekey_count)
	if out=$(timeout 120 "$KB_PY" "$PEER" client "$rport" "$KB_USER" "$KB_PASSWORD_FILE" \
	    "$KB_TMP/big" up-paramiko remote-big "$KB_TMP/in/paramiko" \
	    2>"$KB_TMP/paramiko.err"); then
		kb_pass "paramiko client: $out"
	else
		kb_fail "paramiko client exited $?: $(tail -n 3 "$KB_TMP/paramiko.err" | tr '\n' ' ')"
	fi
	kb_assert_same_file "$KB_TMP/big" "$KB_HOME/up-paramiko" "paramiko put $BIG_MIB MiB"
	kb_assert_same_file "$KB_TMP/big" "$KB_TMP/in/paramiko" "paramiko get $BIG_MIB MiB"
	# NOTE: the session record counts only about 8 MiB of paramiko's
	# 20 MiB get (its reads run ahead in parallel), with the default limit
	# too, so only the SHA-256 above checks the download.
	next_record "paramiko SFTP session" exit=ok complete=yes \
	    "file=upload:up-paramiko:$big_size"
	assert_rekeys_since "$before" $((2 * MIN_REKEYS)) "paramiko put and get $BIG_MIB MiB"
else
	kb_say "paramiko is not installed for $KB_PY; its copies are not run"
fi

# The default limit is the cipher's (64 GiB for aes128-ctr): no rekey.
before=$(rekey_count)
kb_openssh scp -O "${KB_FI_OPTS[@]}" -P "$dport" "$KB_TMP/mib" "$dest:up-default" \
    2>"$KB_TMP/client.err" || kb_fail "scp -O upload with the default limit exited $?: $(client_err)"
kb_assert_same_file "$KB_TMP/mib" "$KB_HOME/up-default" "scp -O upload 1 MiB, default limit"
next_record "scp -O upload 1 MiB, default limit" exit=0 route=default "file=upload:mib:1048576"
kb_assert_eq "$(($(rekey_count) - before))" 0 "default limit: no rekey for 1 MiB"

kb_assert_alive "$bridge_pid" "kexbridge still runs after $records sessions"
kb_finish
