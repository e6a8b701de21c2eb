/*
 * Unit tests for the ciphers, MACs and the encrypted packet codec
 * (kexbridge/cipher.h): known answers for each primitive through the same
 * OpenSSL calls the codec makes, known packets, round trips, tampering,
 * byte-at-a-time input and sequence numbers.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "kexbridge/buf.h"
#include "kexbridge/cipher.h"
#include "kexbridge/err.h"
#include "kexbridge/packet.h"

#define WIRE_MAX	(KB_PACKET_MAX + 1024)

/* Every cipher with every MAC it can take; AEAD ciphers take none. */
static const struct {
	const char *cipher;
	const char *mac;
} combos[] = {
	{ "chacha20-poly1305@openssh.com", NULL },
	{ "aes128-gcm@openssh.com", NULL },
	{ "aes256-gcm@openssh.com", NULL },
	{ "aes128-ctr", "hmac-sha2-256-etm@openssh.com" },
	{ "aes128-ctr", "hmac-sha2-512-etm@openssh.com" },
	{ "aes128-ctr", "hmac-sha2-256" },
	{ "aes128-ctr", "hmac-sha2-512" },
	{ "aes192-ctr", "hmac-sha2-256-etm@openssh.com" },
	{ "aes192-ctr", "hmac-sha2-512-etm@openssh.com" },
	{ "aes192-ctr", "hmac-sha2-256" },
	{ "aes192-ctr", "hmac-sha2-512" },
	{ "aes256-ctr", "hmac-sha2-256-etm@openssh.com" },
	{ "aes256-ctr", "hmac-sha2-512-etm@openssh.com" },
	{ "aes256-ctr", "hmac-sha2-256" },
	{ "aes256-ctr", "hmac-sha2-512" },
};

#define NCOMBOS	(sizeof(combos) / sizeof(combos[0]))

static size_t
hex_decode(const char *hex, uint8_t *out, size_t max)
{
	size_t i, len = strlen(hex) / 2;

	assert_true(len <= max);
	for (i = 0; i < len; i++) {
		unsigned int v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return len;
}

/* Fills n bytes with start, start + 7, ...; gen_packet_vectors.py does the same. */
static void
fill_pattern(uint8_t *p, size_t n, uint8_t start)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(start + 7 * i);
}

static void
keys_make(struct kb_newkeys *keys, const char *cipher, const char *mac)
{
	memset(keys, 0, sizeof(*keys));
	keys->cipher = kb_cipher_lookup(cipher);
	assert_non_null(keys->cipher);
	keys->mac = mac == NULL ? NULL : kb_mac_lookup(mac);
	if (mac != NULL)
		assert_non_null(keys->mac);
	fill_pattern(keys->key, keys->cipher->key_len, 1);
	fill_pattern(keys->iv, keys->cipher->iv_len, 0x80);
	if (keys->mac != NULL)
		fill_pattern(keys->mac_key, keys->mac->key_len, 0x40);
}

static struct kb_packet_codec *
codec_keyed(enum kb_direction dir, const char *cipher, const char *mac)
{
	struct kb_packet_codec *codec = kb_packet_codec_new();
	struct kb_newkeys keys;

	assert_non_null(codec);
	keys_make(&keys, cipher, mac);
	assert_int_equal(kb_packet_codec_set_keys(codec, dir, &keys), KB_OK);
	return codec;
}

/* Sends one packet and returns its wire bytes in a new buffer. */
static struct kb_buf *
codec_send_one(struct kb_packet_codec *codec, const uint8_t *payload, size_t len)
{
	struct kb_buf *wire = kb_buf_new(WIRE_MAX);

	assert_non_null(wire);
	assert_int_equal(kb_packet_codec_send(codec, payload, len, wire), KB_OK);
	return wire;
}

/* --- Tables --- */

static void
cipher_names_in_order(void **state)
{
	(void)state;
	assert_string_equal(kb_cipher_names(),
	    "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
	    "aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr");
	assert_string_equal(kb_mac_names(),
	    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
	    "hmac-sha2-256,hmac-sha2-512");
}

/* Every listed name resolves to an entry of that name with an OpenSSL name. */
static void
cipher_lookup_every_listed_name(void **state)
{
	char list[512], *name, *save = NULL;

	(void)state;
	snprintf(list, sizeof(list), "%s", kb_cipher_names());
	for (name = strtok_r(list, ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save)) {
		const struct kb_cipher_info *c = kb_cipher_lookup(name);

		assert_non_null(c);
		assert_string_equal(c->name, name);
		assert_non_null(kb_cipher_evp_name(c));
		assert_true(c->key_len <= KB_CIPHER_KEY_MAX);
		assert_true(c->iv_len <= KB_CIPHER_IV_MAX);
	}
	snprintf(list, sizeof(list), "%s", kb_mac_names());
	for (name = strtok_r(list, ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save)) {
		const struct kb_mac_info *m = kb_mac_lookup(name);

		assert_non_null(m);
		assert_string_equal(m->name, name);
		assert_non_null(kb_mac_evp_digest(m));
		assert_true(m->key_len <= KB_MAC_KEY_MAX);
		assert_true(m->mac_len <= KB_MAC_LEN_MAX);
	}
}

static void
cipher_lookup_rejects_none_and_unknown(void **state)
{
	(void)state;
	assert_null(kb_cipher_lookup("none"));
	assert_null(kb_mac_lookup("none"));
	assert_null(kb_cipher_lookup("aes128-cbc"));
	assert_null(kb_mac_lookup("hmac-sha1"));
	assert_null(kb_cipher_lookup(NULL));
	assert_null(kb_mac_lookup(NULL));
	assert_null(strstr(kb_cipher_names(), "none"));
	assert_null(strstr(kb_mac_names(), "none"));
}

