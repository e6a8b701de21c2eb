#!/usr/bin/env bash
# kexbridge pcap reads captures of real SSH sessions. The test records its
# own capture with tcpdump on the loopback interface while OpenSSH and
# Dropbear peers negotiate on random (non-22) ports, both agreeing and
# failing, and checks the reports. It then reads mock rewrites of that
# capture: segments re-split, shuffled and duplicated, the handshake or the
# start of a session removed, the file cut in the middle of a KEXINIT. Files
# that are not captures come last.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

kb_require sshd ssh-keygen ssh tcpdump dropbear dropbearkey dbclient

kb_start_sshd legacy sshd-legacy
legacy_port=$SSHD_PORT
kb_start_sshd default sshd-default
default_port=$SSHD_PORT
kb_start_dropbear
dropbear_port=$DROPBEAR_PORT

# Runs kexbridge pcap with the arguments given; sets out, err and status.
pcap() {
	status=0
	out=$(timeout 30 "$KEXBRIDGE" pcap "$@" 2>"$KB_TMP/pcap.err") || status=$?
	err=$(cat "$KB_TMP/pcap.err")
}

# One negotiation attempt; authentication fails (no account), which is after
# both KEXINITs and so does not matter here.
try_ssh() {
	local port=$1

	shift
	timeout 20 ssh -F /dev/null -o BatchMode=yes -o ConnectTimeout=10 \
	    -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no \
	    -o GlobalKnownHostsFile=/dev/null -p "$port" "$@" \
	    nobody@127.0.0.1 true </dev/null >/dev/null 2>&1 || true
}

# Record the capture: the agreeing sessions first, so a file cut in the
# legacy session still contains complete ones before it.
cap="$KB_TMP/lo.pcap"
tcpdump -i lo -s 0 -U --immediate-mode -w "$cap" \
    "tcp port $legacy_port or tcp port $default_port or tcp port $dropbear_port" \
    2>"$KB_TMP/tcpdump.log" &
tcpdump_pid=$!
KB_PIDS+=("$tcpdump_pid")
kb_wait_log "$KB_TMP/tcpdump.log" 'listening on' 10 ||
    kb_fail "tcpdump did not start"
try_ssh "$default_port" "${KB_FI_OPTS[@]}"
HOME="$KB_TMP" timeout 20 dbclient -y -y -p "$default_port" nobody@127.0.0.1 true \
    </dev/null >/dev/null 2>&1 || true
try_ssh "$dropbear_port"
try_ssh "$legacy_port" "${KB_FI_OPTS[@]}"
sleep 1	# let the last FIN reach the capture
kill -INT "$tcpdump_pid"
kb_wait_exit "$tcpdump_pid" 10 || kb_fail "tcpdump did not stop on SIGINT"
kb_say "capture: $(stat -c %s "$cap") bytes; $(tail -n 3 "$KB_TMP/tcpdump.log" | tr '\n' ' ')"

# Text report: four sessions, one fails; exit status 1.
pcap "$cap"
printf '%s\n' "$out" | head -n 60
kb_assert_eq "$status" 1 "a capture with a failing session exits 1"
kb_assert_match "$out" "SSH sessions: 4 \\(negotiated: 3, failed: 1, incomplete: 0\\)" \
    "the summary counts 4 sessions, 1 failed"
kb_assert_match "$out" "server 127\\.0\\.0\\.1:$legacy_port" "the legacy server is named with its port"
kb_assert_match "$out" "FAILS on kex, .*cipher" "the text names the failing categories"
kb_assert_match "$out" "KexAlgorithms" "the text gives sshd_config advice"
kb_assert_match "$out" "SSH-2\\.0-dropbear" "the Dropbear version line is shown"

