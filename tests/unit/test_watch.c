/*
 * The scp and SFTP watchers: streams as OpenSSH's scp, sftp and sftp-server
 * write them, fed whole, byte by byte and split at every offset, plus
 * errors, limits and streams that are not the protocol.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kexbridge/err.h"
#include "kexbridge/watch.h"

/* One piece of a session: which side sent it, and the bytes. */
struct step {
	bool from_client;
	const uint8_t *data;
	size_t len;
};

#define STEPS_MAX	32

struct script {
	struct step step[STEPS_MAX];
	size_t count;
	/* Storage for built messages. */
	uint8_t storage[16384];
	size_t used;
};

static void
script_add(struct script *s, bool from_client, const void *data, size_t len)
{
	assert_true(s->count < STEPS_MAX);
	assert_true(s->used + len <= sizeof(s->storage));
	memcpy(s->storage + s->used, data, len);
	s->step[s->count].from_client = from_client;
	s->step[s->count].data = s->storage + s->used;
	s->step[s->count].len = len;
	s->used += len;
	s->count++;
}

static size_t
script_longest(const struct script *s)
{
	size_t i, max = 0;

	for (i = 0; i < s->count; i++) {
		if (s->step[i].len > max)
			max = s->step[i].len;
	}
	return max;
}

typedef int (*feed_fn)(void *w, bool from_client, const uint8_t *data, size_t len);

static int
feed_scp(void *w, bool from_client, const uint8_t *data, size_t len)
{
	return kb_scpwatch_feed(w, from_client, data, len);
}

static int
feed_sftp(void *w, bool from_client, const uint8_t *data, size_t len)
{
	return kb_sftpwatch_feed(w, from_client, data, len);
}

/*
 * Feeds every step in two pieces cut at split (SIZE_MAX: whole; 0: byte by
 * byte) and checks that no piece is rejected.
 */
static void
script_run(const struct script *s, void *w, feed_fn feed, size_t split)
{
	const struct step *st;
	size_t i, j, cut;

	for (i = 0; i < s->count; i++) {
		st = &s->step[i];
		if (split == 0) {
			for (j = 0; j < st->len; j++)
				assert_int_equal(feed(w, st->from_client, st->data + j, 1), 0);
			continue;
		}
		cut = split < st->len ? split : st->len;
		assert_int_equal(feed(w, st->from_client, st->data, cut), 0);
		assert_int_equal(feed(w, st->from_client, st->data + cut, st->len - cut), 0);
	}
}

/* ------------------------------------------------------------------ */
/* scp                                                                 */
/* ------------------------------------------------------------------ */

/* "scp -r -p dir host:" as the source writes it, with the sink's acks. */
static void
scp_build_upload(struct script *s)
{
	static const char ack = 0;

	memset(s, 0, sizeof(*s));
	script_add(s, false, &ack, 1);
	script_add(s, true, "T1700000000 0 1700000001 0\n", 27);
	script_add(s, false, &ack, 1);
	script_add(s, true, "D0755 0 backup\n", 15);
	script_add(s, false, &ack, 1);
	script_add(s, true, "C0644 11 config.xml\n", 20);
	script_add(s, false, &ack, 1);
	script_add(s, true, "hello world\0", 12);
	script_add(s, false, &ack, 1);
	script_add(s, true, "D0700 0 sub\nC0600 0 empty\n\0E\n", 29);
	script_add(s, false, "\0\0\0", 3);
	script_add(s, true, "C0600 5 a.bin\nab\ncd\0E\n", 22);
	script_add(s, false, "\0\0\0", 3);
}

static void
scp_check_upload(const struct kb_scpwatch *w)
{
	const struct kb_watch_list *l = kb_scpwatch_files(w);

	assert_int_equal(l->count, 3);
	assert_int_equal(l->files_total, 3);
	assert_string_equal(l->file[0].name, "backup/config.xml");
	assert_int_equal(l->file[0].dir, KB_WATCH_UPLOAD);
	assert_int_equal(l->file[0].size, 11);
	assert_int_equal(l->file[0].bytes, 11);
	assert_true(l->file[0].complete);
	assert_string_equal(l->file[1].name, "backup/sub/empty");
	assert_int_equal(l->file[1].size, 0);
	assert_true(l->file[1].complete);
	assert_string_equal(l->file[2].name, "backup/a.bin");
	assert_int_equal(l->file[2].bytes, 5);
	assert_true(l->file[2].complete);
	assert_int_equal(l->bytes_up, 16);
	assert_int_equal(l->bytes_down, 0);
	assert_null(kb_scpwatch_error(w));
}