static void
cipher_info_fields(void **state)
{
	const struct kb_cipher_info *c;
	const struct kb_mac_info *m;

	(void)state;
	c = kb_cipher_lookup("chacha20-poly1305@openssh.com");
	assert_int_equal(c->block_size, 8);
	assert_int_equal(c->key_len, 64);
	assert_int_equal(c->iv_len, 0);
	assert_int_equal(c->tag_len, 16);
	assert_true(c->aead);
	assert_true(c->length_separate);
	c = kb_cipher_lookup("aes256-gcm@openssh.com");
	assert_int_equal(c->block_size, 16);
	assert_int_equal(c->key_len, 32);
	assert_int_equal(c->iv_len, 12);
	assert_true(c->aead);
	assert_false(c->length_separate);
	c = kb_cipher_lookup("aes192-ctr");
	assert_int_equal(c->key_len, 24);
	assert_int_equal(c->iv_len, 16);
	assert_int_equal(c->tag_len, 0);
	assert_false(c->aead);
	m = kb_mac_lookup("hmac-sha2-512-etm@openssh.com");
	assert_int_equal(m->key_len, 64);
	assert_int_equal(m->mac_len, 64);
	assert_true(m->etm);
	m = kb_mac_lookup("hmac-sha2-256");
	assert_int_equal(m->mac_len, 32);
	assert_false(m->etm);
}

static void
err_str_new_codes(void **state)
{
	static const int codes[] = {
		KB_ERR_MAC_INVALID, KB_ERR_CRYPTO, KB_ERR_KEX_FAILED,
		KB_ERR_SIGNATURE_INVALID, KB_ERR_KEY_INVALID,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		assert_string_not_equal(kb_err_str(codes[i]), kb_err_str(-9999));
}

/* --- Known answers for the primitives --- */

/* Encrypts in one call with the cipher the codec would fetch for name. */
static void
evp_encrypt(const char *evp_name, const uint8_t *key, const uint8_t *iv,
    const uint8_t *in, size_t len, uint8_t *out)
{
	EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, evp_name, NULL);
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int outl;

	assert_non_null(cipher);
	assert_non_null(ctx);
	assert_int_equal(EVP_CipherInit_ex2(ctx, cipher, key, iv, 1, NULL), 1);
	assert_int_equal(EVP_CipherUpdate(ctx, out, &outl, in, (int)len), 1);
	assert_int_equal(outl, (int)len);
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
}

/* NIST SP 800-38A appendix F.5.1, F.5.3 and F.5.5 (CTR-AES*.Encrypt). */
static void
kat_aes_ctr_sp800_38a(void **state)
{
	static const struct {
		const char *name, *key, *ciphertext;
	} vectors[] = {
		{ "aes128-ctr", "2b7e151628aed2a6abf7158809cf4f3c",
		    "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
		    "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee" },
		{ "aes192-ctr", "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
		    "1abc932417521ca24f2b0459fe7e6e0b090339ec0aa6faefd5ccc2c6f4ce8e94"
		    "1e36b26bd1ebc670d1bd1d665620abf74f78a7f6d29809585a97daec58c6b050" },
		{ "aes256-ctr",
		    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
		    "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c5"
		    "2b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6" },
	};
	uint8_t key[32], iv[16], pt[64], ct[64], out[64];
	size_t i, len;

	(void)state;
	hex_decode("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", iv, sizeof(iv));
	len = hex_decode("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
	    pt, sizeof(pt));
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct kb_cipher_info *c = kb_cipher_lookup(vectors[i].name);

		assert_int_equal(hex_decode(vectors[i].key, key, sizeof(key)), c->key_len);
		assert_int_equal(hex_decode(vectors[i].ciphertext, ct, sizeof(ct)), len);
		evp_encrypt(kb_cipher_evp_name(c), key, iv, pt, len, out);
		assert_memory_equal(out, ct, len);
	}
}

