/*
 * SSH protocol version exchange (RFC 4253 section 4.2).
 *
 * The reader is incremental: feed it bytes as they arrive and it returns
 * KB_ERR_INCOMPLETE until the identification line is complete. It never
 * stores more than one line, so a peer that sends a megabyte without a line
 * feed fails with KB_ERR_VERSION_TOO_LONG after KB_VERSION_MAX bytes.
 */
#ifndef KEXBRIDGE_VERSION_H
#define KEXBRIDGE_VERSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Maximum identification line, CR LF included (RFC 4253 section 4.2). */
#define KB_VERSION_MAX			255
/*
 * Lines a server may send before its identification line, and their maximum
 * length; OpenSSH 9.x accepts 1024 lines of up to 8192 bytes.
 */
#define KB_PREBANNER_MAX_LINES		1024
#define KB_PREBANNER_LINE_MAX		8192

/* Who sent the bytes being parsed. */
enum kb_role {
	KB_ROLE_CLIENT,
	KB_ROLE_SERVER,
};

struct kb_version {
	/* The identification line without CR LF, NUL-terminated. */
	char line[KB_VERSION_MAX + 1];
	/* 2.0, or 1.99 for a server that also speaks SSH-1 (RFC 4253 section 5.1). */
	int proto_major;
	int proto_minor;
	/* softwareversion and comments, split at the first space. */
	char software[KB_VERSION_MAX + 1];
	char comments[KB_VERSION_MAX + 1];
	/* Line ended with a bare LF, which OpenSSH tolerates. */
	bool bare_lf;
	/* Lines the server sent before its identification line. */
	unsigned int prebanner_lines;
};

struct kb_version_reader {
	enum kb_role sender;
	char line[KB_PREBANNER_LINE_MAX + 1];
	size_t line_len;
	unsigned int prebanner_lines;
	/* Bytes consumed so far, including the finished line. */
	uint64_t offset;
	bool done;
};

void kb_version_reader_init(struct kb_version_reader *reader, enum kb_role sender);

/*
 * Consumes bytes up to and including the identification line's LF.
 * *consumed is set to the number of bytes taken from data, which is less than
 * len only once the line is complete. Returns KB_OK with *out filled when the
 * line is complete, KB_ERR_INCOMPLETE when more bytes are needed, or
 * KB_ERR_NOT_SSH, KB_ERR_VERSION_TOO_LONG, KB_ERR_VERSION_INVALID,
 * KB_ERR_PROTOCOL_1, KB_ERR_PREBANNER_FROM_CLIENT,
 * KB_ERR_TOO_MANY_PREBANNER_LINES or KB_ERR_PREBANNER_LINE_TOO_LONG.
 */
int kb_version_reader_feed(struct kb_version_reader *reader, const uint8_t *data,
    size_t len, size_t *consumed, struct kb_version *out);

/*
 * Parses one identification line given without its CR LF (or LF); len must be
 * at most KB_VERSION_MAX - 2.
 */
int kb_version_parse_line(const char *line, size_t len, struct kb_version *out);

/* Our identification line, "SSH-2.0-kexbridge_<version>" followed by CR LF. */
const char *kb_version_ours(void);

#endif
