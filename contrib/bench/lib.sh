# Shared helpers for the benchmarks in contrib/bench. Source it from a
# benchmark script:
#   . "$(dirname "$0")/lib.sh"
#
# It sources tests/integration/lib.sh for the throwaway account, the sshd
# and kexbridge starters and the cleanup on exit, so a benchmark starts
# programs on 127.0.0.1 only and removes everything it started when it
# exits. KEXBRIDGE names the program under test (default: build/kexbridge
# in the source tree).

# shellcheck shell=bash disable=SC2034

BENCH_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KEXBRIDGE=${KEXBRIDGE:-$BENCH_TOP/build/kexbridge}
top_srcdir=$BENCH_TOP
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib.sh
. "$BENCH_TOP/tests/integration/lib.sh"

# BENCH_CIPHER picks the SSH cipher (default: what OpenSSH prefers).
BENCH_SSH_OPTS=()
if [ -n "${BENCH_CIPHER:-}" ]; then
	BENCH_SSH_OPTS+=(-o "Ciphers=$BENCH_CIPHER")
fi

# The command prefix and options bench_openssh uses, for a caller that
# starts a client in the background and needs its process id: after
#   "${BENCH_SSH_ENV[@]}" ssh "${BENCH_SSH_ARGS[@]}" ... &
# $! is the timeout process, which passes SIGTERM on to the client.
BENCH_SSH_ENV=(env SSH_ASKPASS_REQUIRE=force DISPLAY=none
    timeout "${BENCH_TIMEOUT:-900}")
# shellcheck disable=SC2054  # the commas belong to an ssh option value
BENCH_SSH_ARGS=(-F /dev/null
    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no
    -o GlobalKnownHostsFile=/dev/null -o LogLevel=ERROR
    -o PreferredAuthentications=password,keyboard-interactive
    -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1
    -o ConnectTimeout=10 -o BatchMode=no "${BENCH_SSH_OPTS[@]}")

# Runs an OpenSSH client program ($1: ssh or scp) like kb_openssh, but
# keeps the caller's stdin and allows BENCH_TIMEOUT seconds (default 900),
# because a benchmark pipes large files through it. kb_make_account must
# have run, because SSH_ASKPASS comes from it.
bench_openssh() {
	local prog=$1

	shift
	SSH_ASKPASS="$KB_ASKPASS" "${BENCH_SSH_ENV[@]}" "$prog" \
	    "${BENCH_SSH_ARGS[@]}" "$@"
}

# Starts socat as a plain TCP relay from a free port to 127.0.0.1:$1 and
# sets SOCAT_PORT and SOCAT_PID. socat forks one child process per
# connection.
bench_start_socat() {
	SOCAT_PORT=$(kb_free_port)
	socat "TCP-LISTEN:$SOCAT_PORT,bind=127.0.0.1,reuseaddr,fork" \
	    "TCP:127.0.0.1:$1" 2>"$KB_TMP/socat.log" &
	SOCAT_PID=$!
	KB_PIDS+=("$SOCAT_PID")
	kb_wait_port "$SOCAT_PORT" 10 || { kb_fail "socat did not start"; return 1; }
}

bench_now_ns() { date +%s%N; }

# Prints the median of the numbers on stdin, one per line.
bench_median() {
	sort -g | awk '{ v[NR] = $1 }
	    END {
		if (NR == 0) { print "nan"; exit }
		if (NR % 2) print v[(NR + 1) / 2]
		else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
	    }'
}

# Prints $1 / $2 with three decimals.
bench_ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a / b }'; }

# Prints the user plus system CPU time of process $1 in seconds.
bench_cpu_seconds() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' \
	    "/proc/$1/stat"
}

# Prints the user plus system CPU time of the children that process $1 has
# waited for, in seconds. socat's relaying happens in such children.
bench_children_cpu_seconds() {
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($16 + $17) / hz }' \
	    "/proc/$1/stat"
}

# Prints field $2 (VmRSS, VmHWM, ...) of /proc/$1/status in KiB.
bench_vm_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# Prints the number of established TCP connections to local port $1.
bench_established() { ss -Htn state established "sport = :$1" | wc -l; }

# Prints what the benchmark ran on, for the record.
bench_describe_machine() {
	printf 'date: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
	printf 'machine: %s cores (%s), %s GiB RAM, kernel %s\n' "$(nproc)" \
	    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)" \
	    "$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" \
	    "$(uname -r)"
	printf 'load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
	printf 'OpenSSH: %s\n' "$(ssh -V 2>&1)"
	printf 'kexbridge: %s\n' "$KEXBRIDGE"
}