/* McGrew and Viega, "The Galois/Counter Mode of Operation", test case 4. */
static void
kat_aes_gcm_test_case_4(void **state)
{
	const struct kb_cipher_info *c = kb_cipher_lookup("aes128-gcm@openssh.com");
	uint8_t key[16], iv[12], aad[20], pt[60], ct[60], tag[16], out[60], got[16];
	EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx;
	int outl;

	(void)state;
	hex_decode("feffe9928665731c6d6a8f9467308308", key, sizeof(key));
	hex_decode("cafebabefacedbaddecaf888", iv, sizeof(iv));
	hex_decode("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, sizeof(aad));
	hex_decode("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39", pt, sizeof(pt));
	hex_decode("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	    "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091", ct, sizeof(ct));
	hex_decode("5bc94fbc3221a5db94fae95ae7121a47", tag, sizeof(tag));

	cipher = EVP_CIPHER_fetch(NULL, kb_cipher_evp_name(c), NULL);
	ctx = EVP_CIPHER_CTX_new();
	assert_non_null(cipher);
	assert_non_null(ctx);
	assert_int_equal(EVP_CIPHER_get_iv_length(cipher), c->iv_len);
	assert_int_equal(EVP_CipherInit_ex2(ctx, cipher, key, iv, 1, NULL), 1);
	assert_int_equal(EVP_CipherUpdate(ctx, NULL, &outl, aad, sizeof(aad)), 1);
	assert_int_equal(EVP_CipherUpdate(ctx, out, &outl, pt, sizeof(pt)), 1);
	assert_int_equal(outl, sizeof(pt));
	assert_int_equal(EVP_CipherFinal_ex(ctx, out + outl, &outl), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, got), 1);
	assert_memory_equal(out, ct, sizeof(ct));
	assert_memory_equal(got, tag, sizeof(tag));
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
}

/*
 * OpenSSL's "ChaCha20" IV is the 4-byte little-endian block counter followed
 * by the 12-byte RFC 8439 nonce.
 */
static void
chacha20_iv(uint32_t counter, const char *nonce_hex, uint8_t iv[16])
{
	iv[0] = (uint8_t)counter;
	iv[1] = (uint8_t)(counter >> 8);
	iv[2] = (uint8_t)(counter >> 16);
	iv[3] = (uint8_t)(counter >> 24);
	assert_int_equal(hex_decode(nonce_hex, iv + 4, 12), 12);
}

/* RFC 8439 section 2.3.2: the block function. */
static void
kat_chacha20_block_rfc8439(void **state)
{
	uint8_t key[32], iv[16], zero[64] = { 0 }, block[64], expected[64];

	(void)state;
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	chacha20_iv(1, "000000090000004a00000000", iv);
	hex_decode("10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
	    "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e",
	    expected, sizeof(expected));
	evp_encrypt("ChaCha20", key, iv, zero, sizeof(zero), block);
	assert_memory_equal(block, expected, sizeof(expected));
}

/* RFC 8439 section 2.4.2: encrypting the "sunscreen" text from counter 1. */
static void
kat_chacha20_encrypt_rfc8439(void **state)
{
	static const char text[] = "Ladies and Gentlemen of the class of '99: "
	    "If I could offer you only one tip for the future, sunscreen would be it.";
	uint8_t key[32], iv[16], out[114], expected[114];

	(void)state;
	assert_int_equal(strlen(text), sizeof(expected));
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	chacha20_iv(1, "000000000000004a00000000", iv);
	hex_decode("6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
	    "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
	    "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
	    "5af90bbf74a35be6b40b8eedf2785e42874d", expected, sizeof(expected));
	evp_encrypt("ChaCha20", key, iv, (const uint8_t *)text, sizeof(expected), out);
	assert_memory_equal(out, expected, sizeof(expected));
}

/* RFC 8439 section 2.5.2: Poly1305 through EVP_MAC "POLY1305". */
static void
kat_poly1305_rfc8439(void **state)
{
	static const char msg[] = "Cryptographic Forum Research Group";
	uint8_t key[32], tag[16], expected[16];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	size_t outl;

	(void)state;
	hex_decode("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b",
	    key, sizeof(key));
	hex_decode("a8061dc1305136c6c22b8baf0c0127a9", expected, sizeof(expected));
	mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
	assert_non_null(mac);
	ctx = EVP_MAC_CTX_new(mac);
	assert_non_null(ctx);
	assert_int_equal(EVP_MAC_init(ctx, key, sizeof(key), NULL), 1);
	assert_int_equal(EVP_MAC_update(ctx, (const uint8_t *)msg, strlen(msg)), 1);
	assert_int_equal(EVP_MAC_final(ctx, tag, &outl, sizeof(tag)), 1);
	assert_int_equal(outl, sizeof(tag));
	assert_memory_equal(tag, expected, sizeof(expected));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
}

/* RFC 4231 section 4.3 (test case 2), with the digest names of the table. */
static void
kat_hmac_rfc4231_case_2(void **state)
{
	static const struct {
		const char *name, *expected;
	} vectors[] = {
		{ "hmac-sha2-256",
		    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
		{ "hmac-sha2-512",
		    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
		    "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737" },
	};
	static const char data[] = "what do ya want for nothing?";
	uint8_t out[64], expected[64];
	size_t i, outl, len;

	(void)state;
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct kb_mac_info *m = kb_mac_lookup(vectors[i].name);
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		EVP_MAC_CTX *ctx;
		OSSL_PARAM params[2];

		assert_non_null(mac);
		ctx = EVP_MAC_CTX_new(mac);
		assert_non_null(ctx);
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
		    (char *)kb_mac_evp_digest(m), 0);
		params[1] = OSSL_PARAM_construct_end();
		assert_int_equal(EVP_MAC_init(ctx, (const uint8_t *)"Jefe", 4, params), 1);
		assert_int_equal(EVP_MAC_update(ctx, (const uint8_t *)data,
		    strlen(data)), 1);
		assert_int_equal(EVP_MAC_final(ctx, out, &outl, sizeof(out)), 1);
		len = hex_decode(vectors[i].expected, expected, sizeof(expected));
		assert_int_equal(outl, m->mac_len);
		assert_int_equal(len, m->mac_len);
		assert_memory_equal(out, expected, len);
		EVP_MAC_CTX_free(ctx);
		EVP_MAC_free(mac);
	}
}

/* --- Known packets --- */

/*
 * Output of tests/unit/gen/gen_packet_vectors.py, which builds each packet
 * from the specifications in Python, independently of this code: ChaCha20
 * and Poly1305 in pure Python, AES from the `cryptography` module, HMAC from
 * the Python standard library. Keys follow fill_pattern, with the cipher key
 * starting at 1 and the MAC key at 0x40. Padding bytes are 0xa5. The two
 * packets carry known_payload_0 and the IGNORE of known_payloads, at sequence
 * numbers 3 and 4.
 */
