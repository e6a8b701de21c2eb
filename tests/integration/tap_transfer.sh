#!/usr/bin/env bash
# Compatible client and server pairs copy files through a tap route, and
# every byte must arrive unchanged: a 1 MiB and a 0-byte file each way,
# compared by SHA-256. Each session must log an agreed negotiation (result.kex
# set, nothing failed) and a session_end with bytes in both directions.
#   OpenSSH scp and sftp -> tap -> OpenSSH sshd (default algorithms)
#   OpenSSH scp -O       -> tap -> dropbear
#   dbclient             -> tap -> OpenSSH sshd (default algorithms)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sftp sshd ssh-keygen dropbear dropbearkey dbclient sha256sum

kb_make_account
kb_start_sshd default
kb_start_dropbear

head -c 1048576 /dev/urandom >"$KB_TMP/big"
: >"$KB_TMP/empty"
for f in big empty; do
	install -o "$KB_USER" -m 644 "$KB_TMP/$f" "$KB_HOME/remote-$f"
done
mkdir -p "$KB_TMP/in"
sessions=0

# scp/sftp through tap to OpenSSH sshd.
kb_start_tap tap-sshd "$SSHD_PORT"
sshd_tap_port=$KB_PORT
sshd_tap_log=$KB_LOG
for f in big empty; do
	kb_openssh scp -P "$sshd_tap_port" "$KB_TMP/$f" "$KB_USER@127.0.0.1:up-scp-$f" ||
	    kb_fail "scp upload of $f to sshd exited $?"
	kb_assert_same_file "$KB_TMP/$f" "$KB_HOME/up-scp-$f" "scp upload $f -> sshd"
	kb_openssh scp -P "$sshd_tap_port" "$KB_USER@127.0.0.1:remote-$f" "$KB_TMP/in/scp-$f" ||
	    kb_fail "scp download of $f from sshd exited $?"
	kb_assert_same_file "$KB_TMP/$f" "$KB_TMP/in/scp-$f" "scp download $f <- sshd"
	sessions=$((sessions + 2))
done
cat >"$KB_TMP/sftp.batch" <<EOF
put $KB_TMP/big up-sftp-big
put $KB_TMP/empty up-sftp-empty
get remote-big $KB_TMP/in/sftp-big
get remote-empty $KB_TMP/in/sftp-empty
EOF
kb_openssh sftp -P "$sshd_tap_port" -b "$KB_TMP/sftp.batch" "$KB_USER@127.0.0.1" \
    >/dev/null || kb_fail "sftp batch through tap exited $?"
sessions=$((sessions + 1))
for f in big empty; do
	kb_assert_same_file "$KB_TMP/$f" "$KB_HOME/up-sftp-$f" "sftp upload $f -> sshd"
	kb_assert_same_file "$KB_TMP/$f" "$KB_TMP/in/sftp-$f" "sftp download $f <- sshd"
done

# scp -O (the original SCP protocol) through tap to dropbear.
kb_start_tap tap-dropbear "$DROPBEAR_PORT"
db_tap_port=$KB_PORT
db_tap_log=$KB_LOG
for f in big empty; do
	kb_openssh scp -O -P "$db_tap_port" "$KB_TMP/$f" "$KB_USER@127.0.0.1:up-db-$f" ||
	    kb_fail "scp -O upload of $f to dropbear exited $?"
	kb_assert_same_file "$KB_TMP/$f" "$KB_HOME/up-db-$f" "scp -O upload $f -> dropbear"
	kb_openssh scp -O -P "$db_tap_port" "$KB_USER@127.0.0.1:remote-$f" "$KB_TMP/in/db-$f" ||
	    kb_fail "scp -O download of $f from dropbear exited $?"
	kb_assert_same_file "$KB_TMP/$f" "$KB_TMP/in/db-$f" "scp -O download $f <- dropbear"
done

