/*
 * A bounds-checked buffer for SSH wire encoding (RFC 4251 section 5).
 *
 * The type is opaque. Every buffer has a maximum size; appends past it fail
 * with KB_ERR_BUFFER_LIMIT instead of growing. Getters consume from the front
 * and check the length first, so a short message fails with
 * KB_ERR_MESSAGE_TRUNCATED and leaves the buffer as it was. A view made with
 * kb_buf_from() is read-only and points into memory owned by the caller.
 */
#ifndef KEXBRIDGE_BUF_H
#define KEXBRIDGE_BUF_H

#include <stddef.h>
#include <stdint.h>

/* Default maximum size of a buffer: large enough for any packet we accept. */
#define KB_BUF_SIZE_DEFAULT	(256 * 1024)
/* Hard upper bound for any buffer. */
#define KB_BUF_SIZE_MAX		(16 * 1024 * 1024)

struct kb_buf;

/* Allocates an empty buffer that may grow to max_size bytes (at most KB_BUF_SIZE_MAX). */
struct kb_buf *kb_buf_new(size_t max_size);
/* Makes a read-only view of len bytes at data; data must outlive the view. */
struct kb_buf *kb_buf_from(const void *data, size_t len);
/* Wipes (OPENSSL_cleanse) and frees the buffer; NULL is accepted. */
void kb_buf_free(struct kb_buf *buf);

/* Number of unread bytes. */
size_t kb_buf_len(const struct kb_buf *buf);
/* Pointer to the first unread byte. */
const uint8_t *kb_buf_ptr(const struct kb_buf *buf);
/* Drops all contents and wipes them; the buffer becomes empty. */
void kb_buf_reset(struct kb_buf *buf);
/* Discards len bytes from the front. */
int kb_buf_consume(struct kb_buf *buf, size_t len);
/* Fails with KB_ERR_TRAILING_DATA unless every byte has been read. */
int kb_buf_expect_end(const struct kb_buf *buf);

/* Getters: each consumes only on success; out pointers may be NULL to skip. */
int kb_buf_get_u8(struct kb_buf *buf, uint8_t *valp);
int kb_buf_get_u32(struct kb_buf *buf, uint32_t *valp);
int kb_buf_get_bytes(struct kb_buf *buf, void *out, size_t len);
/* Points *valp into the buffer at a string's body; no copy, no NUL added. */
int kb_buf_get_string_direct(struct kb_buf *buf, const uint8_t **valp, size_t *lenp);
/* Copies a string into a new NUL-terminated allocation; embedded NULs allowed. */
int kb_buf_get_string(struct kb_buf *buf, uint8_t **valp, size_t *lenp);
/* As kb_buf_get_string, but fails with KB_ERR_STRING_HAS_NUL on an embedded NUL. */
int kb_buf_get_cstring(struct kb_buf *buf, char **valp, size_t *lenp);
/*
 * Reads an mpint (RFC 4251 section 5) and returns its magnitude without the
 * sign byte; negative values and non-minimal encodings fail with
 * KB_ERR_MPINT_INVALID.
 */
int kb_buf_get_mpint_direct(struct kb_buf *buf, const uint8_t **valp, size_t *lenp);

/* Appenders. */
int kb_buf_put_u8(struct kb_buf *buf, uint8_t val);
int kb_buf_put_u32(struct kb_buf *buf, uint32_t val);
int kb_buf_put(struct kb_buf *buf, const void *data, size_t len);
int kb_buf_put_string(struct kb_buf *buf, const void *data, size_t len);
int kb_buf_put_cstring(struct kb_buf *buf, const char *str);
/* Writes an unsigned big-endian magnitude as a positive mpint. */
int kb_buf_put_mpint(struct kb_buf *buf, const uint8_t *mag, size_t len);
/*
 * Reserves len bytes at the end and points *datap at them; the bytes count as
 * written. Overflow-safe.
 */
int kb_buf_reserve(struct kb_buf *buf, size_t len, uint8_t **datap);

/* Poke a u32 at offset (from the first unread byte); used to patch lengths. */
int kb_buf_poke_u32(struct kb_buf *buf, size_t offset, uint32_t val);

#endif