static const struct {
	const char *cipher, *mac, *iv, *packets[2];
} known_packets[] = {
	{ "chacha20-poly1305@openssh.com", NULL,
	    "",
	    { "da994a148ffda145742078e4642f97998443878a687162077b5ae60f0d3461b99c231c9ca01d0a7e793eb34c",
	      "ad5708be7fa3c7654557481b525d5b5a3bb1523025c35138b48cf385508f6dc86bce0aef211f60c9cfad1f53ab3f2cf541b7656f6f1861ac7b81459540000f0a4f18bd5f306c4c49c1679e00" } },
	{ "aes128-gcm@openssh.com", NULL,
	    "80878e959ca3aab1b8bfc6cd",
	    { "000000201c88f8b5d596078b4cf72bbf7080d5fb91b1c609ac81fe775cd5b43c9f119db9bec2303d3fe74e1bd93cf0638dfc6b91",
	      "000000407587c3de79e5df7663614026c7a994bd06425c52c305a2cb2cb7569cde3d87761691f2363462f4acdba50ac2294bc5e4e82e13b359551029a6c3b2f76b52499bbbb1c35e2558a50c0aeaa7cd64f86086" } },
	{ "aes256-gcm@openssh.com", NULL,
	    "80878e9500000000000000ff",
	    { "00000020b15b67a2c7a417712405a6c4e438b8fa98122e60b1ad3adfe9df1d14744e1809e85bcfa7d52e68e09fba90dffd5d30fb",
	      "00000040c1636bd5506c82561a18f569f236d4d45b59b2dff43ab749bca6234f016211ecf1de8bb2b74fbfbc236989489935b37dd1f755ad99aff45e137f56d6a5f3898a75ddf96d44794f74afb599f933d95e15" } },
	{ "aes128-ctr", "hmac-sha2-256",
	    "80878e959ca3aab1b8bfc6cdd4dbe2e9",
	    { "848ff81870a5db42f811422abca77b7ee692094ab595b870c19d1fd6d81d3017bae944d71fa344064ca35ad5bfaf7e52af02170e32f43c89afab9e8bd2f7fb2b",
	      "275fa3999758645876e0d5867b870fbc2ee8d956cfea41669ba4dada6173d34274beeb98a9766986bd5b0b735e340100d1461d939ef92dd16f327c051830aae22308c8e2880f140de13971c93e50a69ced7a4641b0782b2a330d15cf3be1bd28" } },
	{ "aes192-ctr", "hmac-sha2-512-etm@openssh.com",
	    "80878e959ca3aab1b8bfc6cdd4dbe2e9",
	    { "0000002050889ec9ddc9ca79ba7d67cfa6eac895a2c4a6088c41cbc28f4d7eaac33f9ae816c3c4d09cf51eb0feced833afd6ae3a868acabb83747ace6ac9897c7833192d32b561d10b19f8f560120455a8d9b2bcbe415472f2e55d11dea0f01bd85b9b20",
	      "00000040eaeacac22617b5138a09c7fb860f42b0aaa940e92f32309dfcec5daf225676e5a272742e71c8d6b732a00b243d8e8df3dd34897b36b616561ba8e01054e171423bbd902f67e789eaf2ef20177ee19458124b814f2ca00d355756f24647d0e910d9cfc65ca731dc2366bb697ea3447720377822b39f0ab50b8bd26131af91c62d" } },
	{ "aes256-ctr", "hmac-sha2-256-etm@openssh.com",
	    "80878e959ca3aab1b8bfc6cdd4dbe2e9",
	    { "0000002068e83f912050e3a8394a42642c0e32818621f01ce5b15b9963ee2a8776072568da6af737b8ab629b30a38e4b2c8e88b3fba37cb7d4b40988a87e9b364b0e565d",
	      "0000004041635f26d70bc9ef79ed1d5cc45a45f2a675200b933d31052de7afc1a6315c563dc63e8aed59f3f9108cc68b9e470165d59581ab875c39cd2bd204cdd556b08133940dd7a1f81f93be7d9e661c677d44b5f040ef23cc7a27cfa31d406ff81f89" } },
	{ "aes256-ctr", "hmac-sha2-512",
	    "80878e959ca3aab1b8bfc6cdd4dbe2e9",
	    { "66ed3f8d2a5990db516b446421512687973b34cc347c5b9963ee2a8776072568905dbfa8df37cd6bc0a2d8fa90d893eb026d8654abd391ddf1bbf86b986ef862c1cd88fb7f8267c04976898f3fb7cf00f0a939d55477e509179c5bd572aa78fe",
	      "53615f1ad921c9ee7bc61958c05e49feaa79240f97392d1931fbabc5a235505a31ca3a8ee95dcfc52cb0c28f9a4380e5561781ab875c39cd2bd204cdd556b0819af3714e8185386b162ac11645c0c7fcdfbdae93e6c63232b3cc126af1e826455aff756a2624818501455c709e8f240206fc2fa49d3471bea526bc35778877b7" } },
};

static const char known_payload_0[] = "\x05\x00\x00\x00\x0c" "ssh-userauth";

static void
known_payloads(uint8_t *ignore, size_t *ignore_len)
{
	size_t i;

	ignore[0] = SSH_MSG_IGNORE;
	ignore[1] = 0;
	ignore[2] = 0;
	ignore[3] = 0;
	ignore[4] = 40;
	for (i = 0; i < 40; i++)
		ignore[5 + i] = (uint8_t)i;
	*ignore_len = 45;
}

/* Three unencrypted packets, as KEXINIT, the key exchange reply and NEWKEYS. */
static void
codec_send_plain_three(struct kb_packet_codec *codec, struct kb_buf *wire)
{
	const uint8_t kexinit[] = { SSH_MSG_KEXINIT, 1, 2, 3 };
	int i;

	for (i = 0; i < 3; i++)
		assert_int_equal(kb_packet_codec_send(codec, kexinit,
		    sizeof(kexinit), wire), KB_OK);
}

static void
codec_send_matches_known_packets(void **state)
{
	uint8_t ignore[64], expected[512];
	size_t i, ignore_len, off, len;

	(void)state;
	known_payloads(ignore, &ignore_len);
	for (i = 0; i < sizeof(known_packets) / sizeof(known_packets[0]); i++) {
		struct kb_packet_codec *codec = kb_packet_codec_new();
		struct kb_buf *wire = kb_buf_new(WIRE_MAX);
		struct kb_newkeys keys;

		keys_make(&keys, known_packets[i].cipher, known_packets[i].mac);
		hex_decode(known_packets[i].iv, keys.iv, sizeof(keys.iv));
		kb_packet_codec_set_padding_fill(codec, 0xa5);
		codec_send_plain_three(codec, wire);
		assert_int_equal(kb_packet_codec_seqnr(codec, KB_DIR_OUT), 3);
		off = kb_buf_len(wire);
		assert_int_equal(kb_packet_codec_set_keys(codec, KB_DIR_OUT, &keys), KB_OK);

		assert_int_equal(kb_packet_codec_send(codec,
		    (const uint8_t *)known_payload_0, sizeof(known_payload_0) - 1,
		    wire), KB_OK);
		len = hex_decode(known_packets[i].packets[0], expected, sizeof(expected));
		assert_int_equal(kb_buf_len(wire) - off, len);
		assert_memory_equal(kb_buf_ptr(wire) + off, expected, len);
		off += len;

		assert_int_equal(kb_packet_codec_send(codec, ignore, ignore_len,
		    wire), KB_OK);
		len = hex_decode(known_packets[i].packets[1], expected, sizeof(expected));
		assert_int_equal(kb_buf_len(wire) - off, len);
		assert_memory_equal(kb_buf_ptr(wire) + off, expected, len);
		assert_int_equal(kb_packet_codec_seqnr(codec, KB_DIR_OUT), 5);

		kb_buf_free(wire);
		kb_packet_codec_free(codec);
	}
}

