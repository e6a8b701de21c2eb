/*
 * SSH_MSG_KEXINIT (RFC 4253 section 7.1):
 *
 *	byte		SSH_MSG_KEXINIT
 *	byte[16]	cookie
 *	name-list	kex_algorithms ... languages_server_to_client (ten lists)
 *	boolean		first_kex_packet_follows
 *	uint32		0 (reserved for future extension)
 */
#include "config.h"

#include <string.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"
#include "kexbridge/kexinit.h"
#include "kexbridge/packet.h"

static const char *const kexinit_category_keys[KB_CAT_COUNT] = {
	"kex", "hostkey", "cipher_c2s", "cipher_s2c", "mac_c2s", "mac_s2c",
	"comp_c2s", "comp_s2c", "lang_c2s", "lang_s2c",
};

const char *
kb_category_key(enum kb_category cat)
{
	if ((int)cat < 0 || cat >= KB_CAT_COUNT)
		return "unknown";
	return kexinit_category_keys[cat];
}

int
kb_category_from_key(const char *key)
{
	int i;

	if (key == NULL)
		return -1;
	for (i = 0; i < KB_CAT_COUNT; i++) {
		if (strcmp(kexinit_category_keys[i], key) == 0)
			return i;
	}
	return -1;
}

/* Reads one name-list. The hard size limit is checked before truncation. */
static int
kexinit_get_namelist(struct kb_buf *buf, struct kb_namelist *list)
{
	const uint8_t *data;
	uint32_t len;
	int r;

	if ((r = kb_buf_get_u32(buf, &len)) != 0)
		return r;
	if (len > KB_NAMELIST_MAX_BYTES)
		return KB_ERR_NAMELIST_INVALID;
	if (len > kb_buf_len(buf))
		return KB_ERR_MESSAGE_TRUNCATED;
	data = kb_buf_ptr(buf);
	if ((r = kb_namelist_parse(list, data, len)) != 0)
		return r;
	return kb_buf_consume(buf, len);
}

int
kb_kexinit_parse(struct kb_kexinit *kexinit, const uint8_t *payload, size_t len)
{
	struct kb_buf *buf = NULL;
	uint8_t type, follows;
	int i, r = KB_ERR_INTERNAL;

	if (kexinit == NULL || (payload == NULL && len != 0))
		return KB_ERR_INVALID_ARGUMENT;
	memset(kexinit, 0, sizeof(*kexinit));
	if ((buf = kb_buf_from(payload, len)) == NULL)
		return KB_ERR_ALLOC_FAIL;

	if ((r = kb_buf_get_u8(buf, &type)) != 0)
		goto out;
	if (type != SSH_MSG_KEXINIT) {
		r = KB_ERR_UNEXPECTED_MESSAGE;
		goto out;
	}
	if ((r = kb_buf_get_bytes(buf, kexinit->cookie, sizeof(kexinit->cookie))) != 0)
		goto out;
	for (i = 0; i < KB_CAT_COUNT; i++) {
		if ((r = kexinit_get_namelist(buf, &kexinit->lists[i])) != 0)
			goto out;
	}
	/* RFC 4251 section 5: any non-zero boolean byte means TRUE. */
	if ((r = kb_buf_get_u8(buf, &follows)) != 0 ||
	    (r = kb_buf_get_u32(buf, &kexinit->reserved)) != 0 ||
	    (r = kb_buf_expect_end(buf)) != 0)
		goto out;
	kexinit->first_kex_follows = follows != 0;
	r = KB_OK;
 out:
	kb_buf_free(buf);
	if (r != 0)
		kb_kexinit_free(kexinit);
	return r;
}

int
kb_kexinit_write(const struct kb_kexinit *kexinit, struct kb_buf *out)
{
	const struct kb_namelist *list;
	int i, r;

	if (kexinit == NULL || out == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = kb_buf_put_u8(out, SSH_MSG_KEXINIT)) != 0 ||
	    (r = kb_buf_put(out, kexinit->cookie, sizeof(kexinit->cookie))) != 0)
		return r;
	for (i = 0; i < KB_CAT_COUNT; i++) {
		list = &kexinit->lists[i];
		if ((r = kb_buf_put_string(out, list->raw == NULL ? "" : list->raw,
		    list->raw_len)) != 0)
			return r;
	}
	if ((r = kb_buf_put_u8(out, kexinit->first_kex_follows ? 1 : 0)) != 0 ||
	    (r = kb_buf_put_u32(out, kexinit->reserved)) != 0)
		return r;
	return KB_OK;
}

int
kb_kexinit_set_list(struct kb_kexinit *kexinit, enum kb_category cat, const char *str)
{
	struct kb_namelist list;
	int r;

	if (kexinit == NULL || (int)cat < 0 || cat >= KB_CAT_COUNT)
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = kb_namelist_from_str(&list, str == NULL ? "" : str)) != 0)
		return r;
	kb_namelist_free(&kexinit->lists[cat]);
	kexinit->lists[cat] = list;
	return KB_OK;
}

int
kb_kexinit_copy(struct kb_kexinit *dst, const struct kb_kexinit *src)
{
	int i, r;

	if (dst == NULL || src == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	memset(dst, 0, sizeof(*dst));
	memcpy(dst->cookie, src->cookie, sizeof(dst->cookie));
	dst->first_kex_follows = src->first_kex_follows;
	dst->reserved = src->reserved;
	dst->unrestricted = src->unrestricted;
	for (i = 0; i < KB_CAT_COUNT; i++) {
		if ((r = kb_namelist_copy(&dst->lists[i], &src->lists[i])) != 0) {
			kb_kexinit_free(dst);
			return r;
		}
	}
	return KB_OK;
}

void
kb_kexinit_free(struct kb_kexinit *kexinit)
{
	int i;

	if (kexinit == NULL)
		return;
	for (i = 0; i < KB_CAT_COUNT; i++)
		kb_namelist_free(&kexinit->lists[i]);
	memset(kexinit, 0, sizeof(*kexinit));
}

unsigned int
kb_kexinit_flags(const struct kb_kexinit *kexinit)
{
	unsigned int flags = 0;
	int i;

	if (kexinit == NULL)
		return 0;
	for (i = 0; i < KB_CAT_COUNT; i++)
		flags |= kexinit->lists[i].flags;
	return flags;
}
