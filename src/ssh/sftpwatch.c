/*
 * Watches an SFTP version 3 stream (draft-ietf-secsh-filexfer-02) to list
 * the files opened and the bytes written to and read from each.
 *
 * Every packet is uint32 length, byte type, and for requests and replies a
 * uint32 request id (section 3). Only the first SFTP_HEAD_MAX bytes of a
 * packet are kept, which covers the fields read here. File data in WRITE and
 * DATA is counted from its length field and skipped, never stored.
 *
 *   client: OPEN (id, filename, pflags, attrs), READ (id, handle, offset,
 *           len), WRITE (id, handle, offset, data), CLOSE (id, handle)
 *   server: HANDLE (id, handle), DATA (id, data), STATUS (id, code, ...)
 *
 * An OPEN is listed when its HANDLE reply arrives. DATA names no handle, so
 * each READ's id is remembered with its file until the reply.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "kexbridge/err.h"
#include "kexbridge/watch.h"

#define SSH_FXP_OPEN		3
#define SSH_FXP_CLOSE		4
#define SSH_FXP_READ		5
#define SSH_FXP_WRITE		6
#define SSH_FXP_STATUS		101
#define SSH_FXP_HANDLE		102
#define SSH_FXP_DATA		103

#define SSH_FXF_WRITE		0x00000002

/* Type, id, a PATH_MAX (4096) file name with its length, and pflags. */
#define SFTP_HEAD_MAX		4200
/* Larger than any packet OpenSSH or other common servers send (256 KiB). */
#define SFTP_PACKET_MAX		(16 * 1024 * 1024)
/* Maximum handle length the protocol allows (section 7.3). */
#define SFTP_HANDLE_MAX		256
/* OPEN requests awaiting their HANDLE reply. */
#define SFTP_PENDING_OPENS	8
/* READ requests remembered by id; clients keep up to 64..256 in flight. */
#define SFTP_PENDING_READS	256

enum sftp_state {
	SFTP_LENGTH,	/* the 4-byte packet length */
	SFTP_HEAD,	/* the packet's first bytes */
	SFTP_SKIP,	/* the rest of the packet */
};

struct sftp_stream {
	enum sftp_state state;
	uint8_t lenbuf[4];
	size_t lenbuf_used;
	uint32_t packet_len;
	uint8_t head[SFTP_HEAD_MAX];
	size_t head_len;	/* bytes of the head to collect */
	size_t head_used;
	size_t skip;
};

struct sftp_open {
	bool in_use;
	uint32_t id;
	enum kb_watch_dir dir;
	size_t name_len;
	bool name_truncated;
	char name[KB_WATCH_NAME_MAX + 1];
};

struct sftp_handle {
	bool in_use;
	size_t len;
	uint8_t handle[SFTP_HANDLE_MAX];
	struct kb_watch_file *file;	/* NULL when the list was full */
};

struct sftp_read {
	bool in_use;
	uint32_t id;
	struct kb_watch_file *file;
};

struct kb_sftpwatch {
	struct kb_watch_list list;
	bool broken;
	struct sftp_stream from_client;
	struct sftp_stream from_server;
	struct sftp_open opens[SFTP_PENDING_OPENS];
	struct sftp_handle handles[KB_WATCH_HANDLES_MAX];
	struct sftp_read reads[SFTP_PENDING_READS];
};

/* A cursor over a packet head; reads fail past its end. */
struct sftp_cursor {
	const uint8_t *p;
	size_t left;
};

static bool
sftp_get_u32(struct sftp_cursor *c, uint32_t *v)
{
	if (c->left < 4)
		return false;
	*v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 |
	    (uint32_t)c->p[2] << 8 | (uint32_t)c->p[3];
	c->p += 4;
	c->left -= 4;
	return true;
}

static bool
sftp_skip(struct sftp_cursor *c, size_t n)
{
	if (c->left < n)
		return false;
	c->p += n;
	c->left -= n;
	return true;
}

/* A string whose body must lie entirely inside the head. */
static bool
sftp_get_string(struct sftp_cursor *c, const uint8_t **s, uint32_t *len)
{
	if (!sftp_get_u32(c, len) || *len > c->left)
		return false;
	*s = c->p;
	c->p += *len;
	c->left -= *len;
	return true;
}

struct kb_sftpwatch *
kb_sftpwatch_new(void)
{
	return calloc(1, sizeof(struct kb_sftpwatch));
}

