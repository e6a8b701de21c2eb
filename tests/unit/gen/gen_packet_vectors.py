#!/usr/bin/env python3
"""Compute known-answer packets for tests/unit/test_cipher.c.

The SSH packet layouts are built here from the specifications, independently
of the C code: chacha20-poly1305@openssh.com from PROTOCOL.chacha20poly1305
with ChaCha20 (64-bit nonce variant) and Poly1305 in pure Python, AES-CTR and
AES-GCM from the `cryptography` module, HMAC from the standard library.

Every vector sends two packets at sequence numbers 3 and 4, as after an
unencrypted KEXINIT, key exchange reply and NEWKEYS, with padding bytes set
to PADDING_FILL. Run: python3 tests/unit/gen/gen_packet_vectors.py
"""
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PADDING_FILL = 0xA5
FIRST_SEQNR = 3
PAYLOADS = [
    b"\x05\x00\x00\x00\x0cssh-userauth",          # SSH_MSG_SERVICE_REQUEST
    b"\x02\x00\x00\x00\x28" + bytes(range(40)),   # SSH_MSG_IGNORE
]


def rotl32(v, n):
    return ((v << n) & 0xFFFFFFFF) | (v >> (32 - n))


def chacha20_block(key, word12_15):
    """One 64-byte block; word12_15 are state words 12..15 as integers."""
    state = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574]
    state += list(struct.unpack("<8I", key)) + list(word12_15)
    x = list(state)

    def quarter(a, b, c, d):
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF; x[d] = rotl32(x[d] ^ x[a], 16)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF; x[b] = rotl32(x[b] ^ x[c], 12)
        x[a] = (x[a] + x[b]) & 0xFFFFFFFF; x[d] = rotl32(x[d] ^ x[a], 8)
        x[c] = (x[c] + x[d]) & 0xFFFFFFFF; x[b] = rotl32(x[b] ^ x[c], 7)

    for _ in range(10):
        quarter(0, 4, 8, 12); quarter(1, 5, 9, 13)
        quarter(2, 6, 10, 14); quarter(3, 7, 11, 15)
        quarter(0, 5, 10, 15); quarter(1, 6, 11, 12)
        quarter(2, 7, 8, 13); quarter(3, 4, 9, 14)
    return struct.pack("<16I", *[(a + b) & 0xFFFFFFFF for a, b in zip(x, state)])


def chacha20_djb(key, nonce8, counter, data):
    """Original ChaCha20: 64-bit little-endian counter, 8-byte nonce."""
    out = bytearray()
    n14, n15 = struct.unpack("<2I", nonce8)
    for i in range(0, len(data), 64):
        c = counter + i // 64
        block = chacha20_block(key, (c & 0xFFFFFFFF, c >> 32, n14, n15))
        out += bytes(a ^ b for a, b in zip(data[i:i + 64], block))
    return bytes(out)


def poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(msg), 16):
        n = int.from_bytes(msg[i:i + 16] + b"\x01", "little")
        acc = (acc + n) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def self_test():
    # RFC 8439 section 2.3.2 (words 12..15: counter 1, nonce 00000009 0000004a 0).
    block = chacha20_block(bytes(range(32)), (1, 0x09000000, 0x4A000000, 0))
    assert block.hex().startswith("10f1e7e4d13b5915500fdd1fa32071c4")
    # RFC 8439 section 2.5.2.
    key = bytes.fromhex("85d6be7857556d337f4452fe42d506a8"
                        "0103808afb0db2fd4abff6af4149f51b")
    tag = poly1305(key, b"Cryptographic Forum Research Group")
    assert tag.hex() == "a8061dc1305136c6c22b8baf0c0127a9"


def frame(payload, block, length_outside):
    framed = (0 if length_outside else 4) + 1 + len(payload)
    pad = block - framed % block
    if pad < 4:
        pad += block
    packet_len = 1 + len(payload) + pad
    return struct.pack(">IB", packet_len, pad) + payload + bytes([PADDING_FILL]) * pad


def pattern(n, start):
    return bytes((start + 7 * i) & 0xFF for i in range(n))


def gen_chachapoly(key):
    out = []
    k2, k1 = key[:32], key[32:]
    for i, payload in enumerate(PAYLOADS):
        nonce = struct.pack(">Q", FIRST_SEQNR + i)
        plain = frame(payload, 8, True)
        enc_len = chacha20_djb(k1, nonce, 0, plain[:4])
        enc_body = chacha20_djb(k2, nonce, 1, plain[4:])
        poly_key = chacha20_djb(k2, nonce, 0, bytes(32))
        out.append(enc_len + enc_body + poly1305(poly_key, enc_len + enc_body))
    return out


def gen_gcm(key, iv):
    out = []
    fixed, counter = iv[:4], int.from_bytes(iv[4:], "big")
    for i, payload in enumerate(PAYLOADS):
        plain = frame(payload, 16, True)
        nonce = fixed + ((counter + i) % (1 << 64)).to_bytes(8, "big")
        out.append(plain[:4] + AESGCM(key).encrypt(nonce, plain[4:], plain[:4]))
    return out


def gen_ctr(key, iv, mac_key, digest, etm):
    out = []
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    for i, payload in enumerate(PAYLOADS):
        seq = struct.pack(">I", FIRST_SEQNR + i)
        plain = frame(payload, 16, etm)
        if etm:
            wire = plain[:4] + enc.update(plain[4:])
            mac = hmac.new(mac_key, seq + wire, digest).digest()
        else:
            mac = hmac.new(mac_key, seq + plain, digest).digest()
            wire = enc.update(plain)
        out.append(wire + mac)
    return out


def main():
    self_test()
    vectors = [
        ("chacha20-poly1305@openssh.com", None, 64, 0, 0,
         lambda k, iv, mk: gen_chachapoly(k)),
        ("aes128-gcm@openssh.com", None, 16, 12, 0,
         lambda k, iv, mk: gen_gcm(k, iv)),
        ("aes256-gcm@openssh.com", None, 32, 12, 0,
         lambda k, iv, mk: gen_gcm(k, iv)),
        ("aes128-ctr", "hmac-sha2-256", 16, 16, 32,
         lambda k, iv, mk: gen_ctr(k, iv, mk, hashlib.sha256, False)),
        ("aes192-ctr", "hmac-sha2-512-etm@openssh.com", 24, 16, 64,
         lambda k, iv, mk: gen_ctr(k, iv, mk, hashlib.sha512, True)),
        ("aes256-ctr", "hmac-sha2-256-etm@openssh.com", 32, 16, 32,
         lambda k, iv, mk: gen_ctr(k, iv, mk, hashlib.sha256, True)),
        ("aes256-ctr", "hmac-sha2-512", 32, 16, 64,
         lambda k, iv, mk: gen_ctr(k, iv, mk, hashlib.sha512, False)),
    ]
    for cipher, mac, key_len, iv_len, mac_key_len, gen in vectors:
        key, iv, mac_key = pattern(key_len, 1), pattern(iv_len, 0x80), pattern(mac_key_len, 0x40)
        if cipher == "aes256-gcm@openssh.com":
            # An invocation counter whose increment carries into the next byte.
            iv = iv[:4] + bytes.fromhex("00000000000000ff")
        packets = gen(key, iv, mac_key)
        print("\t{ \"%s\", %s," % (cipher, '"%s"' % mac if mac else "NULL"))
        print("\t    \"%s\"," % iv.hex())
        for p in packets:
            print("\t    \"%s\"," % p.hex())
        print("\t},")


if __name__ == "__main__":
    main()
