/*
 * Bounds-checked buffer for SSH wire encoding (RFC 4251 section 5).
 *
 * Unread bytes live in d[off .. off + size). Appends grow the allocation up
 * to max_size, and reads advance off. Before an append grows the allocation,
 * or once off passes BUF_COMPACT_MIN, the unread bytes are moved back to the
 * front, so a buffer that is filled and drained in turn stays small.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kexbridge/buf.h"
#include "kexbridge/err.h"

#define BUF_GROW_STEP	256
/* An append compacts once this much has been read from the front. */
#define BUF_COMPACT_MIN	4096

struct kb_buf {
	uint8_t *d;		/* storage; owned unless readonly */
	const uint8_t *cd;	/* storage seen through a const pointer */
	size_t off;		/* first unread byte */
	size_t size;		/* unread bytes */
	size_t alloc;		/* bytes allocated at d */
	size_t max_size;
	int readonly;
};

struct kb_buf *
kb_buf_new(size_t max_size)
{
	struct kb_buf *buf;

	if (max_size == 0 || max_size > KB_BUF_SIZE_MAX)
		return NULL;
	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		return NULL;
	buf->max_size = max_size;
	return buf;
}

struct kb_buf *
kb_buf_from(const void *data, size_t len)
{
	struct kb_buf *buf;

	if ((data == NULL && len != 0) || len > KB_BUF_SIZE_MAX)
		return NULL;
	if ((buf = calloc(1, sizeof(*buf))) == NULL)
		return NULL;
	buf->cd = data;
	buf->size = len;
	buf->alloc = len;
	buf->max_size = len;
	buf->readonly = 1;
	return buf;
}

void
kb_buf_free(struct kb_buf *buf)
{
	if (buf == NULL)
		return;
	if (!buf->readonly && buf->d != NULL) {
		OPENSSL_cleanse(buf->d, buf->alloc);
		free(buf->d);
	}
	OPENSSL_cleanse(buf, sizeof(*buf));
	free(buf);
}

size_t
kb_buf_len(const struct kb_buf *buf)
{
	return buf == NULL ? 0 : buf->size;
}

const uint8_t *
kb_buf_ptr(const struct kb_buf *buf)
{
	if (buf == NULL)
		return NULL;
	if (buf->readonly)
		return buf->cd == NULL ? NULL : buf->cd + buf->off;
	return buf->d == NULL ? NULL : buf->d + buf->off;
}

void
kb_buf_reset(struct kb_buf *buf)
{
	if (buf == NULL)
		return;
	if (buf->readonly) {
		buf->off += buf->size;
		buf->size = 0;
		return;
	}
	/*
	 * Bytes past off + size were never written or were wiped already
	 * (calloc, compaction and reset keep them zero), so only the bytes up
	 * to there can hold data. Wiping the whole allocation on every packet
	 * cost a quarter of the bridge's CPU time.
	 */
	if (buf->d != NULL)
		OPENSSL_cleanse(buf->d, buf->off + buf->size);
	buf->off = 0;
	buf->size = 0;
}

/*
 * Moves the unread bytes to the front. Only writes call this, so a pointer
 * returned by a getter stays valid until the next write.
 */
static void
buf_compact(struct kb_buf *buf)
{
	if (buf->off == 0)
		return;
	memmove(buf->d, buf->d + buf->off, buf->size);
	/* The old copy ended at off + size; past that the bytes are zero. */
	OPENSSL_cleanse(buf->d + buf->size, buf->off);
	buf->off = 0;
}

