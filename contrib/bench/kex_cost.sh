#!/usr/bin/env bash
# Builds contrib/bench/kex_cost.c against a configured and built tree and
# runs it: the time of Diffie-Hellman key generation and agreement per
# group, in process, without sshd or a network. Needs no root.
#
# Usage: kex_cost.sh BUILD_DIR [ITERATIONS (5)] [MODULI_FILE (/etc/ssh/moduli)]
# BUILD_DIR is where configure ran and `make` built libkbcore.la.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:?usage: kex_cost.sh BUILD_DIR [ITERATIONS] [MODULI_FILE]}
iterations=${2:-5}
moduli=${3:-/etc/ssh/moduli}
lib="$build/.libs/libkbcore.a"

if [ ! -f "$lib" ] || [ ! -f "$build/config.h" ]; then
	printf 'kex_cost.sh: %s not found; run configure and make in %s first\n' \
	    "$lib" "$build" >&2
	exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# shellcheck disable=SC2046  # pkg-config prints several words
${CC:-cc} -O2 -std=c11 -D_GNU_SOURCE -I"$build" -I"$top/include" \
    -I"$top/src/ssh" -o "$out/kex_cost" "$here/kex_cost.c" "$lib" \
    $(pkg-config --cflags --libs libcrypto)
printf 'load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
if [ -r "$moduli" ]; then
	"$out/kex_cost" "$iterations" "$moduli"
else
	"$out/kex_cost" "$iterations"
fi
printf 'load average at end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
