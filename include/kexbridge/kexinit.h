/*
 * SSH_MSG_KEXINIT and its name-lists (RFC 4253 section 7.1, RFC 4251
 * section 5).
 *
 * A name-list is kept as it came off the wire and split into names. Malformed
 * lists are flagged, not rejected, so a diagnosis can show them; only lists
 * that exceed the hard limits below are rejected.
 */
#ifndef KEXBRIDGE_KEXINIT_H
#define KEXBRIDGE_KEXINIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kb_buf;

/* The ten name-lists of KEXINIT, in wire order. */
enum kb_category {
	KB_CAT_KEX = 0,
	KB_CAT_HOSTKEY,
	KB_CAT_CIPHER_C2S,
	KB_CAT_CIPHER_S2C,
	KB_CAT_MAC_C2S,
	KB_CAT_MAC_S2C,
	KB_CAT_COMP_C2S,
	KB_CAT_COMP_S2C,
	KB_CAT_LANG_C2S,
	KB_CAT_LANG_S2C,
	KB_CAT_COUNT,
};

/* Categories that the negotiation reports on: all but the languages. */
#define KB_CAT_NEGOTIATED	KB_CAT_LANG_C2S

/* Key used in logs, JSON and files: "kex", "hostkey", "cipher_c2s", ... */
const char *kb_category_key(enum kb_category cat);
/* Inverse of kb_category_key; returns -1 for an unknown key. */
int kb_category_from_key(const char *key);

/* Hard limits: a list beyond these fails with KB_ERR_NAMELIST_INVALID. */
#define KB_NAMELIST_MAX_BYTES	65535
#define KB_NAMELIST_MAX_NAMES	1024
/* Soft limits: beyond these a list or a name is flagged. */
#define KB_NAMELIST_LONG_BYTES	4096
#define KB_NAME_MAX_LEN		64	/* RFC 4251 section 6 */

/* Flags for what is wrong with a name-list. */
#define KB_NL_EMPTY_NAME	0x01	/* ",," or a leading or trailing comma */
#define KB_NL_SPACE		0x02	/* whitespace in a name */
#define KB_NL_DUPLICATE		0x04	/* a name listed twice */
#define KB_NL_NONPRINTABLE	0x08	/* a byte outside printable US-ASCII */
#define KB_NL_NAME_TOO_LONG	0x10	/* a name over KB_NAME_MAX_LEN */
#define KB_NL_LIST_TOO_LONG	0x20	/* a list over KB_NAMELIST_LONG_BYTES */

struct kb_namelist {
	/* The list as received, NUL-terminated; NUL bytes in it become '?'. */
	char *raw;
	size_t raw_len;
	/* The names in order, empty names included; they point into storage. */
	char **names;
	size_t count;
	char *storage;
	unsigned int flags;
};

/* Splits len bytes at data into names; the result owns copies. */
int kb_namelist_parse(struct kb_namelist *list, const uint8_t *data, size_t len);
/* Same for a NUL-terminated string. */
int kb_namelist_from_str(struct kb_namelist *list, const char *str);
int kb_namelist_copy(struct kb_namelist *dst, const struct kb_namelist *src);
void kb_namelist_free(struct kb_namelist *list);
/* True when name is on the list; empty names never match. */
bool kb_namelist_contains(const struct kb_namelist *list, const char *name);
/* Writes the translated names of the flags in flags, comma-separated. */
const char *kb_namelist_flags_str(unsigned int flags, char *out, size_t outlen);

struct kb_kexinit {
	uint8_t cookie[16];
	struct kb_namelist lists[KB_CAT_COUNT];
	bool first_kex_follows;
	uint32_t reserved;
	/*
	 * Bit (1 << cat) set: this side does not restrict the category and
	 * accepts whatever the other side offers. Used by client profiles,
	 * never by a parsed packet.
	 */
	unsigned int unrestricted;
};

/*
 * Parses a KEXINIT payload, starting at the message number byte. Fails with
 * KB_ERR_UNEXPECTED_MESSAGE when the message is not KEXINIT,
 * KB_ERR_MESSAGE_TRUNCATED when a field is cut short, KB_ERR_TRAILING_DATA
 * when bytes follow the reserved field, KB_ERR_NAMELIST_INVALID when a list
 * exceeds the hard limits.
 */
int kb_kexinit_parse(struct kb_kexinit *kexinit, const uint8_t *payload, size_t len);
/* Appends the KEXINIT payload, message number first, to out. */
int kb_kexinit_write(const struct kb_kexinit *kexinit, struct kb_buf *out);
/* Sets each list from a comma-separated string; NULL leaves a list empty. */
int kb_kexinit_set_list(struct kb_kexinit *kexinit, enum kb_category cat, const char *str);
int kb_kexinit_copy(struct kb_kexinit *dst, const struct kb_kexinit *src);
void kb_kexinit_free(struct kb_kexinit *kexinit);
/* Union of the flags of all ten lists. */
unsigned int kb_kexinit_flags(const struct kb_kexinit *kexinit);

#endif
