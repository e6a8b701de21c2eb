/*
 * Protocol version exchange (RFC 4253 section 4.2).
 *
 * Each side sends "SSH-protoversion-softwareversion SP comments CR LF", at
 * most 255 bytes. A server may send other lines first, which must not start
 * with "SSH-"; a client may not. The reader is byte-driven, so it rejects a
 * peer as soon as the bytes seen so far settle the matter, without waiting
 * for a line feed that may never come.
 */
#include "config.h"

#include <string.h>

#include "kexbridge/err.h"
#include "kexbridge/version.h"

#define VERSION_PREFIX		"SSH-"
#define VERSION_PREFIX_LEN	4
/* Maximum length of an identification line without its CR LF. */
#define VERSION_TEXT_MAX	(KB_VERSION_MAX - 2)

void
kb_version_reader_init(struct kb_version_reader *reader, enum kb_role sender)
{
	memset(reader, 0, sizeof(*reader));
	reader->sender = sender;
}

/* True while the bytes of the current line can still begin "SSH-". */
static int
version_line_is_ident(const struct kb_version_reader *reader)
{
	size_t n = reader->line_len < VERSION_PREFIX_LEN ?
	    reader->line_len : VERSION_PREFIX_LEN;

	return memcmp(reader->line, VERSION_PREFIX, n) == 0;
}

/* Checks one byte of the current line, before the line feed. */
static int
version_reader_add_byte(struct kb_version_reader *reader, uint8_t c)
{
	int ident;

	if (reader->line_len < KB_VERSION_MAX)
		reader->line[reader->line_len] = (char)c;
	reader->line_len++;
	ident = version_line_is_ident(reader);

	/* A client's first line must be its identification line. */
	if (!ident && reader->sender == KB_ROLE_CLIENT)
		return KB_ERR_NOT_SSH;
	if (ident) {
		/* Room for a CR still counts, but not for text past 253 bytes. */
		if (reader->line_len > VERSION_TEXT_MAX + 1)
			return KB_ERR_VERSION_TOO_LONG;
		return KB_OK;
	}

	/*
	 * Text lines before the banner may carry any printable byte, UTF-8
	 * included, but NUL and other controls mean TLS or another binary
	 * protocol is talking.
	 */
	if (c < 0x20 && c != '\t' && c != '\r')
		return KB_ERR_NOT_SSH;
	if (reader->line_len > KB_PREBANNER_LINE_MAX)
		return KB_ERR_PREBANNER_LINE_TOO_LONG;
	return KB_OK;
}

/* Handles a complete line. KB_ERR_INCOMPLETE means it was a pre-banner line. */
static int
version_reader_end_line(struct kb_version_reader *reader, struct kb_version *out)
{
	size_t len = reader->line_len;
	bool bare_lf = true;
	int r;

	if (reader->line_len < VERSION_PREFIX_LEN || !version_line_is_ident(reader)) {
		if (reader->sender == KB_ROLE_CLIENT)
			return KB_ERR_NOT_SSH;
		reader->line_len = 0;
		if (++reader->prebanner_lines > KB_PREBANNER_MAX_LINES)
			return KB_ERR_TOO_MANY_PREBANNER_LINES;
		return KB_ERR_INCOMPLETE;
	}

	if (len > 0 && reader->line[len - 1] == '\r') {
		len--;
		bare_lf = false;
	}
	if (len > VERSION_TEXT_MAX)
		return KB_ERR_VERSION_TOO_LONG;
	if ((r = kb_version_parse_line(reader->line, len, out)) != 0)
		return r;
	out->bare_lf = bare_lf;
	out->prebanner_lines = reader->prebanner_lines;
	reader->done = true;
	return KB_OK;
}

int
kb_version_reader_feed(struct kb_version_reader *reader, const uint8_t *data,
    size_t len, size_t *consumed, struct kb_version *out)
{
	size_t i;
	int r;

	*consumed = 0;
	if (reader->done || (data == NULL && len != 0))
		return KB_ERR_INVALID_ARGUMENT;

	for (i = 0; i < len; i++) {
		if (data[i] == '\n')
			r = version_reader_end_line(reader, out);
		else
			r = version_reader_add_byte(reader, data[i]);
		if (r == KB_ERR_INCOMPLETE)
			continue;
		if (r != KB_OK || reader->done) {
			*consumed = i + 1;
			reader->offset += i + 1;
			return r;
		}
	}
	*consumed = len;
	reader->offset += len;
	return KB_ERR_INCOMPLETE;
}

/* Parses protoversion. "1.99" is a server that also speaks SSH-1 (RFC 4253 section 5.1). */
static int
version_parse_proto(const char *proto, size_t len, struct kb_version *out)
{
	if (len == 3 && memcmp(proto, "2.0", 3) == 0) {
		out->proto_major = 2;
		out->proto_minor = 0;
		return KB_OK;
	}
	if (len == 4 && memcmp(proto, "1.99", 4) == 0) {
		out->proto_major = 1;
		out->proto_minor = 99;
		return KB_OK;
	}
	if (len > 2 && memcmp(proto, "1.", 2) == 0)
		return KB_ERR_PROTOCOL_1;
	return KB_ERR_VERSION_INVALID;
}

/*
 * RFC 4253 asks for printable US-ASCII without whitespace or '-' in the
 * softwareversion, but real servers break it ("SSH-2.0-Cisco-1.25"), and
 * OpenSSH accepts anything there except a NUL or an empty string. We do the
 * same, and the caller escapes the fields before showing them.
 */
int
kb_version_parse_line(const char *line, size_t len, struct kb_version *out)
{
	const char *proto, *dash, *space, *end;
	size_t soft_len;
	int r;

	if (line == NULL || out == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	memset(out, 0, sizeof(*out));
	if (len > VERSION_TEXT_MAX)
		return KB_ERR_VERSION_TOO_LONG;
	if (len < VERSION_PREFIX_LEN || memcmp(line, VERSION_PREFIX, VERSION_PREFIX_LEN) != 0)
		return KB_ERR_NOT_SSH;
	if (memchr(line, '\0', len) != NULL)
		return KB_ERR_VERSION_INVALID;

	end = line + len;
	proto = line + VERSION_PREFIX_LEN;
	if ((dash = memchr(proto, '-', (size_t)(end - proto))) == NULL)
		return KB_ERR_VERSION_INVALID;
	if ((r = version_parse_proto(proto, (size_t)(dash - proto), out)) != 0)
		return r;

	space = memchr(dash + 1, ' ', (size_t)(end - dash - 1));
	soft_len = (size_t)((space == NULL ? end : space) - (dash + 1));
	if (soft_len == 0)
		return KB_ERR_VERSION_INVALID;

	memcpy(out->line, line, len);
	memcpy(out->software, dash + 1, soft_len);
	if (space != NULL)
		memcpy(out->comments, space + 1, (size_t)(end - space - 1));
	return KB_OK;
}

const char *
kb_version_ours(void)
{
	return "SSH-2.0-kexbridge_" PACKAGE_VERSION "\r\n";
}