static void
scpwatch_lists_upload_whole(void **state)
{
	struct script s;
	struct kb_scpwatch *w = kb_scpwatch_new(KB_WATCH_UPLOAD);

	(void)state;
	assert_non_null(w);
	scp_build_upload(&s);
	script_run(&s, w, feed_scp, SIZE_MAX);
	scp_check_upload(w);
	kb_scpwatch_free(w);
}

static void
scpwatch_lists_upload_split_anywhere(void **state)
{
	struct script s;
	struct kb_scpwatch *w;
	size_t split;

	(void)state;
	scp_build_upload(&s);
	for (split = 0; split <= script_longest(&s); split++) {
		w = kb_scpwatch_new(KB_WATCH_UPLOAD);
		assert_non_null(w);
		script_run(&s, w, feed_scp, split);
		scp_check_upload(w);
		kb_scpwatch_free(w);
	}
}

static void
scpwatch_lists_download(void **state)
{
	struct kb_scpwatch *w = kb_scpwatch_new(KB_WATCH_DOWNLOAD);
	const struct kb_watch_list *l;
	static const uint8_t from_server[] = "C0640 4 dump.tgz\nABCD";

	(void)state;
	assert_non_null(w);
	assert_int_equal(kb_scpwatch_feed(w, true, (const uint8_t *)"\0", 1), 0);
	/* Byte by byte, including the final 0 after the data. */
	for (size_t i = 0; i < sizeof(from_server); i++)
		assert_int_equal(kb_scpwatch_feed(w, false, from_server + i, 1), 0);
	assert_int_equal(kb_scpwatch_feed(w, true, (const uint8_t *)"\0\0", 2), 0);

	l = kb_scpwatch_files(w);
	assert_int_equal(l->count, 1);
	assert_string_equal(l->file[0].name, "dump.tgz");
	assert_int_equal(l->file[0].dir, KB_WATCH_DOWNLOAD);
	assert_int_equal(l->file[0].bytes, 4);
	assert_true(l->file[0].complete);
	assert_int_equal(l->bytes_down, 4);
	assert_int_equal(l->bytes_up, 0);
	kb_scpwatch_free(w);
}

static void
scpwatch_records_sink_error(void **state)
{
	static const char err[] = "\001scp: /backup/x: Permission denied\n";
	struct kb_scpwatch *w = kb_scpwatch_new(KB_WATCH_UPLOAD);
	const struct kb_watch_list *l;

	(void)state;
	assert_non_null(w);
	assert_int_equal(kb_scpwatch_feed(w, false, (const uint8_t *)"\0", 1), 0);
	assert_int_equal(kb_scpwatch_feed(w, true, (const uint8_t *)"C0644 3 x\n", 10), 0);
	assert_int_equal(kb_scpwatch_feed(w, false, (const uint8_t *)err, sizeof(err) - 1), 0);
	assert_string_equal(kb_scpwatch_error(w), "scp: /backup/x: Permission denied");
	l = kb_scpwatch_files(w);
	assert_int_equal(l->count, 1);
	assert_false(l->file[0].complete);
	kb_scpwatch_free(w);
}

static void
scpwatch_marks_file_incomplete_on_read_error(void **state)
{
	static const char stream[] = "C0644 2 y\nzz\001scp: read error\n";
	struct kb_scpwatch *w = kb_scpwatch_new(KB_WATCH_UPLOAD);

	(void)state;
	assert_non_null(w);
	assert_int_equal(kb_scpwatch_feed(w, true, (const uint8_t *)stream, sizeof(stream) - 1), 0);
	assert_false(kb_scpwatch_files(w)->file[0].complete);
	assert_int_equal(kb_scpwatch_files(w)->file[0].bytes, 2);
	assert_string_equal(kb_scpwatch_error(w), "scp: read error");
	kb_scpwatch_free(w);
}

