#!/usr/bin/env bash
# Measures the time to get a backup file from an FI-restricted client onto
# a legacy-only sshd, through kexbridge bridge mode against the usual
# workaround, side by side in one run, on loopback:
#   bridged      scp -O from a client restricted to the FI 4.0(2a)+ offer,
#                through kexbridge to the legacy sshd
#   workaround   scp -O with the FI algorithms to a staging sshd with
#                OpenSSH's default algorithms, then scp -O from the staging
#                host to the legacy sshd with a client that re-enables the
#                legacy algorithms (WORKAROUND_OPTS below)
# Each run is timed from the start of the first copy until the file is
# complete at the destination. Both write into the account's home folder
# and the files are removed after each run. The runs interleave for
# BENCH_ROUNDS rounds. Prints the median seconds of each and the ratio
# bridged / workaround. Nothing is asserted.
#
# Environment: KEXBRIDGE (default build/kexbridge), BENCH_SIZE_MIB (512),
# BENCH_ROUNDS (5).
# Needs root, like the integration tests (throwaway account, sshd).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=bridge_lib.sh
. "$(dirname "$0")/bridge_lib.sh"

size_mib=${BENCH_SIZE_MIB:-512}
rounds=${BENCH_ROUNDS:-5}
bytes=$((size_mib * 1048576))
# What an administrator adds to reach an old server from a current OpenSSH
# client. Each option appends a legacy algorithm to the defaults.
WORKAROUND_OPTS=(-o KexAlgorithms=+diffie-hellman-group14-sha1
    -o HostKeyAlgorithms=+ssh-rsa -o Ciphers=+aes128-cbc)

kb_require ssh scp sshd ssh-keygen
kb_make_account
bridge_start_all
[ "$KB_FAILED" -eq 0 ] || kb_finish

bench_describe_machine
printf 'backup: %d MiB, %d rounds\n' "$size_mib" "$rounds"
printf 'workaround second hop: scp -O %s\n\n' "${WORKAROUND_OPTS[*]}"

head -c "$bytes" /dev/urandom >"$KB_TMP/backup.tar"
cat "$KB_TMP/backup.tar" >/dev/null
dest="$KB_USER@127.0.0.1"

# Prints the seconds from $1 to $2 (nanoseconds).
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", (b - a) / 1e9 }'; }

run_bridged() {
	local t0 t1

	t0=$(bench_now_ns)
	bench_openssh scp -O -q "${KB_FI_OPTS[@]}" -P "$BRIDGE_PORT" \
	    "$KB_TMP/backup.tar" "$dest:final.tar" </dev/null || return 1
	t1=$(bench_now_ns)
	[ "$(stat -c %s "$KB_HOME/final.tar")" -eq "$bytes" ] || return 1
	rm -f "$KB_HOME/final.tar"
	seconds "$t0" "$t1"
}

# The staging host and the old server share this machine and the account,
# so the staged copy is $KB_HOME/staged.tar.
run_workaround() {
	local t0 t1

	t0=$(bench_now_ns)
	bench_openssh scp -O -q "${BRIDGE_FI_OPTS[@]}" -P "$MODERN_PORT" \
	    "$KB_TMP/backup.tar" "$dest:staged.tar" </dev/null || return 1
	bench_openssh scp -O -q "${WORKAROUND_OPTS[@]}" -P "$LEGACY_PORT" \
	    "$KB_HOME/staged.tar" "$dest:final.tar" </dev/null || return 1
	t1=$(bench_now_ns)
	[ "$(stat -c %s "$KB_HOME/final.tar")" -eq "$bytes" ] || return 1
	rm -f "$KB_HOME/final.tar" "$KB_HOME/staged.tar"
	seconds "$t0" "$t1"
}

bridged=
workaround=
for r in $(seq 1 "$rounds"); do
	if s=$(run_bridged); then
		bridged+="$s "
		printf 'round %d  bridged     %6s s\n' "$r" "$s"
	else
		kb_fail "round $r: bridged copy failed"
	fi
	if s=$(run_workaround); then
		workaround+="$s "
		printf 'round %d  workaround  %6s s\n' "$r" "$s"
	else
		kb_fail "round $r: workaround copies failed"
	fi
done

med_b=$(bridge_median_of "$bridged")
med_w=$(bridge_median_of "$workaround")
printf '\nmedian seconds over %d rounds: bridged %s, workaround %s\n' \
    "$rounds" "$med_b" "$med_w"
printf 'bridged / workaround: %s\n' "$(bench_ratio "$med_b" "$med_w")"
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
kb_finish