int
kb_buf_consume(struct kb_buf *buf, size_t len)
{
	if (buf == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (len > buf->size)
		return KB_ERR_MESSAGE_TRUNCATED;
	buf->off += len;
	buf->size -= len;
	return KB_OK;
}

int
kb_buf_expect_end(const struct kb_buf *buf)
{
	if (buf == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	return buf->size == 0 ? KB_OK : KB_ERR_TRAILING_DATA;
}

int
kb_buf_get_bytes(struct kb_buf *buf, void *out, size_t len)
{
	if (buf == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (len > buf->size)
		return KB_ERR_MESSAGE_TRUNCATED;
	if (out != NULL && len != 0)
		memcpy(out, kb_buf_ptr(buf), len);
	return kb_buf_consume(buf, len);
}

int
kb_buf_get_u8(struct kb_buf *buf, uint8_t *valp)
{
	return kb_buf_get_bytes(buf, valp, 1);
}

int
kb_buf_get_u32(struct kb_buf *buf, uint32_t *valp)
{
	uint8_t b[4];
	int r;

	if ((r = kb_buf_get_bytes(buf, b, sizeof(b))) != 0)
		return r;
	if (valp != NULL)
		*valp = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		    (uint32_t)b[2] << 8 | (uint32_t)b[3];
	return KB_OK;
}

/* Checks a string's length field without consuming anything. */
static int
buf_peek_string(const struct kb_buf *buf, const uint8_t **valp, size_t *lenp)
{
	const uint8_t *p;
	uint32_t len;

	if (buf == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (buf->size < 4)
		return KB_ERR_MESSAGE_TRUNCATED;
	p = kb_buf_ptr(buf);
	len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	if (len > KB_BUF_SIZE_MAX - 4)
		return KB_ERR_STRING_TOO_LARGE;
	if (len > buf->size - 4)
		return KB_ERR_MESSAGE_TRUNCATED;
	*valp = p + 4;
	*lenp = len;
	return KB_OK;
}

int
kb_buf_get_string_direct(struct kb_buf *buf, const uint8_t **valp, size_t *lenp)
{
	const uint8_t *val;
	size_t len;
	int r;

	if ((r = buf_peek_string(buf, &val, &len)) != 0)
		return r;
	if (valp != NULL)
		*valp = val;
	if (lenp != NULL)
		*lenp = len;
	return kb_buf_consume(buf, len + 4);
}

int
kb_buf_get_string(struct kb_buf *buf, uint8_t **valp, size_t *lenp)
{
	const uint8_t *val;
	uint8_t *copy;
	size_t len;
	int r;

	if (valp != NULL)
		*valp = NULL;
	if ((r = buf_peek_string(buf, &val, &len)) != 0)
		return r;
	if (valp != NULL) {
		if ((copy = malloc(len + 1)) == NULL)
			return KB_ERR_ALLOC_FAIL;
		if (len != 0)
			memcpy(copy, val, len);
		copy[len] = '\0';
		*valp = copy;
	}
	if (lenp != NULL)
		*lenp = len;
	return kb_buf_consume(buf, len + 4);
}

int
kb_buf_get_cstring(struct kb_buf *buf, char **valp, size_t *lenp)
{
	const uint8_t *val;
	size_t len;
	int r;

	if (valp != NULL)
		*valp = NULL;
	if ((r = buf_peek_string(buf, &val, &len)) != 0)
		return r;
	if (len != 0 && memchr(val, '\0', len) != NULL)
		return KB_ERR_STRING_HAS_NUL;
	return kb_buf_get_string(buf, (uint8_t **)valp, lenp);
}

int
kb_buf_get_mpint_direct(struct kb_buf *buf, const uint8_t **valp, size_t *lenp)
{
	const uint8_t *val;
	size_t len;
	int r;

	if ((r = buf_peek_string(buf, &val, &len)) != 0)
		return r;

	/* RFC 4251 section 5: no negative values, no needless leading zero. */
	if (len != 0 && (val[0] & 0x80) != 0)
		return KB_ERR_MPINT_INVALID;
	if (len > 1 && val[0] == 0 && (val[1] & 0x80) == 0)
		return KB_ERR_MPINT_INVALID;
	if (len == 1 && val[0] == 0)
		return KB_ERR_MPINT_INVALID;
	if ((r = kb_buf_consume(buf, len + 4)) != 0)
		return r;
	if (len != 0 && val[0] == 0) {
		val++;
		len--;
	}
	if (valp != NULL)
		*valp = val;
	if (lenp != NULL)
		*lenp = len;
	return KB_OK;
}

int
kb_buf_reserve(struct kb_buf *buf, size_t len, uint8_t **datap)
{
	size_t need, nalloc;
	uint8_t *nd;

	if (datap != NULL)
		*datap = NULL;
	if (buf == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (buf->readonly)
		return KB_ERR_BUFFER_READ_ONLY;
	if (len > buf->max_size || buf->size > buf->max_size - len)
		return KB_ERR_BUFFER_LIMIT;

	/* Reuse the space already read before growing. */
	if (buf->off + buf->size + len > buf->alloc || buf->off >= BUF_COMPACT_MIN)
		buf_compact(buf);
	need = buf->size + len;
	if (need > buf->alloc) {
		nalloc = (need + BUF_GROW_STEP - 1) / BUF_GROW_STEP * BUF_GROW_STEP;
		if (nalloc > buf->max_size)
			nalloc = buf->max_size;
		/* Copy rather than realloc so the old bytes can be wiped. */
		if ((nd = calloc(1, nalloc)) == NULL)
			return KB_ERR_ALLOC_FAIL;
		if (buf->d != NULL) {
			memcpy(nd, buf->d, buf->size);
			OPENSSL_cleanse(buf->d, buf->alloc);
			free(buf->d);
		}
		buf->d = nd;
		buf->alloc = nalloc;
	}
	if (datap != NULL)
		*datap = buf->d + buf->off + buf->size;
	buf->size += len;
	return KB_OK;
}

int
kb_buf_put(struct kb_buf *buf, const void *data, size_t len)
{
	uint8_t *p;
	int r;

	if (data == NULL && len != 0)
		return KB_ERR_INVALID_ARGUMENT;
	if ((r = kb_buf_reserve(buf, len, &p)) != 0)
		return r;
	if (len != 0)
		memcpy(p, data, len);
	return KB_OK;
}

int
kb_buf_put_u8(struct kb_buf *buf, uint8_t val)
{
	return kb_buf_put(buf, &val, 1);
}

static void
buf_store_u32(uint8_t *p, uint32_t val)
{
	p[0] = (uint8_t)(val >> 24);
	p[1] = (uint8_t)(val >> 16);
	p[2] = (uint8_t)(val >> 8);
	p[3] = (uint8_t)val;
}

int
kb_buf_put_u32(struct kb_buf *buf, uint32_t val)
{
	uint8_t b[4];

	buf_store_u32(b, val);
	return kb_buf_put(buf, b, sizeof(b));
}

int
kb_buf_put_string(struct kb_buf *buf, const void *data, size_t len)
{
	uint8_t *p;
	int r;

	if (data == NULL && len != 0)
		return KB_ERR_INVALID_ARGUMENT;
	if (len > KB_BUF_SIZE_MAX - 4)
		return KB_ERR_STRING_TOO_LARGE;
	if ((r = kb_buf_reserve(buf, len + 4, &p)) != 0)
		return r;
	buf_store_u32(p, (uint32_t)len);
	if (len != 0)
		memcpy(p + 4, data, len);
	return KB_OK;
}

int
kb_buf_put_cstring(struct kb_buf *buf, const char *str)
{
	if (str == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	return kb_buf_put_string(buf, str, strlen(str));
}

int
kb_buf_put_mpint(struct kb_buf *buf, const uint8_t *mag, size_t len)
{
	uint8_t *p;
	size_t prefix;
	int r;

	if (mag == NULL && len != 0)
		return KB_ERR_INVALID_ARGUMENT;
	/* Leading zero bytes are dropped, so zero becomes the empty string. */
	while (len > 0 && mag[0] == 0) {
		mag++;
		len--;
	}
	if (len > KB_BUF_SIZE_MAX - 5)
		return KB_ERR_STRING_TOO_LARGE;
	/* A set high bit needs a zero byte in front to stay positive. */
	prefix = (len > 0 && (mag[0] & 0x80) != 0) ? 1 : 0;
	if ((r = kb_buf_reserve(buf, 4 + prefix + len, &p)) != 0)
		return r;
	buf_store_u32(p, (uint32_t)(prefix + len));
	if (prefix)
		p[4] = 0;
	if (len != 0)
		memcpy(p + 4 + prefix, mag, len);
	return KB_OK;
}

int
kb_buf_poke_u32(struct kb_buf *buf, size_t offset, uint32_t val)
{
	if (buf == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	if (buf->readonly)
		return KB_ERR_BUFFER_READ_ONLY;
	if (offset > buf->size || buf->size - offset < 4)
		return KB_ERR_MESSAGE_TRUNCATED;
	buf_store_u32(buf->d + buf->off + offset, val);
	return KB_OK;
}
