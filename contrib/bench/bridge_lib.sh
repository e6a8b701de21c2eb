# Helpers shared by the bridge benchmarks (bridge_*.sh). Source it after
# lib.sh:
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/bridge_lib.sh"

# shellcheck shell=bash disable=SC2034

# The single algorithms an FI-side client ends up with against kexbridge
# (the first of each FI list), used for the direct transfers to a modern
# sshd so both measure the same cipher and MAC.
BRIDGE_FI_OPTS=(-o "KexAlgorithms=$KB_FI_KEX" -o Ciphers=aes128-ctr
    -o MACs=hmac-sha2-256)

# Starts a legacy-only sshd (LEGACY_PORT), a default sshd (MODERN_PORT)
# and a bridge route to the legacy sshd (BRIDGE_PORT, BRIDGE_PID,
# BRIDGE_LOG). kb_make_account must have run, because sshd allows only
# that account. Sets LEGACY_PID and MODERN_PID to the sshd listeners.
bridge_start_all() {
	kb_start_sshd legacy || return 1
	LEGACY_PORT=$SSHD_PORT
	LEGACY_PID=${KB_PIDS[-1]}
	kb_start_sshd default || return 1
	MODERN_PORT=$SSHD_PORT
	MODERN_PID=${KB_PIDS[-1]}
	kb_start_bridge bridge "$LEGACY_PORT" || return 1
	BRIDGE_PORT=$KB_PORT
	BRIDGE_PID=$KB_PID
	BRIDGE_LOG=$KB_LOG
	bridge_start_b
}

# Starts a second bridge route to the legacy sshd with the binary
# BENCH_KEXBRIDGE_B, when that is set, so that a change can be compared
# with the binary KEXBRIDGE in the same interleaved rounds. Sets
# BRIDGE_B_PORT and BRIDGE_B_PID, or leaves them empty.
bridge_start_b() {
	BRIDGE_B_PORT=
	BRIDGE_B_PID=
	[ -n "${BENCH_KEXBRIDGE_B:-}" ] || return 0
	[ -x "$BENCH_KEXBRIDGE_B" ] ||
	    { kb_fail "BENCH_KEXBRIDGE_B: $BENCH_KEXBRIDGE_B is not an executable"; return 1; }
	KEXBRIDGE=$BENCH_KEXBRIDGE_B kb_start_bridge bridge_b "$LEGACY_PORT" || return 1
	BRIDGE_B_PORT=$KB_PORT
	BRIDGE_B_PID=$KB_PID
}

# Copies a 0-byte file through the bridge and sets BRIDGE_LEGACY_OPTS to
# the key exchange, host key, cipher and MAC that kexbridge's upstream
# side agreed with the legacy sshd, from that session's session_record.
# A direct legacy client with these options runs the same algorithms as
# the bridge's upstream hop.
bridge_read_upstream_algorithms() {
	local record alg kex hostkey cipher mac

	: >"$KB_TMP/empty"
	bench_openssh scp -O -q "${KB_FI_OPTS[@]}" -P "$BRIDGE_PORT" \
	    "$KB_TMP/empty" "$KB_USER@127.0.0.1:/dev/null" </dev/null ||
	    { kb_fail "bridged probe copy failed"; return 1; }
	record=$(kb_record_n "$BRIDGE_LOG" 1) ||
	    { kb_fail "no session_record for the probe copy"; return 1; }
	alg=upstream_algorithms
	kex=$(kb_json get "$record" "$alg.kex")
	hostkey=$(kb_json get "$record" "$alg.hostkey")
	cipher=$(kb_json get "$record" "$alg.cipher_c2s")
	mac=$(kb_json get "$record" "$alg.mac_c2s")
	BRIDGE_LEGACY_OPTS=(-o "KexAlgorithms=$kex" -o "HostKeyAlgorithms=$hostkey"
	    -o "Ciphers=$cipher" -o "MACs=$mac")
	BRIDGE_CLIENT_ALGORITHMS="$(kb_json get "$record" client_algorithms.kex)"
	BRIDGE_CLIENT_ALGORITHMS+=" $(kb_json get "$record" client_algorithms.cipher_c2s)"
	BRIDGE_CLIENT_ALGORITHMS+=" $(kb_json get "$record" client_algorithms.mac_c2s)"
	BRIDGE_UPSTREAM_ALGORITHMS="$kex $hostkey $cipher $mac"
}

# Prints the options for a client on path $1: bridge (FI client through
# kexbridge), bridge_b (the same through BENCH_KEXBRIDGE_B), legacy
# (direct, upstream algorithms) or modern (direct, FI algorithms), one per
# line, ending with the port option $2 (-p or -P).
bridge_path_args() {
	case $1 in
	bridge) printf '%s\n' "${KB_FI_OPTS[@]}" "$2" "$BRIDGE_PORT" ;;
	bridge_b) printf '%s\n' "${KB_FI_OPTS[@]}" "$2" "$BRIDGE_B_PORT" ;;
	legacy) printf '%s\n' "${BRIDGE_LEGACY_OPTS[@]}" "$2" "$LEGACY_PORT" ;;
	modern) printf '%s\n' "${BRIDGE_FI_OPTS[@]}" "$2" "$MODERN_PORT" ;;
	esac
}

# Prints MiB/s for $1 bytes in $2 nanoseconds.
bridge_mibs() {
	awk -v b="$1" -v ns="$2" 'BEGIN { printf "%.1f\n", b / 1048576 / (ns / 1e9) }'
}

# Prints the median of the space-separated numbers in $1.
bridge_median_of() { tr ' ' '\n' <<<"$1" | grep . | bench_median; }

# Prints the smaller of two numbers.
bridge_min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? a : b }'; }
