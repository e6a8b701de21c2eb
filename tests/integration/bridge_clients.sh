#!/usr/bin/env bash
# Further SSH implementations on both sides of a bridge route.
#   paramiko SFTP client (FI 4.0(2a)+ algorithms)  -> bridge -> legacy sshd
#   OpenSSH scp -O and sftp running dbclient (-S)  -> bridge -> legacy sshd
#   OpenSSH scp -O, scp and sftp (FI algorithms)   -> bridge -> paramiko
#     server offering only diffie-hellman-group1-sha1, ssh-dss, 3des-cbc and
#     hmac-md5; that route is read from an INI file and names those
#     algorithms as its upstream lists.
# Every copy is compared by SHA-256. Each session_record must list the
# files as complete, and for the paramiko server the legacy upstream
# algorithms. Its exit status must be 0 for OpenSSH clients; paramiko and
# dbclient may close the channel as soon as the data has ended, before the
# exit status arrives, so for them "none sent" is accepted too.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sftp sshd ssh-keygen dbclient sha256sum
"$KB_PY" -c 'import paramiko' 2>/dev/null || kb_skip "paramiko is not installed for $KB_PY"
PEER="$KB_SRCDIR/tests/integration/paramiko_peer.py"

kb_make_account
kb_start_sshd legacy
kb_start_bridge bridge "$SSHD_PORT"
port=$KB_PORT
log=$KB_LOG
records=0
dest="$KB_USER@127.0.0.1"

head -c 1048576 /dev/urandom >"$KB_TMP/mib"
: >"$KB_TMP/empty"
install -o "$KB_USER" -m 644 "$KB_TMP/mib" "$KB_HOME/remote-mib"
mkdir -p "$KB_TMP/in"

# Checks the next session_record; further arguments as for kb_assert_record.
next_record() {
	local what=$1

	shift
	records=$((records + 1))
	kb_assert_record "$(kb_record_n "$log" "$records")" "$what" "user=$KB_USER" "$@"
}

# paramiko: one SFTP session with a put and a get.
if out=$(timeout 60 "$KB_PY" "$PEER" client "$port" "$KB_USER" "$KB_PASSWORD_FILE" \
    "$KB_TMP/mib" up-paramiko remote-mib "$KB_TMP/in/paramiko" 2>"$KB_TMP/paramiko.err"); then
	kb_pass "paramiko client: $out"
else
	kb_fail "paramiko client exited $?: $(tail -n 3 "$KB_TMP/paramiko.err" | tr '\n' ' ')"
fi
kb_assert_same_file "$KB_TMP/mib" "$KB_HOME/up-paramiko" "paramiko put 1 MiB"
kb_assert_same_file "$KB_TMP/mib" "$KB_TMP/in/paramiko" "paramiko get 1 MiB"
next_record "paramiko SFTP session" exit=ok complete=yes "file=upload:up-paramiko:1048576" \
    "file=download:remote-mib:1048576"

# dbclient as the transport of OpenSSH scp and sftp, with the FI cipher and
# MAC; dbclient picks its own key exchange.
kb_write_dbclient_wrapper -c aes128-ctr -m hmac-sha2-256
for f in mib empty; do
	size=$(stat -c %s "$KB_TMP/$f")
	timeout 60 scp -O -S "$KB_TMP/dbclient-ssh.sh" -P "$port" "$KB_TMP/$f" "$dest:up-dbclient-$f" \
	    </dev/null 2>"$KB_TMP/dbclient.err" ||
	    kb_fail "scp -O over dbclient, upload $f, exited $?: $(head -c 400 "$KB_TMP/dbclient.err")"
	kb_assert_same_file "$KB_TMP/$f" "$KB_HOME/up-dbclient-$f" "dbclient scp -O upload $f"
	next_record "dbclient scp -O upload $f" exit=ok complete=yes "file=upload:$f:$size" \
	    client_algorithms.cipher_c2s=aes128-ctr client_algorithms.mac_c2s=hmac-sha2-256
done
timeout 60 scp -O -S "$KB_TMP/dbclient-ssh.sh" -P "$port" "$dest:remote-mib" "$KB_TMP/in/dbclient-mib" \
    </dev/null 2>"$KB_TMP/dbclient.err" ||
    kb_fail "scp -O over dbclient, download, exited $?: $(head -c 400 "$KB_TMP/dbclient.err")"
kb_assert_same_file "$KB_TMP/mib" "$KB_TMP/in/dbclient-mib" "dbclient scp -O download 1 MiB"
next_record "dbclient scp -O download" exit=ok complete=yes "file=download:remote-mib:1048576"
printf 'put %s up-dbclient-sftp\nget remote-mib %s/in/dbclient-sftp\n' "$KB_TMP/mib" "$KB_TMP" \
    >"$KB_TMP/dbclient.batch"
timeout 60 sftp -S "$KB_TMP/dbclient-ssh.sh" -P "$port" -b "$KB_TMP/dbclient.batch" "$dest" \
    </dev/null >/dev/null 2>"$KB_TMP/dbclient.err" ||
    kb_fail "sftp over dbclient exited $?: $(head -c 400 "$KB_TMP/dbclient.err")"