static void
scpwatch_rejects_non_scp_stream(void **state)
{
	static const char *const bad[] = {
		"SSH-2.0-OpenSSH_9.6\r\n",	/* not a control line */
		"C644 3 x\n",			/* mode not four digits */
		"C0644 -3 x\n",			/* negative size */
		"C0644 3\n",			/* no name */
		"C0644 99999999999999999999999 x\n",	/* size overflows */
		"\n",				/* empty line */
	};
	struct kb_scpwatch *w;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		w = kb_scpwatch_new(KB_WATCH_UPLOAD);
		assert_non_null(w);
		assert_int_equal(kb_scpwatch_feed(w, true, (const uint8_t *)bad[i], strlen(bad[i])),
		    KB_ERR_INVALID_ARGUMENT);
		/* Once broken, it stays broken. */
		assert_int_equal(kb_scpwatch_feed(w, true, (const uint8_t *)"E\n", 2),
		    KB_ERR_INVALID_ARGUMENT);
		kb_scpwatch_free(w);
	}
}

static void
scpwatch_rejects_overlong_line(void **state)
{
	struct kb_scpwatch *w = kb_scpwatch_new(KB_WATCH_UPLOAD);
	uint8_t line[4096];
	int r = 0;
	size_t i;

	(void)state;
	assert_non_null(w);
	memset(line, 'x', sizeof(line));
	line[0] = 'C';
	for (i = 0; i < sizeof(line) && r == 0; i += 100)
		r = kb_scpwatch_feed(w, true, line + i, sizeof(line) - i < 100 ? sizeof(line) - i : 100);
	assert_int_equal(r, KB_ERR_INVALID_ARGUMENT);
	kb_scpwatch_free(w);
}

static void
scpwatch_caps_file_list(void **state)
{
	struct kb_scpwatch *w = kb_scpwatch_new(KB_WATCH_UPLOAD);
	const struct kb_watch_list *l;
	char line[64];
	int i, n;

	(void)state;
	assert_non_null(w);
	for (i = 0; i < KB_WATCH_FILES_MAX + 6; i++) {
		n = snprintf(line, sizeof(line), "C0644 1 f%d\nx", i);
		assert_int_equal(kb_scpwatch_feed(w, true, (const uint8_t *)line, (size_t)n), 0);
		assert_int_equal(kb_scpwatch_feed(w, true, (const uint8_t *)"\0", 1), 0);
	}
	l = kb_scpwatch_files(w);
	assert_int_equal(l->count, KB_WATCH_FILES_MAX);
	assert_int_equal(l->files_total, KB_WATCH_FILES_MAX + 6);
	assert_int_equal(l->bytes_up, KB_WATCH_FILES_MAX + 6);
	assert_string_equal(l->file[KB_WATCH_FILES_MAX - 1].name, "f63");
	kb_scpwatch_free(w);
}

static void
scpwatch_truncates_long_name(void **state)
{
	struct kb_scpwatch *w = kb_scpwatch_new(KB_WATCH_UPLOAD);
	const struct kb_watch_list *l;
	char line[600];
	int n;

	(void)state;
	assert_non_null(w);
	n = snprintf(line, sizeof(line), "C0644 0 %0400d\n", 7);
	assert_int_equal(kb_scpwatch_feed(w, true, (const uint8_t *)line, (size_t)n), 0);
	l = kb_scpwatch_files(w);
	assert_int_equal(l->count, 1);
	assert_true(l->file[0].name_truncated);
	assert_int_equal(strlen(l->file[0].name), KB_WATCH_NAME_MAX);
	kb_scpwatch_free(w);
}

/* ------------------------------------------------------------------ */
/* SFTP                                                                */
/* ------------------------------------------------------------------ */

/* Builds SFTP packets: uint32 length, then the body. */
struct packet {
	uint8_t b[4096];
	size_t len;
};

static void
pkt_u8(struct packet *p, uint8_t v)
{
	assert_true(p->len + 1 <= sizeof(p->b));
	p->b[p->len++] = v;
}

