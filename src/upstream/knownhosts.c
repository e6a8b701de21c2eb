/*
 * Upstream host key check against an OpenSSH known_hosts file (sshd(8),
 * "SSH_KNOWN_HOSTS FILE FORMAT"): a host on a port other than 22 is
 * written "[host]:port" and matches only that form, as OpenSSH does.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"
#include "kexbridge/upstream.h"
#include "upstream-internal.h"

static const char *const policy_names[] = { "strict", "accept-new", "off" };

int
kb_up_hostkey_policy_from_str(const char *str)
{
	for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
		if (str != NULL && strcmp(str, policy_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
kb_up_hostkey_policy_str(enum kb_up_hostkey_policy policy)
{
	if ((unsigned int)policy > KB_UP_HOSTKEY_OFF)
		return "?";
	return policy_names[policy];
}

void
up_fingerprint_format(const unsigned char *hash, char *out, size_t outlen)
{
	unsigned char b64[64];
	int n;

	/* OpenSSH prints SHA256 fingerprints as base64 without '=' padding. */
	n = EVP_EncodeBlock(b64, hash, SHA256_DIGEST_LENGTH);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	snprintf(out, outlen, "SHA256:%.*s", n, (const char *)b64);
}

/* Fingerprint of a known_hosts entry, whose key is stored in base64. */
static void
fingerprint_known(const struct libssh2_knownhost *entry, char *out, size_t outlen)
{
	unsigned char *blob = NULL, hash[SHA256_DIGEST_LENGTH];
	size_t len = entry->key != NULL ? strlen(entry->key) : 0;
	int n;

	snprintf(out, outlen, "?");
	if (len == 0 || (blob = malloc(len)) == NULL)
		return;
	n = EVP_DecodeBlock(blob, (const unsigned char *)entry->key, (int)len);
	if (n > 0) {
		/* EVP_DecodeBlock counts padding as zero bytes; drop them. */
		for (size_t i = len; i > 0 && entry->key[i - 1] == '='; i--)
			n--;
		SHA256(blob, (size_t)n, hash);
		up_fingerprint_format(hash, out, outlen);
	}
	free(blob);
}

