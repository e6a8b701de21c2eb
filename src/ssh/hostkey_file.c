/*
 * Host key files: loading PEM (PKCS#1, PKCS#8, SEC1) and OpenSSH's
 * "openssh-key-v1" format (OpenSSH PROTOCOL.key), unencrypted only, and
 * saving as PKCS#8 PEM with an authorized_keys line in path.pub.
 *
 * Messages name the file and the problem, never anything of the key.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/hostkey.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "hostkey_internal.h"

#define HOSTKEY_FILE_MAX	(256 * 1024)
#define OPENSSH_BEGIN		"-----BEGIN OPENSSH PRIVATE KEY-----"
#define OPENSSH_END		"-----END OPENSSH PRIVATE KEY-----"
#define OPENSSH_MAGIC		"openssh-key-v1"	/* followed by a NUL */
/* Unencrypted private sections are padded to this block size. */
#define OPENSSH_BLOCK		8

static int
hostkey_read_file(const char *path, char **datap, size_t *lenp)
{
	FILE *f;
	char *data;
	size_t len;

	if ((f = fopen(path, "re")) == NULL) {
		kb_log(KB_LOG_ERROR, NULL, _("cannot open host key %s: %s"), path,
		    strerror(errno));
		return errno == ENOENT ? KB_ERR_NOT_FOUND : KB_ERR_SYSTEM;
	}
	if ((data = malloc(HOSTKEY_FILE_MAX + 1)) == NULL) {
		fclose(f);
		return KB_ERR_ALLOC_FAIL;
	}
	len = fread(data, 1, HOSTKEY_FILE_MAX + 1, f);
	fclose(f);
	if (len > HOSTKEY_FILE_MAX) {
		OPENSSL_clear_free(data, HOSTKEY_FILE_MAX + 1);
		kb_log(KB_LOG_ERROR, NULL, _("host key %s is larger than %d bytes"), path,
		    HOSTKEY_FILE_MAX);
		return KB_ERR_KEY_INVALID;
	}
	data[len] = '\0';
	*datap = data;
	*lenp = len;
	return KB_OK;
}

/* Decodes the base64 body between the OpenSSH armor lines. */
static int
openssh_decode_armor(const char *text, uint8_t **outp, size_t *outlenp)
{
	const char *begin, *end;
	EVP_ENCODE_CTX *ctx = NULL;
	uint8_t *out = NULL;
	size_t inlen;
	int n1 = 0, n2 = 0, r = KB_ERR_KEY_INVALID;

	if ((begin = strstr(text, OPENSSH_BEGIN)) == NULL)
		return KB_ERR_KEY_INVALID;
	begin += strlen(OPENSSH_BEGIN);
	if ((end = strstr(begin, OPENSSH_END)) == NULL)
		return KB_ERR_KEY_INVALID;
	inlen = (size_t)(end - begin);
	if ((out = malloc(inlen)) == NULL || (ctx = EVP_ENCODE_CTX_new()) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, out, &n1, (const unsigned char *)begin, (int)inlen) < 0 ||
	    EVP_DecodeFinal(ctx, out + n1, &n2) != 1)
		goto out;
	*outp = out;
	*outlenp = (size_t)(n1 + n2);
	out = NULL;
	r = KB_OK;
out:
	if (out != NULL)
		OPENSSL_clear_free(out, inlen);
	EVP_ENCODE_CTX_free(ctx);
	return r;
}

static int
openssh_push_mpint(struct kb_buf *b, OSSL_PARAM_BLD *bld, const char *name, BIGNUM **bnp)
{
	const uint8_t *v;
	size_t len;

	if (kb_buf_get_mpint_direct(b, &v, &len) != 0 ||
	    (*bnp = BN_bin2bn(v, (int)len, NULL)) == NULL)
		return KB_ERR_KEY_INVALID;
	if (name != NULL && OSSL_PARAM_BLD_push_BN(bld, name, *bnp) != 1)
		return KB_ERR_CRYPTO;
	return KB_OK;
}