static void
codec_recv_known_packets(void **state)
{
	uint8_t ignore[64], packet[512];
	size_t i, ignore_len, len;

	(void)state;
	known_payloads(ignore, &ignore_len);
	for (i = 0; i < sizeof(known_packets) / sizeof(known_packets[0]); i++) {
		struct kb_packet_codec *sender = kb_packet_codec_new();
		struct kb_packet_codec *codec = kb_packet_codec_new();
		struct kb_buf *wire = kb_buf_new(WIRE_MAX);
		struct kb_buf *payload = kb_buf_new(WIRE_MAX);
		struct kb_newkeys keys;
		int j;

		/* The peer's unencrypted packets advance our sequence number. */
		codec_send_plain_three(sender, wire);
		for (j = 0; j < 3; j++)
			assert_int_equal(kb_packet_codec_recv(codec, wire, payload), KB_OK);
		assert_int_equal(kb_buf_len(wire), 0);
		assert_int_equal(kb_packet_codec_seqnr(codec, KB_DIR_IN), 3);
		kb_buf_reset(payload);

		keys_make(&keys, known_packets[i].cipher, known_packets[i].mac);
		hex_decode(known_packets[i].iv, keys.iv, sizeof(keys.iv));
		assert_int_equal(kb_packet_codec_set_keys(codec, KB_DIR_IN, &keys), KB_OK);
		for (j = 0; j < 2; j++) {
			len = hex_decode(known_packets[i].packets[j], packet, sizeof(packet));
			assert_int_equal(kb_buf_put(wire, packet, len), KB_OK);
		}
		assert_int_equal(kb_packet_codec_recv(codec, wire, payload), KB_OK);
		assert_int_equal(kb_buf_len(payload), sizeof(known_payload_0) - 1);
		assert_memory_equal(kb_buf_ptr(payload), known_payload_0,
		    sizeof(known_payload_0) - 1);
		kb_buf_reset(payload);
		assert_int_equal(kb_packet_codec_recv(codec, wire, payload), KB_OK);
		assert_int_equal(kb_buf_len(payload), ignore_len);
		assert_memory_equal(kb_buf_ptr(payload), ignore, ignore_len);
		assert_int_equal(kb_buf_len(wire), 0);
		assert_int_equal(kb_packet_codec_seqnr(codec, KB_DIR_IN), 5);

		kb_buf_free(payload);
		kb_buf_free(wire);
		kb_packet_codec_free(codec);
		kb_packet_codec_free(sender);
	}
}

/* --- Round trips and framing --- */

/* Checks the framing rules of one sent packet (RFC 4253 section 6). */
static void
assert_framing(const char *cipher_name, const char *mac_name,
    const uint8_t *wire, size_t wire_len)
{
	const struct kb_cipher_info *c = kb_cipher_lookup(cipher_name);
	const struct kb_mac_info *m = mac_name == NULL ? NULL : kb_mac_lookup(mac_name);
	size_t auth = c->aead ? c->tag_len : m->mac_len;
	bool clear_length = !c->length_separate && (c->aead || m->etm);

	if (clear_length) {
		uint32_t packet_len = (uint32_t)wire[0] << 24 |
		    (uint32_t)wire[1] << 16 | (uint32_t)wire[2] << 8 | wire[3];

		assert_int_equal(4 + packet_len + auth, wire_len);
		assert_int_equal(packet_len % c->block_size, 0);
	} else if (c->length_separate) {
		assert_int_equal((wire_len - 4 - auth) % c->block_size, 0);
	} else {
		assert_int_equal((wire_len - auth) % c->block_size, 0);
	}
}

static void
codec_round_trip_every_combination(void **state)
{
	uint8_t *data = malloc(5000);
	size_t i, len;

	(void)state;
	assert_non_null(data);
	for (i = 0; i < 5000; i++)
		data[i] = (uint8_t)(i * 31 + 7);
	for (i = 0; i < NCOMBOS; i++) {
		struct kb_packet_codec *tx = codec_keyed(KB_DIR_OUT,
		    combos[i].cipher, combos[i].mac);
		struct kb_packet_codec *rx = codec_keyed(KB_DIR_IN,
		    combos[i].cipher, combos[i].mac);
		struct kb_buf *wire = kb_buf_new(WIRE_MAX);
		struct kb_buf *payload = kb_buf_new(WIRE_MAX);
		uint64_t sent = 0;

		for (len = 1; len <= 5000; len++) {
			assert_int_equal(kb_packet_codec_send(tx, data, len, wire), KB_OK);
			sent += kb_buf_len(wire);
			assert_int_equal(kb_packet_codec_bytes(tx, KB_DIR_OUT), sent);
			assert_framing(combos[i].cipher, combos[i].mac,
			    kb_buf_ptr(wire), kb_buf_len(wire));
			assert_int_equal(kb_packet_codec_recv(rx, wire, payload), KB_OK);
			assert_int_equal(kb_buf_len(wire), 0);
			assert_int_equal(kb_buf_len(payload), len);
			assert_memory_equal(kb_buf_ptr(payload), data, len);
			kb_buf_reset(payload);
		}
		assert_int_equal(kb_packet_codec_bytes(rx, KB_DIR_IN), sent);
		assert_int_equal(kb_packet_codec_seqnr(rx, KB_DIR_IN), 5000);
		assert_int_equal(kb_packet_codec_seqnr(tx, KB_DIR_OUT), 5000);
		kb_buf_free(payload);
		kb_buf_free(wire);
		kb_packet_codec_free(rx);
		kb_packet_codec_free(tx);
	}
	free(data);
}