static void
pkt_u32(struct packet *p, uint32_t v)
{
	pkt_u8(p, (uint8_t)(v >> 24));
	pkt_u8(p, (uint8_t)(v >> 16));
	pkt_u8(p, (uint8_t)(v >> 8));
	pkt_u8(p, (uint8_t)v);
}

static void
pkt_str(struct packet *p, const void *data, size_t len)
{
	pkt_u32(p, (uint32_t)len);
	assert_true(p->len + len <= sizeof(p->b));
	memcpy(p->b + p->len, data, len);
	p->len += len;
}

static void
pkt_begin(struct packet *p, uint8_t type, uint32_t id)
{
	p->len = 4;
	pkt_u8(p, type);
	pkt_u32(p, id);
}

static void
pkt_end(struct script *s, bool from_client, struct packet *p)
{
	uint32_t body = (uint32_t)(p->len - 4);

	p->b[0] = (uint8_t)(body >> 24);
	p->b[1] = (uint8_t)(body >> 16);
	p->b[2] = (uint8_t)(body >> 8);
	p->b[3] = (uint8_t)body;
	script_add(s, from_client, p->b, p->len);
}

static void
sftp_add_status(struct script *s, uint32_t id, uint32_t code)
{
	struct packet p;

	pkt_begin(&p, 101, id);
	pkt_u32(&p, code);
	pkt_str(&p, "", 0);
	pkt_str(&p, "", 0);
	pkt_end(s, false, &p);
}

static void
sftp_add_open(struct script *s, uint32_t id, const char *name, uint32_t pflags)
{
	struct packet p;

	pkt_begin(&p, 3, id);
	pkt_str(&p, name, strlen(name));
	pkt_u32(&p, pflags);
	pkt_u32(&p, 0);		/* attrs: no flags */
	pkt_end(s, true, &p);
}

static void
sftp_add_handle_msg(struct script *s, bool from_client, uint8_t type, uint32_t id,
    const char *handle)
{
	struct packet p;

	pkt_begin(&p, type, id);
	pkt_str(&p, handle, strlen(handle));
	pkt_end(s, from_client, &p);
}

/* An upload and a download as OpenSSH's sftp client and sftp-server run them. */
static void
sftp_build_session(struct script *s)
{
	struct packet p;
	uint8_t data[1000];

	memset(s, 0, sizeof(*s));
	memset(data, 0x5a, sizeof(data));

	p.len = 4;		/* INIT version 3, and VERSION */
	pkt_u8(&p, 1);
	pkt_u32(&p, 3);
	pkt_end(s, true, &p);
	p.len = 4;
	pkt_u8(&p, 2);
	pkt_u32(&p, 3);
	pkt_str(&p, "posix-rename@openssh.com", 24);
	pkt_str(&p, "1", 1);
	pkt_end(s, false, &p);

	sftp_add_open(s, 1, "/backup/fi-a.xml", 0x1a);	/* WRITE|CREAT|TRUNC */
	sftp_add_handle_msg(s, false, 102, 1, "\x01h1");
	pkt_begin(&p, 6, 2);
	pkt_str(&p, "\x01h1", 3);
	pkt_u32(&p, 0);
	pkt_u32(&p, 0);
	pkt_str(&p, data, 1000);
	pkt_end(s, true, &p);
	pkt_begin(&p, 6, 3);
	pkt_str(&p, "\x01h1", 3);
	pkt_u32(&p, 0);
	pkt_u32(&p, 1000);
	pkt_str(&p, data, 500);
	pkt_end(s, true, &p);
	sftp_add_status(s, 2, 0);
	sftp_add_status(s, 3, 0);
	sftp_add_handle_msg(s, true, 4, 4, "\x01h1");
	sftp_add_status(s, 4, 0);

	sftp_add_open(s, 5, "/backup/missing", 0x01);
	sftp_add_status(s, 5, 2);	/* SSH_FX_NO_SUCH_FILE: not listed */

	sftp_add_open(s, 6, "/backup/old.tgz", 0x01);	/* READ */
	sftp_add_handle_msg(s, false, 102, 6, "h2");
	pkt_begin(&p, 5, 7);
	pkt_str(&p, "h2", 2);
	pkt_u32(&p, 0);
	pkt_u32(&p, 0);
	pkt_u32(&p, 32768);
	pkt_end(s, true, &p);
	pkt_begin(&p, 103, 7);
	pkt_str(&p, data, 700);
	pkt_end(s, false, &p);
	sftp_add_status(s, 8, 1);	/* EOF for a READ the test did not list */
	sftp_add_handle_msg(s, true, 4, 9, "h2");
	sftp_add_status(s, 9, 0);
}

