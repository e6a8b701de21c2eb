#!/usr/bin/python3
"""Print the RFC 4253 section 7.2 keys that test_kex.c checks.

K is the mpint encoding of 0x80 0x01 ... (32 bytes, so it gets a leading
zero byte), H is 32 bytes of 0x11, session_id 32 bytes of 0x22, and the
hash is SHA-256. Lengths: IV 16, key 32, MAC key 64 (longer than one hash,
so the K2 extension step is exercised).
"""
import hashlib


def mpint(mag):
    mag = mag.lstrip(b"\0")
    if mag and mag[0] & 0x80:
        mag = b"\0" + mag
    return len(mag).to_bytes(4, "big") + mag


def derive(k, h, letter, session_id, need):
    out = hashlib.sha256(k + h + letter + session_id).digest()
    while len(out) < need:
        out += hashlib.sha256(k + h + out).digest()
    return out[:need]


k = mpint(bytes([0x80] + list(range(1, 32))))
h = bytes([0x11]) * 32
sid = bytes([0x22]) * 32
for letter, need in ((b"A", 16), (b"C", 32), (b"E", 64), (b"B", 16), (b"D", 32), (b"F", 64)):
    print(letter.decode(), derive(k, h, letter, sid, need).hex())