static void
codec_round_trip_unencrypted(void **state)
{
	struct kb_packet_codec *tx = kb_packet_codec_new();
	struct kb_packet_codec *rx = kb_packet_codec_new();
	struct kb_buf *wire = kb_buf_new(WIRE_MAX), *payload = kb_buf_new(WIRE_MAX);
	const uint8_t msg[] = { SSH_MSG_KEXINIT, 9, 8, 7, 6, 5 };
	const uint8_t *got;
	size_t size, got_len;

	(void)state;
	assert_int_equal(kb_packet_codec_send(tx, msg, sizeof(msg), wire), KB_OK);
	/* The unkeyed codec writes what kb_packet_parse reads. */
	assert_int_equal(kb_packet_parse(kb_buf_ptr(wire), kb_buf_len(wire), &size,
	    &got, &got_len), KB_OK);
	assert_int_equal(size, kb_buf_len(wire));
	assert_int_equal(got_len, sizeof(msg));
	assert_int_equal(kb_packet_codec_recv(rx, wire, payload), KB_OK);
	assert_memory_equal(kb_buf_ptr(payload), msg, sizeof(msg));
	assert_int_equal(kb_packet_codec_seqnr(rx, KB_DIR_IN), 1);
	assert_int_equal(kb_packet_codec_seqnr(rx, KB_DIR_OUT), 0);
	kb_buf_free(payload);
	kb_buf_free(wire);
	kb_packet_codec_free(rx);
	kb_packet_codec_free(tx);
}

static void
codec_padding_random_by_default(void **state)
{
	struct kb_packet_codec *codec = kb_packet_codec_new();
	struct kb_buf *a = kb_buf_new(64), *b = kb_buf_new(64);
	const uint8_t msg[] = { SSH_MSG_IGNORE, 0, 0, 0, 0 };

	(void)state;
	assert_int_equal(kb_packet_codec_send(codec, msg, sizeof(msg), a), KB_OK);
	assert_int_equal(kb_packet_codec_send(codec, msg, sizeof(msg), b), KB_OK);
	/* 4 + 1 + 5 + 6 = 16: six random bytes match by chance with probability 2^-48. */
	assert_int_equal(kb_buf_ptr(a)[4], 6);
	assert_memory_not_equal(kb_buf_ptr(a) + 10, kb_buf_ptr(b) + 10, 6);
	kb_buf_free(a);
	kb_buf_free(b);
	kb_packet_codec_free(codec);
}

/* Feeds every packet one byte at a time; nothing is consumed too early. */
static void
codec_recv_one_byte_at_a_time(void **state)
{
	static const size_t sizes[] = { 1, 17, 300 };
	uint8_t data[300];
	size_t i, j, k, got = 0;

	(void)state;
	memset(data, 0x3c, sizeof(data));
	for (i = 0; i < NCOMBOS; i++) {
		struct kb_packet_codec *tx = codec_keyed(KB_DIR_OUT,
		    combos[i].cipher, combos[i].mac);
		struct kb_packet_codec *rx = codec_keyed(KB_DIR_IN,
		    combos[i].cipher, combos[i].mac);
		struct kb_buf *wire = kb_buf_new(WIRE_MAX);
		struct kb_buf *in = kb_buf_new(WIRE_MAX);
		struct kb_buf *payload = kb_buf_new(WIRE_MAX);
		int r;

		for (j = 0; j < 3; j++)
			assert_int_equal(kb_packet_codec_send(tx, data, sizes[j],
			    wire), KB_OK);
		got = 0;
		for (k = 0; k < kb_buf_len(wire); k++) {
			size_t before;

			assert_int_equal(kb_buf_put(in, kb_buf_ptr(wire) + k, 1), KB_OK);
			before = kb_buf_len(in);
			r = kb_packet_codec_recv(rx, in, payload);
			if (r == KB_ERR_INCOMPLETE) {
				assert_int_equal(kb_buf_len(in), before);
				continue;
			}
			assert_int_equal(r, KB_OK);
			assert_int_equal(kb_buf_len(in), 0);
			assert_int_equal(kb_buf_len(payload), sizes[got]);
			kb_buf_reset(payload);
			got++;
		}
		assert_int_equal(got, 3);
		assert_int_equal(kb_packet_codec_seqnr(rx, KB_DIR_IN), 3);
		kb_buf_free(payload);
		kb_buf_free(in);
		kb_buf_free(wire);
		kb_packet_codec_free(rx);
		kb_packet_codec_free(tx);
	}
}

/* --- Tampering --- */

/*
 * Feeds wire with one bit flipped to a fresh receiver. When the flipped
 * length is longer than the data, zeros follow, as more traffic would.
 */
static int
recv_flipped(const char *cipher, const char *mac, const struct kb_buf *wire,
    size_t byte, int bit, struct kb_buf *payload)
{
	struct kb_packet_codec *rx = codec_keyed(KB_DIR_IN, cipher, mac);
	struct kb_buf *in = kb_buf_new(WIRE_MAX);
	static const uint8_t zeros[4096];
	uint8_t *p;
	int r;

	assert_int_equal(kb_buf_reserve(in, kb_buf_len(wire), &p), KB_OK);
	memcpy(p, kb_buf_ptr(wire), kb_buf_len(wire));
	p[byte] ^= (uint8_t)(1u << bit);
	while ((r = kb_packet_codec_recv(rx, in, payload)) == KB_ERR_INCOMPLETE) {
		assert_true(kb_buf_len(in) < KB_PACKET_MAX + 256);
		assert_int_equal(kb_buf_put(in, zeros, sizeof(zeros)), KB_OK);
	}
	kb_buf_free(in);
	kb_packet_codec_free(rx);
	return r;
}

