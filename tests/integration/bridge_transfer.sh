#!/usr/bin/env bash
# Files copied through a bridge route arrive unchanged. The client is OpenSSH
# restricted to the FI 4.0(2a)+ offer, the upstream an OpenSSH sshd that
# speaks only legacy algorithms, so no direct session could agree. Each of
# scp -O (SCP protocol), scp (SFTP protocol) and sftp -b uploads and
# downloads files of 0 bytes, 1 byte and 1 MiB, a file named in Japanese
# with a space, and a directory tree (-r), then a 200 MiB file each way
# while the resident memory of kexbridge is sampled. Every copy
# is compared by SHA-256, and every session's session_record must name the
# user, the files with their sizes and exit status 0.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require ssh scp sftp sshd ssh-keygen sha256sum pgrep

# Peak resident memory allowed for kexbridge during a 200 MiB transfer. The
# pump is bounded by window and buffer limits, so the peak must not grow
# with the file size.
RSS_LIMIT_KB=$((64 * 1024))
SANITIZED=no
if grep -q 'libasan' <<<"$(ldd "$KEXBRIDGE" 2>/dev/null)"; then
	SANITIZED=yes
fi
JP_NAME='日本語 ファイル.txt'
JP_REMOTE='リモート ファイル.txt'

kb_make_account
kb_start_sshd legacy
kb_start_bridge bridge "$SSHD_PORT"
port=$KB_PORT
log=$KB_LOG
bridge_pid=$KB_PID
dest="$KB_USER@127.0.0.1"
records=0

# Local sources, and the same content placed on the upstream for downloads.
src="$KB_TMP/src"
mkdir -p "$src" "$KB_TMP/in"
: >"$src/empty"
head -c 1 /dev/urandom >"$src/one"
head -c 1048576 /dev/urandom >"$src/mib"
head -c 4096 /dev/urandom >"$src/$JP_NAME"
mkdir -p "$src/tree/a/b" "$src/tree/with space" "$src/tree/a/empty dir"
head -c 65536 /dev/urandom >"$src/tree/a/b/c.bin"
head -c 1 /dev/urandom >"$src/tree/a/one"
: >"$src/tree/empty.txt"
head -c 3000 /dev/urandom >"$src/tree/with space/$JP_NAME"
for f in empty one mib; do
	install -o "$KB_USER" -m 644 "$src/$f" "$KB_HOME/remote-$f"
done
install -o "$KB_USER" -m 644 "$src/$JP_NAME" "$KB_HOME/$JP_REMOTE"

# Prints directories and file hashes below $1, relative and sorted.
tree_manifest() {
	(
		cd "$1"
		find . -mindepth 1 -type d | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	)
}

assert_same_tree() {
	if [ ! -d "$2" ]; then
		kb_fail "$3: $2 was not created"
	elif [ "$(tree_manifest "$1")" != "$(tree_manifest "$2")" ]; then
		kb_fail "$3: trees differ: $(diff <(tree_manifest "$1") <(tree_manifest "$2") | head -n 10 | tr '\n' ' ')"
	else
		kb_pass "$3: tree matches ($(tree_manifest "$2" | wc -l) entries)"
	fi
}

# Checks the session_record of the next session; further arguments as for
# kb_assert_record.
next_record() {
	local what=$1

	shift
	records=$((records + 1))
	kb_assert_record "$(kb_record_n "$log" "$records")" "$what" \
	    "user=$KB_USER" exit=0 "$@"
}

# Runs an FI-restricted OpenSSH client ($1: scp or sftp) through the bridge.
fi_client() {
	local prog=$1

	shift
	kb_openssh "$prog" "${KB_FI_OPTS[@]}" -P "$port" "$@" 2>"$KB_TMP/client.err"
}

client_err() { head -c 400 "$KB_TMP/client.err" | tr '\n' ' '; }