# dbclient through the sshd tap: the remote command moves the bytes.
for f in big empty; do
	kb_dbclient -p "$sshd_tap_port" "$KB_USER@127.0.0.1" "cat > up-dbc-$f" \
	    <"$KB_TMP/$f" 2>"$KB_TMP/dbclient-up.err" ||
	    kb_fail "dbclient upload of $f exited $?: $(cat "$KB_TMP/dbclient-up.err")"
	kb_assert_same_file "$KB_TMP/$f" "$KB_HOME/up-dbc-$f" "dbclient upload $f -> sshd"
	kb_dbclient -p "$sshd_tap_port" "$KB_USER@127.0.0.1" "cat remote-$f" \
	    >"$KB_TMP/in/dbc-$f" 2>"$KB_TMP/dbclient-down.err" </dev/null ||
	    kb_fail "dbclient download of $f exited $?: $(cat "$KB_TMP/dbclient-down.err")"
	kb_assert_same_file "$KB_TMP/$f" "$KB_TMP/in/dbc-$f" "dbclient download $f <- sshd"
	sessions=$((sessions + 2))
done

# Every session logged an agreed negotiation and its byte counts.
check_log() {
	local log=$1 want=$2 what=$3 line n

	kb_wait_events "$log" "$want" 10 session_end ||
	    kb_fail "$what: fewer than $want session_end events after 10 s"
	n=$(kb_json count "$log" negotiation)
	kb_assert_eq "$n" "$want" "$what: one negotiation event per session"
	while IFS= read -r line; do
		kb_assert_match "$(kb_json get "$line" result.kex)" '^[a-z0-9]' \
		    "$what: agreed kex $(kb_json get "$line" result.kex), cipher $(kb_json get "$line" result.cipher_c2s)"
		kb_assert_eq "$(kb_json get "$line" failed)" '[]' "$what: nothing failed"
	done < <(kb_json select "$log" negotiation)
	while IFS= read -r line; do
		kb_assert_match "$(kb_json get "$line" bytes_c2s)" '^[1-9][0-9]*$' \
		    "$what: session $(kb_json get "$line" session) bytes_c2s $(kb_json get "$line" bytes_c2s) > 0"
		kb_assert_match "$(kb_json get "$line" bytes_s2c)" '^[1-9][0-9]*$' \
		    "$what: session $(kb_json get "$line" session) bytes_s2c $(kb_json get "$line" bytes_s2c) > 0"
	done < <(kb_json select "$log" session_end)
}
check_log "$sshd_tap_log" "$sessions" "tap to sshd"
check_log "$db_tap_log" 4 "tap to dropbear"

# The 1 MiB transfers must show up in the byte counts.
max_c2s=$(kb_json select "$sshd_tap_log" session_end | while IFS= read -r l; do
	kb_json get "$l" bytes_c2s; done | sort -n | tail -n 1)
kb_assert_match "$max_c2s" '^[0-9]{7,}$' "an upload session carried >= 1 MiB c2s ($max_c2s bytes)"

# After both KEXINITs a session relays with splice(2), which the debug log
# reports. The copy and the byte counts must be as complete as before.
KB_PORT=$(kb_free_port)
kb_start_kexbridge tap-splice "$KB_PORT" --mode tap --log-level debug \
    --log-format json --listen "127.0.0.1:$KB_PORT" --upstream "127.0.0.1:$SSHD_PORT"
splice_log="$KB_TMP/tap-splice.log"
kb_openssh scp -P "$KB_PORT" "$KB_TMP/big" "$KB_USER@127.0.0.1:up-splice" ||
    kb_fail "scp upload through the splice tap exited $?"
kb_assert_same_file "$KB_TMP/big" "$KB_HOME/up-splice" "scp upload through the splice tap"
kb_wait_events "$splice_log" 1 10 session_end ||
    kb_fail "splice tap: no session_end after 10 s"
kb_assert_match "$(cat "$splice_log")" 'relaying with splice' \
    "splice tap: the session changed over to splice(2)"
end=$(kb_json select "$splice_log" session_end | head -n 1)
kb_assert_match "$(kb_json get "$end" bytes_c2s)" '^[0-9]{7,}$' \
    "splice tap: bytes_c2s counts the 1 MiB upload ($(kb_json get "$end" bytes_c2s))"

kb_finish