static void
codec_recv_rejects_flipped_bits(void **state)
{
	static const size_t sizes[] = { 1, 40 };
	uint8_t data[40];
	size_t i, j, byte;
	int bit, r;

	(void)state;
	memset(data, 0x61, sizeof(data));
	for (i = 0; i < NCOMBOS; i++) {
		for (j = 0; j < 2; j++) {
			struct kb_packet_codec *tx = codec_keyed(KB_DIR_OUT,
			    combos[i].cipher, combos[i].mac);
			struct kb_buf *wire = codec_send_one(tx, data, sizes[j]);
			struct kb_buf *payload = kb_buf_new(WIRE_MAX);

			for (byte = 0; byte < kb_buf_len(wire); byte++) {
				for (bit = 0; bit < 8; bit++) {
					/* Every bit of the length, one bit of each other byte. */
					if (byte >= 4 && bit != (int)(byte % 8))
						continue;
					r = recv_flipped(combos[i].cipher, combos[i].mac,
					    wire, byte, bit, payload);
					assert_int_equal(kb_buf_len(payload), 0);
					if (byte >= 4) {
						assert_int_equal(r, KB_ERR_MAC_INVALID);
						continue;
					}
					assert_true(r == KB_ERR_MAC_INVALID ||
					    r == KB_ERR_PACKET_TOO_LARGE ||
					    r == KB_ERR_PACKET_TOO_SMALL ||
					    r == KB_ERR_PADDING_INVALID);
				}
			}
			kb_buf_free(payload);
			kb_buf_free(wire);
			kb_packet_codec_free(tx);
		}
	}
}

/* After a failed packet the direction keeps failing, even on good input. */
static void
codec_recv_error_is_final(void **state)
{
	const uint8_t msg[] = { SSH_MSG_IGNORE, 0, 0, 0, 0 };
	struct kb_packet_codec *tx = codec_keyed(KB_DIR_OUT, "aes128-ctr",
	    "hmac-sha2-256");
	struct kb_packet_codec *rx = codec_keyed(KB_DIR_IN, "aes128-ctr",
	    "hmac-sha2-256");
	struct kb_buf *bad = codec_send_one(tx, msg, sizeof(msg));
	struct kb_buf *good = codec_send_one(tx, msg, sizeof(msg));
	struct kb_buf *payload = kb_buf_new(WIRE_MAX);
	uint8_t *p;

	(void)state;
	/* Corrupt the last MAC byte of the first packet. */
	assert_int_equal(kb_buf_reserve(bad, 0, &p), KB_OK);
	p[-1] ^= 1;
	assert_int_equal(kb_packet_codec_recv(rx, bad, payload), KB_ERR_MAC_INVALID);
	assert_int_equal(kb_packet_codec_recv(rx, good, payload), KB_ERR_MAC_INVALID);
	assert_int_equal(kb_buf_len(payload), 0);
	kb_buf_free(payload);
	kb_buf_free(good);
	kb_buf_free(bad);
	kb_packet_codec_free(rx);
	kb_packet_codec_free(tx);
}

/* A length over 256 KiB is rejected from the first bytes, without waiting. */
static void
codec_recv_rejects_huge_length(void **state)
{
	const uint8_t huge[] = { 0x00, 0x04, 0x00, 0x10 };
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct kb_packet_codec *rx = i == 0 ? kb_packet_codec_new() :
		    codec_keyed(KB_DIR_IN, i == 1 ? "aes128-gcm@openssh.com" :
		    "aes256-ctr", i == 1 ? NULL : "hmac-sha2-256-etm@openssh.com");
		struct kb_buf *in = kb_buf_from(huge, sizeof(huge));
		struct kb_buf *payload = kb_buf_new(64);

		assert_int_equal(kb_packet_codec_recv(rx, in, payload),
		    KB_ERR_PACKET_TOO_LARGE);
		kb_buf_free(payload);
		kb_buf_free(in);
		kb_packet_codec_free(rx);
	}
}

/* --- Keys and sequence numbers --- */

static void
codec_set_keys_rejects_bad_keys(void **state)
{
	struct kb_packet_codec *codec = kb_packet_codec_new();
	struct kb_cipher_info copy;
	struct kb_newkeys keys;

	(void)state;
	/* A cipher without a MAC is only valid for AEAD ciphers. */
	keys_make(&keys, "aes128-ctr", NULL);
	assert_int_equal(kb_packet_codec_set_keys(codec, KB_DIR_IN, &keys),
	    KB_ERR_INVALID_ARGUMENT);
	/* Only entries of the table are accepted. */
	keys_make(&keys, "aes128-gcm@openssh.com", NULL);
	copy = *keys.cipher;
	keys.cipher = &copy;
	assert_int_equal(kb_packet_codec_set_keys(codec, KB_DIR_IN, &keys),
	    KB_ERR_INVALID_ARGUMENT);
	assert_int_equal(kb_packet_codec_set_keys(codec, KB_DIR_IN, NULL),
	    KB_ERR_INVALID_ARGUMENT);
	kb_packet_codec_free(codec);
	kb_packet_codec_free(NULL);
}

/*
 * The sequence number wraps from 2^32 - 1 to 0 (RFC 4253 section 6.4) and
 * enters the MAC or nonce, so both ends must agree on it.
 */