# JSON: one object per session, then the summary.
pcap --json "$cap"
printf '%s\n' "$out" >"$KB_TMP/all.json"
kb_assert_eq "$status" 1 "pcap --json exits 1 too"
kb_assert_eq "$(kb_json count "$KB_TMP/all.json" negotiation)" 4 "4 negotiation events"
kb_assert_eq "$(kb_json count "$KB_TMP/all.json" summary)" 1 "one summary event"
bad=$(kb_json select "$KB_TMP/all.json" negotiation "server=127.0.0.1:$legacy_port")
kb_assert_match "$(kb_json get "$bad" client_version)" '^SSH-2\.0-OpenSSH' "client_version is OpenSSH's"
kb_assert_match "$(kb_json get "$bad" client_offer.kex)" '^\["diffie-hellman-group-exchange-sha256"' \
    "client_offer is the FI-restricted ssh's own list"
kb_assert_eq "$(kb_json get "$bad" roles)" handshake "roles come from the TCP handshake"
kb_assert_match "$(kb_json get "$bad" first_seen)" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' \
    "first_seen is ISO 8601"
kb_assert_match "$(kb_json get "$bad" server_kexinit_seen)" 'Z$' "server_kexinit_seen is set"
good=$(kb_json select "$KB_TMP/all.json" negotiation "server=127.0.0.1:$dropbear_port")
kb_assert_eq "$(kb_json get "$good" failed)" '[]' "OpenSSH and Dropbear agree"

# The key check: the same failing categories and server-side advice as
# probe with the ucsm-4.0 profile. Host key and compression lists differ
# (the profile leaves them open), so only kex, cipher and mac are compared.
probe_out=$(timeout 30 "$KEXBRIDGE" probe --json --timeout 5 --profile ucsm-4.0 \
    "127.0.0.1:$legacy_port" 2>/dev/null | tr -d '\n') || true
pick='import json, sys
d = json.loads(sys.argv[1])
if "profiles" in d:
    d = d["profiles"][0]
cats = [c for c in d["failed"] if c.split("_")[0] in ("kex", "cipher", "mac")]
adv = sorted(a for a in d["advice"] if any(k in a for k in ("KexAlgorithms", "Ciphers", "MACs")))
print(json.dumps(cats), json.dumps(adv))'
from_probe=$("$KB_PY" -c "$pick" "$probe_out" 2>&1) || true
from_pcap=$("$KB_PY" -c "$pick" "$bad" 2>&1) || true
kb_say "probe: $from_probe"
kb_assert_match "$from_probe" '"kex".*"cipher_c2s".*"mac_c2s".*KexAlgorithms' \
    "probe names kex, cipher and mac with advice"
kb_assert_eq "$from_pcap" "$from_probe" "pcap and probe agree on categories and advice"

# --filter reads only the matching packets.
pcap --json --filter "tcp port $dropbear_port" "$cap"
printf '%s\n' "$out" >"$KB_TMP/filtered.json"
kb_assert_eq "$status" 0 "a filter on the agreeing session exits 0"
kb_assert_eq "$(kb_json count "$KB_TMP/filtered.json" negotiation)" 1 "the filter keeps one session"
pcap --filter "tcp port nonsense" "$cap"
kb_assert_eq "$status" 2 "an invalid filter exits 2"
kb_assert_match "$err" 'invalid filter' "an invalid filter is named"

# The same capture as pcapng, when editcap is installed.
if command -v editcap >/dev/null 2>&1; then
	editcap -F pcapng "$cap" "$KB_TMP/lo.pcapng"
	pcap --json "$KB_TMP/lo.pcapng"
	printf '%s\n' "$out" >"$KB_TMP/ng.json"
	kb_assert_eq "$status" 1 "the pcapng capture exits 1"
	kb_assert_eq "$(kb_json select "$KB_TMP/ng.json" negotiation | md5sum)" \
	    "$(kb_json select "$KB_TMP/all.json" negotiation | md5sum)" \
	    "pcapng gives the same sessions as pcap"
else
	kb_say "SKIP (sub-case): editcap not installed, pcapng not tested"
fi

# Mock rewrites of the recorded capture (see below for the helper).
cat >"$KB_TMP/rewrite.py" <<'EOF'
"""Rewrites a classic pcap of Ethernet/IPv4/TCP frames.

resplit:  re-splits every TCP payload into segments of 1 to 40 bytes,
          shuffles the data segments of each flow (handshake packets stay
          first) and sends about a third of them twice, some re-split
          differently so retransmissions overlap.
nosyn:    drops every SYN, so no handshake is in the capture.
midstream PORT: drops the first 8 packets of the first flow to PORT.
"""
import random
import struct
import sys