/* RSA: mpint n, e, d, iqmp, p, q. OpenSSL also takes d mod (p-1) and (q-1). */
static int
openssh_parse_rsa(struct kb_buf *b, OSSL_PARAM_BLD *bld, BIGNUM *bn[8])
{
	BN_CTX *bnctx = NULL;
	int r;

	if ((r = openssh_push_mpint(b, bld, OSSL_PKEY_PARAM_RSA_N, &bn[0])) != 0 ||
	    (r = openssh_push_mpint(b, bld, OSSL_PKEY_PARAM_RSA_E, &bn[1])) != 0 ||
	    (r = openssh_push_mpint(b, bld, OSSL_PKEY_PARAM_RSA_D, &bn[2])) != 0 ||
	    (r = openssh_push_mpint(b, bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, &bn[3])) != 0 ||
	    (r = openssh_push_mpint(b, bld, OSSL_PKEY_PARAM_RSA_FACTOR1, &bn[4])) != 0 ||
	    (r = openssh_push_mpint(b, bld, OSSL_PKEY_PARAM_RSA_FACTOR2, &bn[5])) != 0)
		return r;
	r = KB_ERR_CRYPTO;
	if ((bnctx = BN_CTX_new()) == NULL || (bn[6] = BN_dup(bn[4])) == NULL ||
	    (bn[7] = BN_dup(bn[5])) == NULL ||
	    BN_sub_word(bn[6], 1) != 1 || BN_sub_word(bn[7], 1) != 1 ||
	    BN_mod(bn[6], bn[2], bn[6], bnctx) != 1 || BN_mod(bn[7], bn[2], bn[7], bnctx) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, bn[6]) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, bn[7]) != 1)
		goto out;
	r = KB_OK;
out:
	BN_CTX_free(bnctx);
	return r;
}

/* ECDSA: string "nistp256", string Q, mpint d. */
static int
openssh_parse_ecdsa(struct kb_buf *b, OSSL_PARAM_BLD *bld, BIGNUM *bn[8])
{
	const uint8_t *curve, *q;
	size_t curve_len, q_len;

	if (kb_buf_get_string_direct(b, &curve, &curve_len) != 0 || curve_len != 8 ||
	    memcmp(curve, "nistp256", 8) != 0 ||
	    kb_buf_get_string_direct(b, &q, &q_len) != 0)
		return KB_ERR_KEY_INVALID;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, q_len) != 1)
		return KB_ERR_CRYPTO;
	return openssh_push_mpint(b, bld, OSSL_PKEY_PARAM_PRIV_KEY, &bn[0]);
}

static int
openssh_pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **pkeyp)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	int r = KB_ERR_KEY_INVALID;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, pkeyp, EVP_PKEY_KEYPAIR, params) != 1)
		goto out;
	/* The private half must belong to the public half stored beside it. */
	if ((check = EVP_PKEY_CTX_new_from_pkey(NULL, *pkeyp, NULL)) == NULL ||
	    EVP_PKEY_pairwise_check(check) != 1)
		goto out;
	r = KB_OK;
out:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return r;
}

/* Ed25519: string pk (32 bytes), string sk (seed || pk, 64 bytes). */
static int
openssh_parse_ed25519(struct kb_buf *b, EVP_PKEY **pkeyp)
{
	const uint8_t *pk, *sk;
	uint8_t derived[32];
	size_t pk_len, sk_len, len = sizeof(derived);

	if (kb_buf_get_string_direct(b, &pk, &pk_len) != 0 || pk_len != 32 ||
	    kb_buf_get_string_direct(b, &sk, &sk_len) != 0 || sk_len != 64 ||
	    memcmp(sk + 32, pk, 32) != 0)
		return KB_ERR_KEY_INVALID;
	if ((*pkeyp = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32)) == NULL)
		return KB_ERR_KEY_INVALID;
	if (EVP_PKEY_get_raw_public_key(*pkeyp, derived, &len) != 1 ||
	    memcmp(derived, pk, 32) != 0)
		return KB_ERR_KEY_INVALID;
	return KB_OK;
}

/* Parses one private key of the type named, leaving the comment unread. */
static int
openssh_parse_key(struct kb_buf *b, const char *type, EVP_PKEY **pkeyp)
{
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *bn[8] = { NULL };
	size_t i;
	int r;

	if (strcmp(type, "ssh-ed25519") == 0)
		return openssh_parse_ed25519(b, pkeyp);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if (strcmp(type, "ecdsa-sha2-nistp256") == 0) {
		if ((r = openssh_parse_ecdsa(b, bld, bn)) == 0)
			r = openssh_pkey_fromdata("EC", bld, pkeyp);
	} else if (strcmp(type, "ssh-rsa") == 0) {
		if ((r = openssh_parse_rsa(b, bld, bn)) == 0)
			r = openssh_pkey_fromdata("RSA", bld, pkeyp);
	} else
		r = KB_ERR_KEY_INVALID;
	for (i = 0; i < 8; i++)
		BN_clear_free(bn[i]);
	OSSL_PARAM_BLD_free(bld);
	return r;
}