static void
codec_seqnr_wraps(void **state)
{
	static const char *ciphers[][2] = {
		{ "chacha20-poly1305@openssh.com", NULL },
		{ "aes128-ctr", "hmac-sha2-256" },
		{ "aes256-ctr", "hmac-sha2-512-etm@openssh.com" },
	};
	const uint8_t msg[] = { SSH_MSG_IGNORE, 0, 0, 0, 1, 'x' };
	size_t i;
	int j, r;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct kb_packet_codec *tx = codec_keyed(KB_DIR_OUT, ciphers[i][0],
		    ciphers[i][1]);
		struct kb_packet_codec *rx = codec_keyed(KB_DIR_IN, ciphers[i][0],
		    ciphers[i][1]);
		struct kb_buf *wire = kb_buf_new(WIRE_MAX);
		struct kb_buf *payload = kb_buf_new(WIRE_MAX);

		kb_packet_codec_set_seqnr(tx, KB_DIR_OUT, UINT32_MAX - 1);
		kb_packet_codec_set_seqnr(rx, KB_DIR_IN, UINT32_MAX - 1);
		for (j = 0; j < 3; j++) {
			assert_int_equal(kb_packet_codec_send(tx, msg, sizeof(msg),
			    wire), KB_OK);
			assert_int_equal(kb_packet_codec_recv(rx, wire, payload), KB_OK);
		}
		assert_int_equal(kb_packet_codec_seqnr(tx, KB_DIR_OUT), 1);
		assert_int_equal(kb_packet_codec_seqnr(rx, KB_DIR_IN), 1);
		assert_int_equal(kb_buf_len(payload), 3 * sizeof(msg));

		/*
		 * A receiver one packet behind rejects the next packet. Under
		 * chacha20-poly1305 its length key stream differs too, so the
		 * length decrypts to garbage that is rejected first.
		 */
		kb_packet_codec_set_seqnr(rx, KB_DIR_IN, 0);
		assert_int_equal(kb_packet_codec_send(tx, msg, sizeof(msg), wire), KB_OK);
		r = kb_packet_codec_recv(rx, wire, payload);
		if (ciphers[i][1] != NULL)
			assert_int_equal(r, KB_ERR_MAC_INVALID);
		else
			assert_true(r == KB_ERR_PACKET_TOO_LARGE ||
			    r == KB_ERR_PADDING_INVALID || r == KB_ERR_MAC_INVALID ||
			    r == KB_ERR_INCOMPLETE);
		assert_int_equal(kb_buf_len(payload), 3 * sizeof(msg));
		kb_buf_free(payload);
		kb_buf_free(wire);
		kb_packet_codec_free(rx);
		kb_packet_codec_free(tx);
	}
}

/* Strict kex: after NEWKEYS both ends restart from 0 in that direction. */
static void
codec_reset_seqnr_after_newkeys(void **state)
{
	struct kb_packet_codec *tx = kb_packet_codec_new();
	struct kb_packet_codec *rx = kb_packet_codec_new();
	struct kb_buf *wire = kb_buf_new(WIRE_MAX), *payload = kb_buf_new(WIRE_MAX);
	const uint8_t msg[] = { SSH_MSG_IGNORE, 0, 0, 0, 0 };
	struct kb_newkeys keys;
	int j;

	(void)state;
	codec_send_plain_three(tx, wire);
	for (j = 0; j < 3; j++)
		assert_int_equal(kb_packet_codec_recv(rx, wire, payload), KB_OK);
	assert_int_equal(kb_packet_codec_send(rx, msg, sizeof(msg), wire), KB_OK);
	kb_buf_reset(wire);
	assert_int_equal(kb_packet_codec_seqnr(tx, KB_DIR_OUT), 3);
	assert_int_equal(kb_packet_codec_seqnr(rx, KB_DIR_IN), 3);

	kb_packet_codec_reset_seqnr(tx, KB_DIR_OUT);
	kb_packet_codec_reset_seqnr(rx, KB_DIR_IN);
	assert_int_equal(kb_packet_codec_seqnr(tx, KB_DIR_OUT), 0);
	assert_int_equal(kb_packet_codec_seqnr(rx, KB_DIR_IN), 0);
	/* The other direction keeps counting. */
	assert_int_equal(kb_packet_codec_seqnr(rx, KB_DIR_OUT), 1);

	keys_make(&keys, "aes128-ctr", "hmac-sha2-256");
	assert_int_equal(kb_packet_codec_set_keys(tx, KB_DIR_OUT, &keys), KB_OK);
	assert_int_equal(kb_packet_codec_set_keys(rx, KB_DIR_IN, &keys), KB_OK);
	assert_int_equal(kb_packet_codec_bytes(tx, KB_DIR_OUT), 0);
	assert_int_equal(kb_packet_codec_send(tx, msg, sizeof(msg), wire), KB_OK);
	kb_buf_reset(payload);
	assert_int_equal(kb_packet_codec_recv(rx, wire, payload), KB_OK);
	assert_memory_equal(kb_buf_ptr(payload), msg, sizeof(msg));
	assert_int_equal(kb_packet_codec_seqnr(rx, KB_DIR_IN), 1);
	kb_buf_free(payload);
	kb_buf_free(wire);
	kb_packet_codec_free(rx);
	kb_packet_codec_free(tx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cipher_names_in_order),
		cmocka_unit_test(cipher_lookup_every_listed_name),
		cmocka_unit_test(cipher_lookup_rejects_none_and_unknown),
		cmocka_unit_test(cipher_info_fields),
		cmocka_unit_test(err_str_new_codes),
		cmocka_unit_test(kat_aes_ctr_sp800_38a),
		cmocka_unit_test(kat_aes_gcm_test_case_4),
		cmocka_unit_test(kat_chacha20_block_rfc8439),
		cmocka_unit_test(kat_chacha20_encrypt_rfc8439),
		cmocka_unit_test(kat_poly1305_rfc8439),
		cmocka_unit_test(kat_hmac_rfc4231_case_2),
		cmocka_unit_test(codec_send_matches_known_packets),
		cmocka_unit_test(codec_recv_known_packets),
		cmocka_unit_test(codec_round_trip_unencrypted),
		cmocka_unit_test(codec_round_trip_every_combination),
		cmocka_unit_test(codec_padding_random_by_default),
		cmocka_unit_test(codec_recv_one_byte_at_a_time),
		cmocka_unit_test(codec_recv_rejects_flipped_bits),
		cmocka_unit_test(codec_recv_error_is_final),
		cmocka_unit_test(codec_recv_rejects_huge_length),
		cmocka_unit_test(codec_set_keys_rejects_bad_keys),
		cmocka_unit_test(codec_seqnr_wraps),
		cmocka_unit_test(codec_reset_seqnr_after_newkeys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