void
kb_sftpwatch_free(struct kb_sftpwatch *w)
{
	free(w);
}

const struct kb_watch_list *
kb_sftpwatch_files(const struct kb_sftpwatch *w)
{
	return &w->list;
}

static struct sftp_handle *
sftp_find_handle(struct kb_sftpwatch *w, const uint8_t *h, uint32_t len)
{
	size_t i;

	for (i = 0; i < KB_WATCH_HANDLES_MAX; i++) {
		if (w->handles[i].in_use && w->handles[i].len == len &&
		    memcmp(w->handles[i].handle, h, len) == 0)
			return &w->handles[i];
	}
	return NULL;
}

static struct sftp_open *
sftp_find_open(struct kb_sftpwatch *w, uint32_t id)
{
	size_t i;

	for (i = 0; i < SFTP_PENDING_OPENS; i++) {
		if (w->opens[i].in_use && w->opens[i].id == id)
			return &w->opens[i];
	}
	return NULL;
}

/*
 * OPEN: remember the name until the reply. A name cut off by the head limit
 * is kept as far as it goes. Its pflags are then unknown, so the file is
 * taken as a download.
 */
static void
sftp_recv_open(struct kb_sftpwatch *w, uint32_t id, struct sftp_cursor *c)
{
	struct sftp_open *o = NULL;
	uint32_t name_len, pflags = 0;
	size_t i, have;

	for (i = 0; i < SFTP_PENDING_OPENS && o == NULL; i++) {
		if (!w->opens[i].in_use)
			o = &w->opens[i];
	}
	if (o == NULL || !sftp_get_u32(c, &name_len))
		return;		/* too many OPENs in flight: this one is not listed */
	have = name_len < c->left ? name_len : c->left;
	o->in_use = true;
	o->id = id;
	o->name_len = have < KB_WATCH_NAME_MAX ? have : KB_WATCH_NAME_MAX;
	o->name_truncated = have < name_len || have > KB_WATCH_NAME_MAX;
	memcpy(o->name, c->p, o->name_len);
	if (sftp_skip(c, name_len))
		sftp_get_u32(c, &pflags);
	o->dir = (pflags & SSH_FXF_WRITE) ? KB_WATCH_UPLOAD : KB_WATCH_DOWNLOAD;
}

/* HANDLE: the OPEN with this id succeeded; list the file. */
static void
sftp_recv_handle(struct kb_sftpwatch *w, uint32_t id, struct sftp_cursor *c)
{
	struct sftp_open *o = sftp_find_open(w, id);
	struct kb_watch_file *file;
	const uint8_t *h;
	uint32_t len;
	size_t i;

	if (o == NULL)
		return;		/* an OPENDIR, or an OPEN not tracked */
	o->in_use = false;
	file = kb_watch_list_add(&w->list, o->name, o->name_len, o->dir, KB_WATCH_SIZE_UNKNOWN);
	if (file != NULL && o->name_truncated)
		file->name_truncated = true;
	if (!sftp_get_string(c, &h, &len) || len > SFTP_HANDLE_MAX)
		return;
	for (i = 0; i < KB_WATCH_HANDLES_MAX; i++) {
		if (w->handles[i].in_use)
			continue;
		w->handles[i].in_use = true;
		w->handles[i].len = len;
		memcpy(w->handles[i].handle, h, len);
		w->handles[i].file = file;
		return;
	}
}

/* WRITE or READ or CLOSE: requests that name a handle. */
static void
sftp_recv_handle_request(struct kb_sftpwatch *w, uint8_t type, uint32_t id,
    struct sftp_cursor *c)
{
	struct sftp_handle *hd;
	struct sftp_read *rd;
	const uint8_t *h;
	uint32_t len, data_len;

	if (!sftp_get_string(c, &h, &len))
		return;
	hd = sftp_find_handle(w, h, len);
	switch (type) {
	case SSH_FXP_WRITE:
		if (!sftp_skip(c, 8) || !sftp_get_u32(c, &data_len))
			return;
		w->list.bytes_up += data_len;
		if (hd != NULL && hd->file != NULL)
			hd->file->bytes += data_len;
		break;
	case SSH_FXP_READ:
		rd = &w->reads[id % SFTP_PENDING_READS];
		rd->in_use = hd != NULL;
		rd->id = id;
		rd->file = hd != NULL ? hd->file : NULL;
		break;
	case SSH_FXP_CLOSE:
		if (hd == NULL)
			return;
		if (hd->file != NULL)
			hd->file->complete = true;
		hd->in_use = false;
		break;
	}
}