/* checkint, checkint, key, string comment, padding 1, 2, 3, ... */
static int
openssh_parse_private(const uint8_t *priv, size_t len, EVP_PKEY **pkeyp)
{
	struct kb_buf *b;
	uint32_t check1, check2;
	uint8_t pad, expect = 1;
	char *type = NULL;
	int r = KB_ERR_KEY_INVALID;

	if (len % OPENSSH_BLOCK != 0)
		return KB_ERR_KEY_INVALID;
	if ((b = kb_buf_from(priv, len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if (kb_buf_get_u32(b, &check1) != 0 || kb_buf_get_u32(b, &check2) != 0 ||
	    check1 != check2 || kb_buf_get_cstring(b, &type, NULL) != 0)
		goto out;
	if ((r = openssh_parse_key(b, type, pkeyp)) != 0)
		goto out;
	r = KB_ERR_KEY_INVALID;
	if (kb_buf_get_string_direct(b, NULL, NULL) != 0)
		goto out;
	while (kb_buf_len(b) > 0) {
		if (kb_buf_get_u8(b, &pad) != 0 || pad != expect++)
			goto out;
	}
	r = KB_OK;
out:
	free(type);
	kb_buf_free(b);
	return r;
}

/* Same public key in the envelope as in the private section. */
static int
openssh_check_public(const struct kb_hostkey *key, const uint8_t *pub, size_t len)
{
	struct kb_buf *blob;
	int r;

	if ((blob = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	r = kb_hostkey_put_public(key, blob);
	if (r == 0 && (kb_buf_len(blob) != len || memcmp(kb_buf_ptr(blob), pub, len) != 0))
		r = KB_ERR_KEY_INVALID;
	kb_buf_free(blob);
	return r;
}

static int
openssh_load(const char *path, const char *text, struct kb_hostkey **keyp)
{
	struct kb_buf *b = NULL;
	uint8_t *raw = NULL;
	size_t raw_len = 0, pub_len, priv_len;
	const uint8_t *pub, *priv;
	char *cipher = NULL, *kdf = NULL;
	uint8_t magic[sizeof(OPENSSH_MAGIC)];
	uint32_t nkeys;
	EVP_PKEY *pkey = NULL;
	int r;

	if ((r = openssh_decode_armor(text, &raw, &raw_len)) != 0)
		goto out;
	r = KB_ERR_KEY_INVALID;
	if ((b = kb_buf_from(raw, raw_len)) == NULL ||
	    kb_buf_get_bytes(b, magic, sizeof(magic)) != 0 ||
	    memcmp(magic, OPENSSH_MAGIC, sizeof(magic)) != 0 ||
	    kb_buf_get_cstring(b, &cipher, NULL) != 0 ||
	    kb_buf_get_cstring(b, &kdf, NULL) != 0 ||
	    kb_buf_get_string_direct(b, NULL, NULL) != 0 ||
	    kb_buf_get_u32(b, &nkeys) != 0 || nkeys != 1 ||
	    kb_buf_get_string_direct(b, &pub, &pub_len) != 0 ||
	    kb_buf_get_string_direct(b, &priv, &priv_len) != 0 ||
	    kb_buf_expect_end(b) != 0) {
		kb_log(KB_LOG_ERROR, NULL, _("host key %s: invalid OpenSSH private key"), path);
		goto out;
	}
	if (strcmp(cipher, "none") != 0 || strcmp(kdf, "none") != 0) {
		kb_log(KB_LOG_ERROR, NULL, _("host key %s is encrypted with a passphrase; "
		    "give an unencrypted host key (ssh-keygen -p -N '' -f FILE removes the "
		    "passphrase)"), path);
		goto out;
	}
	if ((r = openssh_parse_private(priv, priv_len, &pkey)) != 0 ||
	    (r = hostkey_wrap_pkey(pkey, true, keyp)) != 0) {
		kb_log(KB_LOG_ERROR, NULL, _("host key %s: invalid or unsupported OpenSSH "
		    "private key (ssh-ed25519, ecdsa-sha2-nistp256 and ssh-rsa are supported)"),
		    path);
		r = KB_ERR_KEY_INVALID;
		goto out;
	}
	pkey = NULL;
	if ((r = openssh_check_public(*keyp, pub, pub_len)) != 0) {
		kb_log(KB_LOG_ERROR, NULL, _("host key %s: the public key does not match "
		    "the private key"), path);
		kb_hostkey_free(*keyp);
		*keyp = NULL;
	}
out:
	EVP_PKEY_free(pkey);
	free(cipher);
	free(kdf);
	kb_buf_free(b);
	if (raw != NULL)
		OPENSSL_clear_free(raw, raw_len);
	return r;
}

/* Passphrase callback that records the request and supplies no passphrase. */
static int
pem_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(bool *)arg = true;
	return -1;
}

static int
pem_load(const char *path, const char *text, size_t len, struct kb_hostkey **keyp)
{
	BIO *bio;
	EVP_PKEY *pkey;
	bool encrypted = false;
	int r;

	if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, pem_no_passphrase, &encrypted);
	BIO_free(bio);
	if (pkey == NULL) {
		if (encrypted)
			kb_log(KB_LOG_ERROR, NULL, _("host key %s is encrypted with a "
			    "passphrase; give an unencrypted host key"), path);
		else
			kb_log(KB_LOG_ERROR, NULL, _("host key %s: not a PEM or OpenSSH "
			    "private key"), path);
		return KB_ERR_KEY_INVALID;
	}
	if ((r = hostkey_wrap_pkey(pkey, true, keyp)) != 0) {
		EVP_PKEY_free(pkey);
		kb_log(KB_LOG_ERROR, NULL, _("host key %s: unsupported key type or size "
		    "(Ed25519, ECDSA P-256 and RSA of 1024 to 16384 bits are supported)"), path);
		return KB_ERR_KEY_INVALID;
	}
	return KB_OK;
}

int
kb_hostkey_load(const char *path, struct kb_hostkey **keyp)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if (path == NULL || keyp == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	*keyp = NULL;
	if ((r = hostkey_read_file(path, &text, &len)) != 0)
		return r;
	if (strstr(text, OPENSSH_BEGIN) != NULL)
		r = openssh_load(path, text, keyp);
	else
		r = pem_load(path, text, len, keyp);
	OPENSSL_clear_free(text, HOSTKEY_FILE_MAX + 1);
	return r;
}

static int
hostkey_write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return KB_ERR_SYSTEM;
		}
		p += n;
		len -= (size_t)n;
	}
	return KB_OK;
}