static void
sftp_check_session(const struct kb_sftpwatch *w)
{
	const struct kb_watch_list *l = kb_sftpwatch_files(w);

	assert_int_equal(l->count, 2);
	assert_int_equal(l->files_total, 2);
	assert_string_equal(l->file[0].name, "/backup/fi-a.xml");
	assert_int_equal(l->file[0].dir, KB_WATCH_UPLOAD);
	assert_true(l->file[0].size == KB_WATCH_SIZE_UNKNOWN);
	assert_int_equal(l->file[0].bytes, 1500);
	assert_true(l->file[0].complete);
	assert_string_equal(l->file[1].name, "/backup/old.tgz");
	assert_int_equal(l->file[1].dir, KB_WATCH_DOWNLOAD);
	assert_int_equal(l->file[1].bytes, 700);
	assert_true(l->file[1].complete);
	assert_int_equal(l->bytes_up, 1500);
	assert_int_equal(l->bytes_down, 700);
}

static void
sftpwatch_lists_session_whole(void **state)
{
	struct script s;
	struct kb_sftpwatch *w = kb_sftpwatch_new();

	(void)state;
	assert_non_null(w);
	sftp_build_session(&s);
	script_run(&s, w, feed_sftp, SIZE_MAX);
	sftp_check_session(w);
	kb_sftpwatch_free(w);
}

static void
sftpwatch_lists_session_split_anywhere(void **state)
{
	struct script s;
	struct kb_sftpwatch *w;
	size_t split;

	(void)state;
	sftp_build_session(&s);
	for (split = 0; split <= script_longest(&s); split++) {
		w = kb_sftpwatch_new();
		assert_non_null(w);
		script_run(&s, w, feed_sftp, split);
		sftp_check_session(w);
		kb_sftpwatch_free(w);
	}
}

static void
sftpwatch_truncates_long_name(void **state)
{
	struct script s;
	struct kb_sftpwatch *w = kb_sftpwatch_new();
	const struct kb_watch_list *l;
	char name[400];

	(void)state;
	assert_non_null(w);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	memset(&s, 0, sizeof(s));
	sftp_add_open(&s, 1, name, 0x1a);
	sftp_add_handle_msg(&s, false, 102, 1, "h");
	script_run(&s, w, feed_sftp, SIZE_MAX);
	l = kb_sftpwatch_files(w);
	assert_int_equal(l->count, 1);
	assert_true(l->file[0].name_truncated);
	assert_int_equal(strlen(l->file[0].name), KB_WATCH_NAME_MAX);
	assert_int_equal(l->file[0].dir, KB_WATCH_UPLOAD);
	kb_sftpwatch_free(w);
}

static void
sftpwatch_bounds_open_handles(void **state)
{
	struct script s;
	struct kb_sftpwatch *w = kb_sftpwatch_new();
	const struct kb_watch_list *l;
	char name[32], handle[16];
	struct packet p;
	uint32_t i;

	(void)state;
	assert_non_null(w);
	/* More files held open than handles are tracked: all listed, data counted. */
	for (i = 0; i < KB_WATCH_HANDLES_MAX + 4; i++) {
		memset(&s, 0, sizeof(s));
		snprintf(name, sizeof(name), "/f%u", (unsigned int)i);
		snprintf(handle, sizeof(handle), "h%u", (unsigned int)i);
		sftp_add_open(&s, i * 2, name, 0x1a);
		sftp_add_handle_msg(&s, false, 102, i * 2, handle);
		pkt_begin(&p, 6, i * 2 + 1);
		pkt_str(&p, handle, strlen(handle));
		pkt_u32(&p, 0);
		pkt_u32(&p, 0);
		pkt_str(&p, "data", 4);
		pkt_end(&s, true, &p);
		script_run(&s, w, feed_sftp, SIZE_MAX);
	}
	l = kb_sftpwatch_files(w);
	assert_int_equal(l->count, KB_WATCH_HANDLES_MAX + 4);
	assert_int_equal(l->bytes_up, 4 * (KB_WATCH_HANDLES_MAX + 4));
	assert_int_equal(l->file[0].bytes, 4);
	assert_int_equal(l->file[KB_WATCH_HANDLES_MAX].bytes, 0);
	kb_sftpwatch_free(w);
}