rng = random.Random(4253)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    head, off, recs = data[:24], 24, []
    while off + 16 <= len(data):
        ts1, ts2, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        recs.append([ts1, ts2, data[off + 16:off + 16 + incl]])
        off += 16 + incl
    return head, recs


def write(path, head, recs):
    with open(path, "wb") as f:
        f.write(head)
        for ts1, ts2, frame in recs:
            f.write(struct.pack("<IIII", ts1, ts2, len(frame), len(frame)))
            f.write(frame)


def parse(frame):
    ihl = (frame[14] & 15) * 4
    tcp = 14 + ihl
    doff = (frame[tcp + 12] >> 4) * 4
    total = struct.unpack("!H", frame[16:18])[0]
    return tcp, doff, frame[tcp + doff:14 + total]


def flow_key(frame):
    tcp = 14 + (frame[14] & 15) * 4
    a = (frame[26:30], frame[tcp:tcp + 2])
    b = (frame[30:34], frame[tcp + 2:tcp + 4])
    return tuple(sorted([a, b]))


def with_payload(frame, seq, payload):
    tcp, doff, _ = parse(frame)
    hdr = bytearray(frame[:tcp + doff])
    struct.pack_into("!H", hdr, 16, len(hdr) - 14 + len(payload))
    struct.pack_into("!I", hdr, tcp + 4, seq)
    return bytes(hdr) + payload


def pieces(frame):
    tcp, doff, payload = parse(frame)
    seq = struct.unpack("!I", frame[tcp + 4:tcp + 8])[0]
    out, i = [], 0
    while i < len(payload):
        n = rng.randint(1, 40)
        out.append(with_payload(frame, (seq + i) & 0xffffffff, payload[i:i + n]))
        i += n
    return out


def resplit(recs):
    flows, order = {}, []
    for rec in recs:
        key = flow_key(rec[2])
        if key not in flows:
            flows[key] = ([], [])
            order.append(key)
        _, _, payload = parse(rec[2])
        flows[key][1 if payload else 0].append(rec)
    out = []
    for key in order:
        ctrl, data = flows[key]
        segs = []
        for ts1, ts2, frame in data:
            segs += [[ts1, ts2, p] for p in pieces(frame)]
            if rng.random() < 0.35:
                segs += [[ts1, ts2, p] for p in pieces(frame)]
        rng.shuffle(segs)
        out += ctrl[:3] + segs + ctrl[3:]
    return out


def main():
    cmd, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    head, recs = read(src)
    if cmd == "resplit":
        recs = resplit(recs)
    elif cmd == "nosyn":
        recs = [r for r in recs if not r[2][parse(r[2])[0] + 13] & 0x02]
    elif cmd == "midstream":
        port = struct.pack("!H", int(sys.argv[4]))
        first = next(flow_key(r[2]) for r in recs if port in
                     (r[2][34:36], r[2][36:38]))
        idx = [i for i, r in enumerate(recs) if flow_key(r[2]) == first][:8]
        recs = [r for i, r in enumerate(recs) if i not in idx]
    write(dst, head, recs)


main()
EOF

# Compares the negotiation results (offers, result, failed) of two runs.
same_results() {
	"$KB_PY" - "$1" "$2" <<'EOF'
import json
import sys


def load(path):
    out = {}
    for line in open(path):
        obj = json.loads(line)
        if obj.get("event") == "negotiation":
            out[obj["client"]] = [obj[k] for k in
                                  ("server", "client_offer", "server_offer",
                                   "result", "failed", "advice")]
    return out


a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if a == b and len(a) > 0 else 1)
EOF
}