kb_assert_same_file "$KB_TMP/mib" "$KB_HOME/up-dbclient-sftp" "dbclient sftp put 1 MiB"
kb_assert_same_file "$KB_TMP/mib" "$KB_TMP/in/dbclient-sftp" "dbclient sftp get 1 MiB"
next_record "dbclient sftp session" exit=ok complete=yes "file=upload:up-dbclient-sftp:1048576" \
    "file=download:remote-mib:1048576"

# A paramiko server that speaks only legacy algorithms, serving $root.
root="$KB_TMP/paramiko-root"
mkdir -p "$root"
cp "$KB_TMP/mib" "$root/remote-mib"
pport=$(kb_free_port)
"$KB_PY" "$PEER" server "$pport" "$root" "$KB_USER" "$KB_PASSWORD_FILE" \
    2>"$KB_TMP/paramiko-server.log" &
KB_PIDS+=("$!")
kb_wait_port "$pport" 15 || kb_fail "the paramiko server did not start"

# Without kexbridge the FI client cannot reach it.
if kb_openssh scp -O "${KB_FI_OPTS[@]}" -P "$pport" "$KB_TMP/mib" "$dest:direct" \
    2>"$KB_TMP/direct.err"; then
	kb_fail "the FI client reached the legacy paramiko server directly"
else
	kb_assert_match "$(cat "$KB_TMP/direct.err")" 'no matching' \
	    "the FI client alone cannot negotiate with the paramiko server"
fi

# The bridge route for it comes from an INI file.
lport=$(kb_free_port)
mkdir -p "$KB_TMP/ini-state"
chmod 700 "$KB_TMP/ini-state"
cat >"$KB_TMP/kexbridge.ini" <<EOF
[global]
log_format = json
state_dir = $KB_TMP/ini-state

[route legacy-paramiko]
mode = bridge
listen = 127.0.0.1:$lport
upstream = 127.0.0.1:$pport
upstream_kex = diffie-hellman-group1-sha1
upstream_hostkey = ssh-dss
upstream_ciphers = 3des-cbc
upstream_macs = hmac-md5
kex = $KB_FI_KEX
ciphers = $KB_FI_CIPHERS
macs = $KB_FI_MACS
EOF
kb_start_kexbridge ini "$lport" -f "$KB_TMP/kexbridge.ini"
log="$KB_TMP/ini.log"
records=0
legacy_checks=(upstream_algorithms.kex=diffie-hellman-group1-sha1
    upstream_algorithms.hostkey=ssh-dss upstream_algorithms.cipher_c2s=3des-cbc
    upstream_algorithms.mac_c2s=hmac-md5 route=legacy-paramiko)

for proto in -O -s; do
	kb_openssh scp "$proto" "${KB_FI_OPTS[@]}" -P "$lport" "$KB_TMP/mib" "$dest:up$proto" \
	    2>"$KB_TMP/client.err" ||
	    kb_fail "scp $proto to the paramiko server exited $?: $(head -c 400 "$KB_TMP/client.err")"
	kb_assert_same_file "$KB_TMP/mib" "$root/up$proto" "scp $proto upload -> paramiko server"
	# paramiko's SFTP server sends no exit-status, so only the scp (exec)
	# sessions must end with 0; scp -O names the file in its C line.
	if [ "$proto" = -O ]; then
		name=mib
		exit_check=exit=0
	else
		name=up$proto
		exit_check=files_total=1
	fi
	next_record "scp $proto upload -> paramiko server" "$exit_check" \
	    "file=upload:$name:1048576" "${legacy_checks[@]}"
	kb_openssh scp "$proto" "${KB_FI_OPTS[@]}" -P "$lport" "$dest:remote-mib" "$KB_TMP/in/p$proto" \
	    2>"$KB_TMP/client.err" ||
	    kb_fail "scp $proto from the paramiko server exited $?: $(head -c 400 "$KB_TMP/client.err")"
	kb_assert_same_file "$KB_TMP/mib" "$KB_TMP/in/p$proto" "scp $proto download <- paramiko server"
	next_record "scp $proto download <- paramiko server" "$exit_check" \
	    "file=download:remote-mib:1048576" \
	    "${legacy_checks[@]}"
done
printf 'put %s up-sftp\nget remote-mib %s/in/p-sftp\n' "$KB_TMP/mib" "$KB_TMP" >"$KB_TMP/p.batch"
kb_openssh sftp "${KB_FI_OPTS[@]}" -P "$lport" -b "$KB_TMP/p.batch" "$dest" \
    >/dev/null 2>"$KB_TMP/client.err" ||
    kb_fail "sftp to the paramiko server exited $?: $(head -c 400 "$KB_TMP/client.err")"
kb_assert_same_file "$KB_TMP/mib" "$root/up-sftp" "sftp put -> paramiko server"
kb_assert_same_file "$KB_TMP/mib" "$KB_TMP/in/p-sftp" "sftp get <- paramiko server"
next_record "sftp session with the paramiko server" "file=upload:up-sftp:1048576" \
    "${legacy_checks[@]}"

kb_finish