static void
sftpwatch_rejects_zero_length_packet(void **state)
{
	struct kb_sftpwatch *w = kb_sftpwatch_new();

	(void)state;
	assert_non_null(w);
	assert_int_equal(kb_sftpwatch_feed(w, true, (const uint8_t *)"\0\0\0\0", 4),
	    KB_ERR_INVALID_ARGUMENT);
	assert_int_equal(kb_sftpwatch_feed(w, true, (const uint8_t *)"\0\0\0\1\1", 5),
	    KB_ERR_INVALID_ARGUMENT);
	kb_sftpwatch_free(w);
}

static void
sftpwatch_skips_large_packet_without_storing(void **state)
{
	struct kb_sftpwatch *w = kb_sftpwatch_new();
	struct script s;
	struct packet p;
	static uint8_t big[200000];
	size_t i;

	(void)state;
	assert_non_null(w);
	memset(&s, 0, sizeof(s));
	sftp_add_open(&s, 1, "/big", 0x1a);
	sftp_add_handle_msg(&s, false, 102, 1, "H");
	script_run(&s, w, feed_sftp, SIZE_MAX);

	/* WRITE with 200000 bytes of data: the head is parsed, the rest skipped. */
	pkt_begin(&p, 6, 2);
	pkt_str(&p, "H", 1);
	pkt_u32(&p, 0);
	pkt_u32(&p, 0);
	pkt_u32(&p, sizeof(big));
	{
		uint32_t body = (uint32_t)(p.len - 4 + sizeof(big));

		p.b[0] = (uint8_t)(body >> 24);
		p.b[1] = (uint8_t)(body >> 16);
		p.b[2] = (uint8_t)(body >> 8);
		p.b[3] = (uint8_t)body;
	}
	assert_int_equal(kb_sftpwatch_feed(w, true, p.b, p.len), 0);
	for (i = 0; i < sizeof(big); i += 32768)
		assert_int_equal(kb_sftpwatch_feed(w, true, big + i,
		    sizeof(big) - i < 32768 ? sizeof(big) - i : 32768), 0);
	memset(&s, 0, sizeof(s));
	sftp_add_handle_msg(&s, true, 4, 3, "H");
	script_run(&s, w, feed_sftp, SIZE_MAX);

	assert_int_equal(kb_sftpwatch_files(w)->file[0].bytes, sizeof(big));
	assert_true(kb_sftpwatch_files(w)->file[0].complete);
	kb_sftpwatch_free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scpwatch_lists_upload_whole),
		cmocka_unit_test(scpwatch_lists_upload_split_anywhere),
		cmocka_unit_test(scpwatch_lists_download),
		cmocka_unit_test(scpwatch_records_sink_error),
		cmocka_unit_test(scpwatch_marks_file_incomplete_on_read_error),
		cmocka_unit_test(scpwatch_rejects_non_scp_stream),
		cmocka_unit_test(scpwatch_rejects_overlong_line),
		cmocka_unit_test(scpwatch_caps_file_list),
		cmocka_unit_test(scpwatch_truncates_long_name),
		cmocka_unit_test(sftpwatch_lists_session_whole),
		cmocka_unit_test(sftpwatch_lists_session_split_anywhere),
		cmocka_unit_test(sftpwatch_truncates_long_name),
		cmocka_unit_test(sftpwatch_bounds_open_handles),
		cmocka_unit_test(sftpwatch_rejects_zero_length_packet),
		cmocka_unit_test(sftpwatch_skips_large_packet_without_storing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
