/*
 * What kexbridge knows about SSH algorithm names: category, relative
 * strength, weaknesses, and since which OpenSSH release sshd supports them.
 */
#ifndef KEXBRIDGE_ALGDB_H
#define KEXBRIDGE_ALGDB_H

#include <stdbool.h>

#include "kexbridge/kexinit.h"

/* Why an algorithm is weak; several may apply. */
#define KB_WEAK_SHA1		0x01
#define KB_WEAK_MD5		0x02
#define KB_WEAK_CBC		0x04
#define KB_WEAK_3DES		0x08
#define KB_WEAK_DH1024		0x10
#define KB_WEAK_RC4		0x20
#define KB_WEAK_SMALL_BLOCK	0x40	/* 64-bit block: blowfish, cast128 */
#define KB_WEAK_DSA		0x80
#define KB_WEAK_NONE_ALG	0x100	/* "none": no encryption or no integrity */

enum kb_alg_class {
	KB_ALG_KEX,
	KB_ALG_HOSTKEY,
	KB_ALG_CIPHER,
	KB_ALG_MAC,
	KB_ALG_COMP,
};

struct kb_alg_info {
	const char *name;
	enum kb_alg_class class;
	/* Higher is stronger; used to order advice within a class. */
	int strength;
	unsigned int weak;
	/*
	 * OpenSSH release (major * 100 + minor) whose sshd first supports the
	 * name, and the release that removed it; 0 when unknown or never.
	 */
	int openssh_since;
	int openssh_removed;
};

/* Returns the entry for name, or NULL when the name is not known. */
const struct kb_alg_info *kb_alg_lookup(const char *name);
/* The class of a KEXINIT category. */
enum kb_alg_class kb_alg_class_of(enum kb_category cat);
/* Writes the translated reasons in weak, comma-separated. */
const char *kb_alg_weak_str(unsigned int weak, char *out, size_t outlen);

/* Like kb_alg_lookup, within one class: "none" is a cipher, a MAC and a compression. */
const struct kb_alg_info *kb_alg_lookup_class(const char *name, enum kb_alg_class class);
/* Like kb_alg_weak_str, in English when translate is false. */
const char *kb_alg_weak_str_lang(unsigned int weak, bool translate, char *out, size_t outlen);

/*
 * First OpenSSH release whose sshd_config accepts a list that starts with
 * "+" to append names to the default set: 7.0 for KexAlgorithms, Ciphers
 * and MACs (openssh-portable commit f9eca249d, July 2015), 7.2 for
 * HostKeyAlgorithms. Older sshd needs the whole list written out.
 */
#define KB_OPENSSH_PLUS_SYNTAX		700
#define KB_OPENSSH_PLUS_SYNTAX_HOSTKEY	702

#endif