"$KB_PY" "$KB_TMP/rewrite.py" resplit "$cap" "$KB_TMP/shuffled.pcap"
pcap --json "$KB_TMP/shuffled.pcap"
printf '%s\n' "$out" >"$KB_TMP/shuffled.json"
kb_assert_eq "$status" 1 "the reordered capture exits 1"
if same_results "$KB_TMP/all.json" "$KB_TMP/shuffled.json"; then
	kb_pass "re-split, shuffled and duplicated segments give the same results"
else
	kb_fail "the reordered capture differs: $(head -c 600 "$KB_TMP/shuffled.json")"
fi

"$KB_PY" "$KB_TMP/rewrite.py" nosyn "$cap" "$KB_TMP/nosyn.pcap"
pcap --json "$KB_TMP/nosyn.pcap"
printf '%s\n' "$out" >"$KB_TMP/nosyn.json"
if same_results "$KB_TMP/all.json" "$KB_TMP/nosyn.json"; then
	kb_pass "without the handshake the roles are still right"
else
	kb_fail "the capture without SYNs differs: $(head -c 600 "$KB_TMP/nosyn.json")"
fi
bad=$(kb_json select "$KB_TMP/nosyn.json" negotiation "server=127.0.0.1:$legacy_port")
kb_assert_eq "$(kb_json get "$bad" roles)" kexinit "roles come from the kex lists without SYNs"

"$KB_PY" "$KB_TMP/rewrite.py" midstream "$cap" "$KB_TMP/mid.pcap" "$default_port"
pcap --json "$KB_TMP/mid.pcap"
printf '%s\n' "$out" >"$KB_TMP/mid.json"
kb_assert_eq "$status" 1 "the mid-stream capture still reports the failure (exit 1)"
kb_assert_eq "$(kb_json count "$KB_TMP/mid.json" incomplete reason=mid_stream)" 1 \
    "the session without its start is incomplete: mid_stream"
kb_assert_eq "$(kb_json count "$KB_TMP/mid.json" negotiation)" 3 "the other 3 sessions are reported"
pcap "$KB_TMP/mid.pcap"
kb_assert_match "$out" 'middle of the connection' "the text explains the mid-stream capture"

# Cut the file in the middle of the legacy server's KEXINIT.
offset=$(grep -boa 'diffie-hellman-group1-sha1,diffie-hellman-group14-sha1' "$cap" |
    head -n 1 | cut -d: -f1)
head -c $((offset + 20)) "$cap" >"$KB_TMP/cut.pcap"
pcap --json "$KB_TMP/cut.pcap"
printf '%s\n' "$out" >"$KB_TMP/cut.json"
kb_assert_eq "$status" 0 "a capture cut in the last session exits 0 (the rest agree)"
kb_assert_match "$err" 'cannot be read to the end' "the cut is reported on stderr"
kb_assert_eq "$(kb_json count "$KB_TMP/cut.json" negotiation)" 3 "3 complete sessions before the cut"
cut=$(kb_json select "$KB_TMP/cut.json" incomplete "server=127.0.0.1:$legacy_port")
kb_assert_eq "$(kb_json get "$cut" reason)" capture_ends "the cut session ends before a KEXINIT"
# Which KEXINIT the message names depends on which side sent first: when
# the client's KEXINIT follows the server's on the wire, both are missing.
kb_assert_match "$(kb_json get "$cut" message)" "(server|client)'s KEXINIT" \
    "the message names the missing KEXINIT"
kb_assert_eq "$(kb_json get "$(kb_json select "$KB_TMP/cut.json" summary)" file_truncated)" true \
    "the summary says the file was cut"

# Files that are not captures, and a missing file.
printf 'SSH-2.0-OpenSSH_9.2\r\nthis is not a capture\n' >"$KB_TMP/text.pcap"
pcap "$KB_TMP/text.pcap"
kb_assert_eq "$status" 2 "a text file exits 2"
kb_assert_match "$err" 'not a pcap or pcapng capture' "a text file is named as not a capture"
pcap --json "$KB_TMP/text.pcap"
kb_assert_eq "$(kb_json get "$out" error)" not_a_capture "JSON names the error"
pcap "$KB_TMP/missing.pcap"
kb_assert_eq "$status" 2 "a missing file exits 2"

kb_finish