/* Writes data to a new file, failing when path exists. */
static int
hostkey_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd, r;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		kb_log(KB_LOG_ERROR, NULL, _("cannot create %s: %s"), path, strerror(errno));
		return KB_ERR_SYSTEM;
	}
	/* The umask may narrow the mode, so fchmod sets it exactly. */
	if (fchmod(fd, mode) != 0 || (r = hostkey_write_all(fd, data, len)) != 0) {
		kb_log(KB_LOG_ERROR, NULL, _("cannot write %s: %s"), path, strerror(errno));
		r = KB_ERR_SYSTEM;
	}
	if (close(fd) != 0 && r == 0)
		r = KB_ERR_SYSTEM;
	if (r != 0)
		unlink(path);
	return r;
}

/* "TYPE BASE64 kexbridge\n", the authorized_keys form. */
static int
hostkey_public_line(const struct kb_hostkey *key, char **linep)
{
	struct kb_buf *blob;
	char *line = NULL;
	size_t cap;
	int n, r;

	if ((blob = kb_buf_new(KB_BUF_SIZE_DEFAULT)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = kb_hostkey_put_public(key, blob)) != 0)
		goto out;
	cap = strlen(hostkey_type_name(key)) + 4 * (kb_buf_len(blob) / 3 + 1) + 16;
	if ((line = malloc(cap)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	n = snprintf(line, cap, "%s ", hostkey_type_name(key));
	n += EVP_EncodeBlock((unsigned char *)line + n, kb_buf_ptr(blob),
	    (int)kb_buf_len(blob));
	snprintf(line + n, cap - (size_t)n, " kexbridge\n");
	*linep = line;
	line = NULL;
out:
	free(line);
	kb_buf_free(blob);
	return r;
}

int
kb_hostkey_save(const struct kb_hostkey *key, const char *path)
{
	BIO *bio = NULL;
	char *pem = NULL, *pubpath = NULL, *line = NULL;
	long pem_len;
	int r = KB_ERR_CRYPTO;

	if (key == NULL || path == NULL || !hostkey_has_private(key))
		return KB_ERR_INVALID_ARGUMENT;
	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if (PEM_write_bio_PrivateKey(bio, hostkey_get_pkey(key), NULL, NULL, 0, NULL,
	    NULL) != 1 || (pem_len = BIO_get_mem_data(bio, &pem)) <= 0)
		goto out;
	if ((r = hostkey_public_line(key, &line)) != 0)
		goto out;
	if (asprintf(&pubpath, "%s.pub", path) < 0) {
		pubpath = NULL;
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	if ((r = hostkey_write_file(path, pem, (size_t)pem_len, 0600)) != 0)
		goto out;
	if ((r = hostkey_write_file(pubpath, line, strlen(line), 0644)) != 0)
		unlink(path);
out:
	free(line);
	free(pubpath);
	BIO_free(bio);
	return r;
}
