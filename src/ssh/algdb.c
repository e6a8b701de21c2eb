/*
 * SSH algorithm names: class, relative strength, weaknesses, and the OpenSSH
 * releases whose sshd added and removed them.
 *
 * Release numbers are major * 100 + minor. NOTE: they are not checked one by
 * one against the OpenSSH release notes. OPENSSH_EARLY marks names that sshd
 * has had since the early SSH-2 releases. 209 (OpenSSH 2.9, 2001) is an
 * upper bound there, because the exact first release is not recorded. 0
 * means unknown, or never in OpenSSH (names from Dropbear, libssh2, Go, JSch
 * and SSH.COM), and advice never offers such a name to an OpenSSH server.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "kexbridge/algdb.h"
#include "kexbridge/i18n.h"

#define OPENSSH_EARLY	209

#define KEX(n, s, w, since, rm)	{ n, KB_ALG_KEX, s, w, since, rm }
#define HK(n, s, w, since, rm)	{ n, KB_ALG_HOSTKEY, s, w, since, rm }
#define CIPH(n, s, w, since, rm)	{ n, KB_ALG_CIPHER, s, w, since, rm }
#define MAC(n, s, w, since, rm)	{ n, KB_ALG_MAC, s, w, since, rm }
#define COMP(n, s, w, since, rm)	{ n, KB_ALG_COMP, s, w, since, rm }

#define W_CBC		KB_WEAK_CBC
#define W_3DES		(KB_WEAK_CBC | KB_WEAK_3DES | KB_WEAK_SMALL_BLOCK)
#define W_SMALL		(KB_WEAK_CBC | KB_WEAK_SMALL_BLOCK)

static const struct kb_alg_info alg_table[] = {
	/* Key exchange. */
	KEX("mlkem768x25519-sha256", 100, 0, 909, 0),
	KEX("sntrup761x25519-sha512", 98, 0, 909, 0),
	KEX("sntrup761x25519-sha512@openssh.com", 98, 0, 805, 0),
	KEX("sntrup4591761x25519-sha512@tinyssh.org", 80, 0, 800, 0),
	KEX("curve448-sha512", 92, 0, 0, 0),
	KEX("curve25519-sha256", 90, 0, 704, 0),
	KEX("curve25519-sha256@libssh.org", 90, 0, 605, 0),
	KEX("ecdh-sha2-nistp521", 86, 0, 507, 0),
	KEX("ecdh-sha2-nistp384", 85, 0, 507, 0),
	KEX("ecdh-sha2-nistp256", 84, 0, 507, 0),
	KEX("diffie-hellman-group18-sha512", 80, 0, 703, 0),
	KEX("diffie-hellman-group18-sha512@ssh.com", 79, 0, 0, 0),
	KEX("diffie-hellman-group17-sha512", 78, 0, 0, 0),
	KEX("diffie-hellman-group16-sha512", 77, 0, 703, 0),
	KEX("diffie-hellman-group16-sha512@ssh.com", 76, 0, 0, 0),
	KEX("diffie-hellman-group16-sha384@ssh.com", 76, 0, 0, 0),
	KEX("diffie-hellman-group-exchange-sha256", 75, 0, 404, 0),
	KEX("diffie-hellman-group15-sha512", 74, 0, 0, 0),
	KEX("diffie-hellman-group15-sha384@ssh.com", 73, 0, 0, 0),
	KEX("diffie-hellman-group15-sha256@ssh.com", 73, 0, 0, 0),
	KEX("diffie-hellman-group14-sha256", 70, 0, 703, 0),
	KEX("diffie-hellman-group14-sha256@ssh.com", 69, 0, 0, 0),
	KEX("diffie-hellman-group14-sha224@ssh.com", 68, 0, 0, 0),
	KEX("rsa2048-sha256", 50, 0, 0, 0),
	KEX("diffie-hellman-group14-sha1", 40, KB_WEAK_SHA1, 309, 0),
	/* The group size is negotiated; servers may still offer 1024-bit groups. */
	KEX("diffie-hellman-group-exchange-sha1", 35, KB_WEAK_SHA1, OPENSSH_EARLY, 0),
	KEX("rsa1024-sha1", 15, KB_WEAK_SHA1 | KB_WEAK_DH1024, 0, 0),
	KEX("diffie-hellman-group1-sha1", 10, KB_WEAK_SHA1 | KB_WEAK_DH1024, OPENSSH_EARLY, 0),

	/* Host key and signature algorithms. */
	HK("ssh-ed25519-cert-v01@openssh.com", 91, 0, 605, 0),
	HK("ssh-ed25519", 90, 0, 605, 0),
	HK("ssh-ed448", 89, 0, 0, 0),
	HK("sk-ssh-ed25519-cert-v01@openssh.com", 88, 0, 802, 0),
	HK("sk-ssh-ed25519@openssh.com", 88, 0, 802, 0),
	HK("ecdsa-sha2-nistp521-cert-v01@openssh.com", 87, 0, 507, 0),
	HK("ecdsa-sha2-nistp384-cert-v01@openssh.com", 86, 0, 507, 0),
	HK("ecdsa-sha2-nistp256-cert-v01@openssh.com", 85, 0, 507, 0),
	HK("ecdsa-sha2-nistp521", 86, 0, 507, 0),
	HK("ecdsa-sha2-nistp384", 85, 0, 507, 0),
	HK("ecdsa-sha2-nistp256", 84, 0, 507, 0),
	HK("sk-ecdsa-sha2-nistp256-cert-v01@openssh.com", 83, 0, 802, 0),
	HK("sk-ecdsa-sha2-nistp256@openssh.com", 83, 0, 802, 0),
	HK("rsa-sha2-512-cert-v01@openssh.com", 81, 0, 0, 0),
	HK("rsa-sha2-256-cert-v01@openssh.com", 80, 0, 0, 0),
	HK("rsa-sha2-512", 80, 0, 702, 0),
	HK("rsa-sha2-256", 79, 0, 702, 0),
	HK("ssh-rsa-cert-v01@openssh.com", 41, KB_WEAK_SHA1, 0, 0),
	HK("ssh-rsa", 40, KB_WEAK_SHA1, OPENSSH_EARLY, 0),
	HK("x509v3-rsa2048-sha256", 60, 0, 0, 0),
	HK("x509v3-ssh-rsa", 30, KB_WEAK_SHA1, 0, 0),
	HK("ssh-dss-cert-v01@openssh.com", 11, KB_WEAK_DSA | KB_WEAK_SHA1, 0, 1000),
	HK("ssh-dss", 10, KB_WEAK_DSA | KB_WEAK_SHA1, OPENSSH_EARLY, 1000),
	HK("x509v3-ssh-dss", 9, KB_WEAK_DSA | KB_WEAK_SHA1, 0, 0),

	/* Ciphers. */
	CIPH("chacha20-poly1305@openssh.com", 100, 0, 605, 0),
	CIPH("aes256-gcm@openssh.com", 98, 0, 602, 0),
	CIPH("aes128-gcm@openssh.com", 96, 0, 602, 0),
	CIPH("aes256-gcm", 94, 0, 0, 0),
	CIPH("aes128-gcm", 92, 0, 0, 0),
	CIPH("aes256-ctr", 90, 0, 307, 0),
	CIPH("aes192-ctr", 88, 0, 307, 0),
	CIPH("aes128-ctr", 86, 0, 307, 0),
	CIPH("twofish256-ctr", 70, 0, 0, 0),
	CIPH("twofish192-ctr", 69, 0, 0, 0),
	CIPH("twofish128-ctr", 68, 0, 0, 0),
	CIPH("aes256-cbc", 50, W_CBC, OPENSSH_EARLY, 0),
	CIPH("aes192-cbc", 49, W_CBC, OPENSSH_EARLY, 0),
	CIPH("aes128-cbc", 48, W_CBC, OPENSSH_EARLY, 0),
	CIPH("rijndael-cbc@lysator.liu.se", 47, W_CBC, OPENSSH_EARLY, 0),
	CIPH("twofish256-cbc", 40, W_CBC, 0, 0),
	CIPH("twofish-cbc", 40, W_CBC, 0, 0),
	CIPH("twofish192-cbc", 39, W_CBC, 0, 0),
	CIPH("twofish128-cbc", 38, W_CBC, 0, 0),
	CIPH("3des-ctr", 22, KB_WEAK_3DES | KB_WEAK_SMALL_BLOCK, 0, 0),
	CIPH("3des-cbc", 20, W_3DES, OPENSSH_EARLY, 0),
	CIPH("blowfish-ctr", 17, KB_WEAK_SMALL_BLOCK, 0, 0),
	CIPH("blowfish-cbc", 15, W_SMALL, OPENSSH_EARLY, 706),
	CIPH("cast128-cbc", 14, W_SMALL, OPENSSH_EARLY, 706),
	CIPH("des-cbc", 8, W_SMALL, 0, 0),
	CIPH("arcfour256", 6, KB_WEAK_RC4, 0, 706),
	CIPH("arcfour128", 5, KB_WEAK_RC4, 0, 706),
	CIPH("arcfour", 4, KB_WEAK_RC4, OPENSSH_EARLY, 706),
	CIPH("none", 0, KB_WEAK_NONE_ALG, 0, 0),

	/* MACs. */
	MAC("hmac-sha2-512-etm@openssh.com", 100, 0, 602, 0),
	MAC("hmac-sha2-256-etm@openssh.com", 98, 0, 602, 0),
	MAC("umac-128-etm@openssh.com", 96, 0, 602, 0),
	MAC("hmac-sha2-512", 90, 0, 509, 0),
	MAC("hmac-sha2-256", 89, 0, 509, 0),
	MAC("umac-128@openssh.com", 88, 0, 602, 0),
	MAC("hmac-sha512@ssh.com", 85, 0, 0, 0),
	MAC("hmac-sha256@ssh.com", 84, 0, 0, 0),
	MAC("hmac-sha256-2@ssh.com", 84, 0, 0, 0),
	MAC("umac-64-etm@openssh.com", 80, 0, 602, 0),
	MAC("umac-64@openssh.com", 78, 0, 407, 0),
	MAC("hmac-sha2-512-96", 70, 0, 0, 0),
	MAC("hmac-sha2-256-96", 69, 0, 0, 0),
	MAC("hmac-ripemd160-etm@openssh.com", 55, 0, 602, 706),
	MAC("hmac-ripemd160", 54, 0, OPENSSH_EARLY, 706),
	MAC("hmac-ripemd160@openssh.com", 53, 0, 0, 706),
	MAC("hmac-sha1-etm@openssh.com", 50, KB_WEAK_SHA1, 602, 0),
	MAC("hmac-sha1", 49, KB_WEAK_SHA1, OPENSSH_EARLY, 0),
	MAC("hmac-sha1-96-etm@openssh.com", 46, KB_WEAK_SHA1, 602, 0),
	MAC("hmac-sha1-96", 45, KB_WEAK_SHA1, OPENSSH_EARLY, 0),
	MAC("hmac-md5-etm@openssh.com", 21, KB_WEAK_MD5, 602, 0),
	MAC("hmac-md5", 20, KB_WEAK_MD5, OPENSSH_EARLY, 0),
	MAC("hmac-md5-96-etm@openssh.com", 16, KB_WEAK_MD5, 602, 0),
	MAC("hmac-md5-96", 15, KB_WEAK_MD5, OPENSSH_EARLY, 0),
	MAC("none", 0, KB_WEAK_NONE_ALG, 0, 0),

	/*
	 * Compression. sshd has offered zlib@openssh.com (after user
	 * authentication) since 4.2; 7.4 dropped compression before
	 * authentication, and with it the plain "zlib" name.
	 */
	COMP("zlib@openssh.com", 30, 0, 402, 0),
	COMP("zlib", 20, 0, OPENSSH_EARLY, 704),
	COMP("none", 10, 0, OPENSSH_EARLY, 0),
};