/* LIBSSH2_HOSTKEY_TYPE_* to the matching LIBSSH2_KNOWNHOST_KEY_* bit. */
static int
knownhost_key_bit(int hostkey_type)
{
	switch (hostkey_type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:	return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:	return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:	return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:	return LIBSSH2_KNOWNHOST_KEY_ED25519;
	default:				return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

/* True when name has an entry of another key type (libssh2 ignores those). */
static bool
knownhost_other_type(LIBSSH2_KNOWNHOSTS *kh, const char *name, int keybit)
{
	struct libssh2_knownhost *e = NULL, *prev = NULL;

	while (libssh2_knownhost_get(kh, &e, prev) == 0) {
		if (e->name != NULL && strcmp(e->name, name) == 0 &&
		    (e->typemask & LIBSSH2_KNOWNHOST_KEY_MASK) != keybit)
			return true;
		prev = e;
	}
	return false;
}

/* Appends one entry, leaving the lines libssh2 could not parse alone. */
static int
knownhost_append(LIBSSH2_KNOWNHOSTS *kh, const char *file, const char *name,
    const char *key, size_t keylen, int keybit)
{
	struct libssh2_knownhost *entry = NULL;
	char line[8192];
	size_t linelen = 0;
	char last = '\n';
	int fd, r = KB_ERR_SYSTEM;

	if (libssh2_knownhost_addc(kh, name, NULL, key, keylen, "kexbridge",
	    strlen("kexbridge"), LIBSSH2_KNOWNHOST_TYPE_PLAIN |
	    LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, &entry) != 0 ||
	    libssh2_knownhost_writeline(kh, entry, line, sizeof(line), &linelen,
	    LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
		return KB_ERR_INTERNAL;
	if ((fd = open(file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return KB_ERR_SYSTEM;
	/* A last line without its newline would swallow ours. */
	if (pread(fd, &last, 1, lseek(fd, 0, SEEK_END) - 1) == 1 && last != '\n' &&
	    write(fd, "\n", 1) != 1)
		goto out;
	if (write(fd, line, linelen) == (ssize_t)linelen)
		r = KB_OK;
 out:
	if (close(fd) != 0)
		r = KB_ERR_SYSTEM;
	return r;
}

/* The outcome of one lookup, before the policy is applied. */
struct kh_lookup {
	int check;		/* LIBSSH2_KNOWNHOST_CHECK_* */
	bool other_type;
	char known_fp[64];
};

static int
knownhost_lookup(LIBSSH2_SESSION *ssh, const char *file, const char *name,
    const char *key, size_t keylen, int keybit, LIBSSH2_KNOWNHOSTS **khp,
    struct kh_lookup *res)
{
	struct libssh2_knownhost *entry = NULL;
	LIBSSH2_KNOWNHOSTS *kh;

	if ((kh = *khp = libssh2_knownhost_init(ssh)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	/* A missing file is an empty one; accept-new creates it. */
	if (access(file, F_OK) == 0 && libssh2_knownhost_readfile(kh, file,
	    LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0)
		return KB_ERR_CONFIG_INVALID;

	/* Port -1: match name exactly, as OpenSSH would ("[host]:port"). */
	res->check = libssh2_knownhost_checkp(kh, name, -1, key, keylen,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit,
	    &entry);
	if (res->check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH && entry != NULL)
		fingerprint_known(entry, res->known_fp, sizeof(res->known_fp));
	res->other_type = res->check == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND &&
	    knownhost_other_type(kh, name, keybit);
	return KB_OK;
}

int
up_knownhosts_check(LIBSSH2_SESSION *ssh, const char *file,
    const char *host, unsigned int port, enum kb_up_hostkey_policy policy,
    const char *sid, char *fp, size_t fplen, struct up_text *msg)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	struct kh_lookup res = { .check = LIBSSH2_KNOWNHOST_CHECK_FAILURE };
	const unsigned char *hash;
	const char *key;
	char name[KB_UP_HOST_NAME_MAX], esc[KB_UP_HOST_NAME_MAX * 4];
	size_t keylen = 0;
	int type = 0, keybit, r = KB_ERR_KEY_INVALID;

	key = libssh2_session_hostkey(ssh, &keylen, &type);
	hash = (const unsigned char *)libssh2_hostkey_hash(ssh,
	    LIBSSH2_HOSTKEY_HASH_SHA256);
	if (key == NULL || hash == NULL) {
		up_text_format(msg, N_("the server's host key is not available"));
		return KB_ERR_KEY_INVALID;
	}
	up_fingerprint_format(hash, fp, fplen);
	keybit = knownhost_key_bit(type);
	if (port != 22)
		snprintf(name, sizeof(name), "[%s]:%u", host, port);
	else
		snprintf(name, sizeof(name), "%s", host);
	kb_log_escape(esc, sizeof(esc), name, strlen(name));

	if (policy == KB_UP_HOSTKEY_OFF) {
		kb_log(KB_LOG_WARN, sid, "upstream host key of %s not checked "
		    "(hostkey_policy = off): %s", esc, fp);
		return KB_OK;
	}
	if ((r = knownhost_lookup(ssh, file, name, key, keylen, keybit, &kh,
	    &res)) != KB_OK) {
		up_text_format(msg, N_("cannot read known hosts file %s"), file);
		goto out;
	}

	switch (res.check) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		kb_log(KB_LOG_DEBUG, sid, "upstream host key of %s known: %s",
		    esc, fp);
		r = KB_OK;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		up_text_format(msg, N_("the host key of %s has changed: %s "
		    "expects %s, the server sent %s; if the change is expected, "
		    "remove the old line from %s"), esc, file, res.known_fp, fp,
		    file);
		r = KB_ERR_KEY_INVALID;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		if (policy == KB_UP_HOSTKEY_STRICT || res.other_type) {
			up_text_format(msg, res.other_type ?
			    N_("%s is known with another key type in %s; the "
			    "server sent %s, which is refused") :
			    N_("the host key of %s is not in %s (server sent %s); "
			    "add it or use hostkey_policy = accept-new"),
			    esc, file, fp);
			r = KB_ERR_KEY_INVALID;
			break;
		}
		if ((r = knownhost_append(kh, file, name, key, keylen, keybit)) !=
		    KB_OK) {
#define APPEND_FAILED_MSGID	N_("cannot add the host key of %s to %s: %s")
			int saved = errno;

			/* Formatted twice: the system error text follows the locale too. */
			snprintf(msg->en, sizeof(msg->en), APPEND_FAILED_MSGID, esc,
			    file, up_strerror_en(saved));
			snprintf(msg->log, sizeof(msg->log),
			    kb_log_tr(APPEND_FAILED_MSGID), esc, file,
			    up_strerror_log(saved));
			break;
#undef APPEND_FAILED_MSGID
		}
		kb_log(KB_LOG_INFO, sid, "upstream host key of %s added to %s: %s",
		    esc, file, fp);
		break;
	default:
		up_text_format(msg, N_("cannot check the host key of %s"), esc);
		r = KB_ERR_KEY_INVALID;
		break;
	}
 out:
	if (kh != NULL)
		libssh2_knownhost_free(kh);
	return r;
}