/* DATA or STATUS: replies to a READ or an OPEN. */
static void
sftp_recv_reply(struct kb_sftpwatch *w, uint8_t type, uint32_t id, struct sftp_cursor *c)
{
	struct sftp_read *rd = &w->reads[id % SFTP_PENDING_READS];
	struct sftp_open *o;
	uint32_t data_len;

	if (type == SSH_FXP_DATA) {
		if (!sftp_get_u32(c, &data_len))
			return;
		w->list.bytes_down += data_len;
		if (rd->in_use && rd->id == id && rd->file != NULL)
			rd->file->bytes += data_len;
	}
	if (rd->in_use && rd->id == id)
		rd->in_use = false;
	if (type == SSH_FXP_STATUS && (o = sftp_find_open(w, id)) != NULL)
		o->in_use = false;
}

/* Handles one packet's head (type first). */
static void
sftp_recv_packet(struct kb_sftpwatch *w, bool from_client, const uint8_t *head, size_t len)
{
	struct sftp_cursor c = { head + 1, len - 1 };
	uint8_t type = head[0];
	uint32_t id;

	if (!sftp_get_u32(&c, &id))
		return;		/* INIT and VERSION carry no id; nothing to list */
	if (from_client && type == SSH_FXP_OPEN)
		sftp_recv_open(w, id, &c);
	else if (from_client && (type == SSH_FXP_WRITE || type == SSH_FXP_READ ||
	    type == SSH_FXP_CLOSE))
		sftp_recv_handle_request(w, type, id, &c);
	else if (!from_client && type == SSH_FXP_HANDLE)
		sftp_recv_handle(w, id, &c);
	else if (!from_client && (type == SSH_FXP_DATA || type == SSH_FXP_STATUS))
		sftp_recv_reply(w, type, id, &c);
}

/* Collects the packet length; returns the bytes used. */
static size_t
sftp_take_length(struct kb_sftpwatch *w, struct sftp_stream *s, const uint8_t *data,
    size_t len)
{
	size_t n = 4 - s->lenbuf_used;

	if (n > len)
		n = len;
	memcpy(s->lenbuf + s->lenbuf_used, data, n);
	s->lenbuf_used += n;
	if (s->lenbuf_used < 4)
		return n;
	s->lenbuf_used = 0;
	s->packet_len = (uint32_t)s->lenbuf[0] << 24 | (uint32_t)s->lenbuf[1] << 16 |
	    (uint32_t)s->lenbuf[2] << 8 | (uint32_t)s->lenbuf[3];
	if (s->packet_len == 0 || s->packet_len > SFTP_PACKET_MAX) {
		w->broken = true;
		return n;
	}
	s->head_len = s->packet_len < SFTP_HEAD_MAX ? s->packet_len : SFTP_HEAD_MAX;
	s->head_used = 0;
	s->skip = s->packet_len - s->head_len;
	s->state = SFTP_HEAD;
	return n;
}

static size_t
sftp_take_head(struct kb_sftpwatch *w, struct sftp_stream *s, bool from_client,
    const uint8_t *data, size_t len)
{
	size_t n = s->head_len - s->head_used;

	if (n > len)
		n = len;
	memcpy(s->head + s->head_used, data, n);
	s->head_used += n;
	if (s->head_used < s->head_len)
		return n;
	sftp_recv_packet(w, from_client, s->head, s->head_len);
	s->state = s->skip > 0 ? SFTP_SKIP : SFTP_LENGTH;
	return n;
}

int
kb_sftpwatch_feed(struct kb_sftpwatch *w, bool from_client, const uint8_t *data, size_t len)
{
	struct sftp_stream *s = from_client ? &w->from_client : &w->from_server;
	size_t used;

	while (len > 0 && !w->broken) {
		switch (s->state) {
		case SFTP_LENGTH:
			used = sftp_take_length(w, s, data, len);
			break;
		case SFTP_HEAD:
			used = sftp_take_head(w, s, from_client, data, len);
			break;
		case SFTP_SKIP:
		default:
			used = len < s->skip ? len : s->skip;
			s->skip -= used;
			if (s->skip == 0)
				s->state = SFTP_LENGTH;
			break;
		}
		data += used;
		len -= used;
	}
	return w->broken ? KB_ERR_INVALID_ARGUMENT : 0;
}