# scp in both protocols: $1 is -O (SCP) or -s (SFTP; the default of this
# OpenSSH, named explicitly so a change of default cannot hide it).
for proto in -O -s; do
	tag=${proto#-}
	for f in empty one mib; do
		size=$(stat -c %s "$src/$f")
		fi_client scp "$proto" "$src/$f" "$dest:up-$tag-$f" ||
		    kb_fail "scp $proto upload of $f exited $?: $(client_err)"
		kb_assert_same_file "$src/$f" "$KB_HOME/up-$tag-$f" "scp $proto upload $f"
		# scp -O names the file in its C line (the source's name), SFTP
		# opens the target path.
		if [ "$proto" = -O ]; then
			next_record "scp $proto upload $f" "file=upload:$f:$size"
		else
			next_record "scp $proto upload $f" "file=upload:up-$tag-$f:$size"
		fi

		fi_client scp "$proto" "$dest:remote-$f" "$KB_TMP/in/$tag-$f" ||
		    kb_fail "scp $proto download of $f exited $?: $(client_err)"
		kb_assert_same_file "$src/$f" "$KB_TMP/in/$tag-$f" "scp $proto download $f"
		next_record "scp $proto download $f" "file=download:remote-${f}:$size"
	done

	# Non-ASCII names with a space. The SCP protocol hands the remote path
	# to the remote shell, so the space is escaped with a backslash as
	# scp(1) users do (single quotes would fail scp's own check that the
	# name sent back matches the request). SFTP takes the name as it is.
	if [ "$proto" = -O ]; then
		remote=${JP_REMOTE// /\\ }
	else
		remote=$JP_REMOTE
	fi
	mkdir -p "$KB_TMP/in/$tag-jp"
	fi_client scp "$proto" "$src/$JP_NAME" "$dest:" ||
	    kb_fail "scp $proto upload of '$JP_NAME' exited $?: $(client_err)"
	kb_assert_same_file "$src/$JP_NAME" "$KB_HOME/$JP_NAME" "scp $proto upload '$JP_NAME'"
	next_record "scp $proto upload '$JP_NAME'" "file=upload:$JP_NAME:4096"
	rm -f "$KB_HOME/$JP_NAME"
	fi_client scp "$proto" "$dest:$remote" "$KB_TMP/in/$tag-jp/" ||
	    kb_fail "scp $proto download of '$JP_REMOTE' exited $?: $(client_err)"
	kb_assert_same_file "$src/$JP_NAME" "$KB_TMP/in/$tag-jp/$JP_REMOTE" \
	    "scp $proto download '$JP_REMOTE'"
	next_record "scp $proto download '$JP_REMOTE'" "file=download:$JP_REMOTE:4096"

	# A directory tree, up and back down.
	fi_client scp "$proto" -r "$src/tree" "$dest:tree-$tag" ||
	    kb_fail "scp $proto -r upload exited $?: $(client_err)"
	assert_same_tree "$src/tree" "$KB_HOME/tree-$tag" "scp $proto -r upload"
	next_record "scp $proto -r upload" files_total=4 "file=upload:c.bin:65536" \
	    "file=upload:$JP_NAME:3000"
	fi_client scp "$proto" -r "$dest:tree-$tag" "$KB_TMP/in/tree-$tag" ||
	    kb_fail "scp $proto -r download exited $?: $(client_err)"
	assert_same_tree "$src/tree" "$KB_TMP/in/tree-$tag" "scp $proto -r download"
	next_record "scp $proto -r download" files_total=4 "file=download:c.bin:65536"
done

# sftp -b: everything in one session.
mkdir -p "$KB_TMP/in/sftp"
{
	for f in empty one mib; do
		printf 'put %s up-sftp-%s\n' "$src/$f" "$f"
		printf 'get remote-%s %s/in/sftp/%s\n' "$f" "$KB_TMP" "$f"
	done
	printf 'put "%s" "sftp %s"\n' "$src/$JP_NAME" "$JP_NAME"
	printf 'get "%s" "%s/in/sftp/%s"\n' "$JP_REMOTE" "$KB_TMP" "$JP_REMOTE"
	printf 'put -r %s tree-sftp\n' "$src/tree"
	printf 'get -r tree-sftp %s/in/sftp/tree\n' "$KB_TMP"
} >"$KB_TMP/sftp.batch"
fi_client sftp -b "$KB_TMP/sftp.batch" "$dest" >/dev/null ||
    kb_fail "sftp -b exited $?: $(client_err)"
for f in empty one mib; do
	kb_assert_same_file "$src/$f" "$KB_HOME/up-sftp-$f" "sftp put $f"
	kb_assert_same_file "$src/$f" "$KB_TMP/in/sftp/$f" "sftp get $f"
done
kb_assert_same_file "$src/$JP_NAME" "$KB_HOME/sftp $JP_NAME" "sftp put '$JP_NAME'"
kb_assert_same_file "$src/$JP_NAME" "$KB_TMP/in/sftp/$JP_REMOTE" "sftp get '$JP_REMOTE'"
assert_same_tree "$src/tree" "$KB_HOME/tree-sftp" "sftp put -r"
assert_same_tree "$src/tree" "$KB_TMP/in/sftp/tree" "sftp get -r"
next_record "sftp -b session" "file=upload:up-sftp-mib:1048576" \
    "file=download:remote-mib:1048576" "file=upload:up-sftp-one:1" \
    "file=upload:sftp $JP_NAME:4096" "file=download:$JP_REMOTE:4096" \
    "file=upload:c.bin:65536" "file=download:c.bin:65536"

# 200 MiB each way with each client (about 2.5 s per copy on a 2-core
# machine, so all six run): time, byte counts and the memory of kexbridge.
head -c $((200 * 1048576)) /dev/urandom >"$src/big"
big_size=$(stat -c %s "$src/big")
install -o "$KB_USER" -m 644 "$src/big" "$KB_HOME/remote-big"

# Runs one big transfer: $1 names it, the rest is the client command.
big_transfer() {
	local what=$1 start peak

	shift
	kb_rss_start "$bridge_pid" "$KB_TMP/rss"
	start=$(date +%s.%N)
	"$@" 2>"$KB_TMP/client.err" || kb_fail "$what exited $?: $(client_err)"
	peak=$(kb_rss_stop "$KB_TMP/rss")
	kb_say "$what: $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f s", e - s }'), kexbridge peak VmRSS $((peak / 1024)) MiB"
	if [ "$SANITIZED" = yes ]; then
		# AddressSanitizer keeps freed memory in quarantine, so its RSS
		# says nothing about kexbridge's own buffering.
		kb_say "$what: memory bound not checked in a sanitizer build"
	elif [ "$peak" -gt "$RSS_LIMIT_KB" ]; then
		kb_fail "$what: kexbridge VmRSS peaked at $peak kB, above $RSS_LIMIT_KB kB"
	else
		kb_pass "$what: kexbridge VmRSS peak $peak kB <= $RSS_LIMIT_KB kB"
	fi
}

for proto in -O -s; do
	big_transfer "scp $proto upload 200 MiB" kb_openssh_within 180 scp "$proto" \
	    "${KB_FI_OPTS[@]}" -P "$port" "$src/big" "$dest:up$proto-big"
	kb_assert_same_file "$src/big" "$KB_HOME/up$proto-big" "scp $proto upload 200 MiB"
	if [ "$proto" = -O ]; then
		next_record "scp $proto upload 200 MiB" "file=upload:big:$big_size"
	else
		next_record "scp $proto upload 200 MiB" "file=upload:up$proto-big:$big_size"
	fi
	kb_assert_match "$(kb_json get "$(kb_record_n "$log" "$records")" bytes_c2s)" \
	    '^[0-9]{9,}$' "scp $proto upload 200 MiB: bytes_c2s counts the file"
	rm -f "$KB_HOME/up$proto-big"

	big_transfer "scp $proto download 200 MiB" kb_openssh_within 180 scp "$proto" \
	    "${KB_FI_OPTS[@]}" -P "$port" "$dest:remote-big" "$KB_TMP/in/big$proto"
	kb_assert_same_file "$src/big" "$KB_TMP/in/big$proto" "scp $proto download 200 MiB"
	next_record "scp $proto download 200 MiB" "file=download:remote-big:$big_size"
	kb_assert_match "$(kb_json get "$(kb_record_n "$log" "$records")" bytes_s2c)" \
	    '^[0-9]{9,}$' "scp $proto download 200 MiB: bytes_s2c counts the file"
	rm -f "$KB_TMP/in/big$proto"
done

printf 'put %s up-sftp-big\nget remote-big %s/in/sftp-big\n' "$src/big" "$KB_TMP" \
    >"$KB_TMP/sftp-big.batch"
big_transfer "sftp put and get 200 MiB" kb_openssh_within 180 sftp "${KB_FI_OPTS[@]}" \
    -P "$port" -b "$KB_TMP/sftp-big.batch" "$dest"
kb_assert_same_file "$src/big" "$KB_HOME/up-sftp-big" "sftp put 200 MiB"
kb_assert_same_file "$src/big" "$KB_TMP/in/sftp-big" "sftp get 200 MiB"
next_record "sftp put and get 200 MiB" "file=upload:up-sftp-big:$big_size" \
    "file=download:remote-big:$big_size"

kb_assert_alive "$bridge_pid" "kexbridge still runs after $records sessions"
kb_finish