/* The same name can be a cipher, a MAC and a compression method ("none"). */
static const struct kb_alg_info *
algdb_find(const char *name, enum kb_alg_class class, bool any_class)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(alg_table) / sizeof(alg_table[0]); i++) {
		if ((any_class || alg_table[i].class == class) &&
		    strcmp(alg_table[i].name, name) == 0)
			return &alg_table[i];
	}
	return NULL;
}

const struct kb_alg_info *
kb_alg_lookup(const char *name)
{
	return algdb_find(name, KB_ALG_KEX, true);
}

/* Like kb_alg_lookup, restricted to one class; used where "none" is ambiguous. */
const struct kb_alg_info *
kb_alg_lookup_class(const char *name, enum kb_alg_class class)
{
	return algdb_find(name, class, false);
}

enum kb_alg_class
kb_alg_class_of(enum kb_category cat)
{
	switch (cat) {
	case KB_CAT_KEX:
		return KB_ALG_KEX;
	case KB_CAT_HOSTKEY:
		return KB_ALG_HOSTKEY;
	case KB_CAT_CIPHER_C2S:
	case KB_CAT_CIPHER_S2C:
		return KB_ALG_CIPHER;
	case KB_CAT_MAC_C2S:
	case KB_CAT_MAC_S2C:
		return KB_ALG_MAC;
	default:
		return KB_ALG_COMP;
	}
}

static const struct {
	unsigned int flag;
	const char *reason;
} weak_reasons[] = {
	{ KB_WEAK_SHA1, N_("SHA-1") },
	{ KB_WEAK_MD5, N_("MD5") },
	{ KB_WEAK_CBC, N_("CBC mode") },
	{ KB_WEAK_3DES, N_("3DES") },
	{ KB_WEAK_DH1024, N_("1024-bit Diffie-Hellman group") },
	{ KB_WEAK_RC4, N_("RC4") },
	{ KB_WEAK_SMALL_BLOCK, N_("64-bit block size") },
	{ KB_WEAK_DSA, N_("DSA") },
	{ KB_WEAK_NONE_ALG, N_("no protection") },
};

const char *
kb_alg_weak_str_lang(unsigned int weak, bool translate, char *out, size_t outlen)
{
	size_t i, len = 0;
	const char *reason;
	int n;

	if (outlen == 0)
		return out;
	out[0] = '\0';
	for (i = 0; i < sizeof(weak_reasons) / sizeof(weak_reasons[0]); i++) {
		if ((weak & weak_reasons[i].flag) == 0)
			continue;
		reason = translate ? _(weak_reasons[i].reason) : weak_reasons[i].reason;
		n = snprintf(out + len, outlen - len, "%s%s", len > 0 ? ", " : "", reason);
		if (n < 0 || (size_t)n >= outlen - len)
			break;
		len += (size_t)n;
	}
	return out;
}

const char *
kb_alg_weak_str(unsigned int weak, char *out, size_t outlen)
{
	return kb_alg_weak_str_lang(weak, true, out, outlen);
}
