/*
 * Watches the scp ("rcp") protocol as OpenSSH's scp.c speaks it.
 *
 * The source side sends control lines, each ending in LF:
 *   C<mode> <size> <name>   a file of size bytes follows, then one 0 byte
 *   D<mode> 0 <name>        enter a directory
 *   E                       leave it
 *   T<mtime> 0 <atime> 0    times for the next C or D
 *   1<text> or 2<text>      a warning or fatal error (first byte 0x01/0x02)
 * The sink side acknowledges each line and each file with one 0 byte, or
 * replies with 0x01/0x02 and an error line. The file list helper shared with the SFTP
 * watcher lives here too.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/err.h"
#include "kexbridge/watch.h"

/* Maximum control or error line kept; OpenSSH's sink accepts 2048 bytes. */
#define SCP_LINE_MAX		2048
/* Directory levels tracked for path names. */
#define SCP_DEPTH_MAX		64

enum scp_source_state {
	SCP_SOURCE_LINE,	/* reading a control line */
	SCP_SOURCE_DATA,	/* file data of the last C line */
	SCP_SOURCE_DATA_END,	/* the 0 byte (or an error line) after the data */
};

/* One direction's line reader. */
struct scp_line {
	char text[SCP_LINE_MAX + 1];
	size_t len;
	bool active;
};

struct kb_scpwatch {
	enum kb_watch_dir dir;
	struct kb_watch_list list;
	bool broken;

	/* The source side. */
	enum scp_source_state state;
	struct scp_line source_line;
	uint64_t data_left;
	struct kb_watch_file *current;	/* NULL when the list was full */
	uint64_t *current_bytes;	/* the direction's byte counter */

	/* Directory path of the source, for names of files inside D...E. */
	char path[KB_WATCH_NAME_MAX + 1];
	size_t path_len[SCP_DEPTH_MAX + 1];
	unsigned int depth;

	/* The sink side: acknowledgements and error lines. */
	struct scp_line sink_line;

	char error[SCP_LINE_MAX + 1];
	bool has_error;
};

struct kb_watch_file *
kb_watch_list_add(struct kb_watch_list *list, const char *name, size_t len,
    enum kb_watch_dir dir, uint64_t size)
{
	struct kb_watch_file *f;

	list->files_total++;
	if (list->count >= KB_WATCH_FILES_MAX)
		return NULL;
	f = &list->file[list->count++];
	memset(f, 0, sizeof(*f));
	if (len > KB_WATCH_NAME_MAX) {
		len = KB_WATCH_NAME_MAX;
		f->name_truncated = true;
	}
	memcpy(f->name, name, len);
	f->name[len] = '\0';
	f->dir = dir;
	f->size = size;
	return f;
}

struct kb_scpwatch *
kb_scpwatch_new(enum kb_watch_dir dir)
{
	struct kb_scpwatch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->dir = dir;
	w->current_bytes = dir == KB_WATCH_UPLOAD ? &w->list.bytes_up : &w->list.bytes_down;
	return w;
}

void
kb_scpwatch_free(struct kb_scpwatch *w)
{
	free(w);
}

const struct kb_watch_list *
kb_scpwatch_files(const struct kb_scpwatch *w)
{
	return &w->list;
}

const char *
kb_scpwatch_error(const struct kb_scpwatch *w)
{
	return w->has_error ? w->error : NULL;
}

static int
scp_break(struct kb_scpwatch *w)
{
	w->broken = true;
	return KB_ERR_INVALID_ARGUMENT;
}

/*
 * Collects bytes up to LF into line. Returns the bytes used; sets *done when
 * the line is complete (without its LF). A line longer than SCP_LINE_MAX
 * breaks the watcher, as it breaks OpenSSH's scp.
 */
static size_t
scp_line_take(struct kb_scpwatch *w, struct scp_line *line, const uint8_t *data,
    size_t len, bool *done)
{
	const uint8_t *lf = memchr(data, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - data) : len;

	*done = false;
	if (n > SCP_LINE_MAX - line->len) {
		scp_break(w);
		return len;
	}
	memcpy(line->text + line->len, data, n);
	line->len += n;
	if (lf == NULL)
		return n;
	line->text[line->len] = '\0';
	*done = true;
	return n + 1;
}

static void
scp_set_error(struct kb_scpwatch *w, const struct scp_line *line)
{
	/* Skip the 0x01/0x02 type byte. */
	memcpy(w->error, line->text + 1, line->len - 1);
	w->error[line->len - 1] = '\0';
	w->has_error = true;
}

/* Parses an unsigned decimal number; advances *s past it. */
static bool
scp_parse_u64(const char **s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*out = v;
	return true;
}

/*
 * Splits "C0644 1234 name" or "D0755 0 name" into size and name. The mode
 * is four octal digits, as scp.c checks.
 */
static bool
scp_parse_entry(const char *text, uint64_t *size, const char **name)
{
	const char *p = text + 1;
	int i;

	for (i = 0; i < 4; i++, p++) {
		if (*p < '0' || *p > '7')
			return false;
	}
	if (*p++ != ' ' || !scp_parse_u64(&p, size) || *p++ != ' ' || *p == '\0')
		return false;
	*name = p;
	return true;
}

/* Enters directory name: the path grows by "name/". */
static void
scp_dir_enter(struct kb_scpwatch *w, const char *name)
{
	size_t len = strlen(name), used = strlen(w->path);

	if (w->depth < SCP_DEPTH_MAX)
		w->path_len[w->depth] = used;
	w->depth++;
	if (w->depth > SCP_DEPTH_MAX || used + len + 1 > KB_WATCH_NAME_MAX)
		return;		/* names inside are listed without the deep part */
	memcpy(w->path + used, name, len);
	w->path[used + len] = '/';
	w->path[used + len + 1] = '\0';
}

static void
scp_dir_leave(struct kb_scpwatch *w)
{
	if (w->depth == 0)
		return;
	w->depth--;
	if (w->depth < SCP_DEPTH_MAX)
		w->path[w->path_len[w->depth]] = '\0';
}

static int
scp_file_start(struct kb_scpwatch *w, uint64_t size, const char *name)
{
	char full[2 * KB_WATCH_NAME_MAX + 2];
	int n;

	n = snprintf(full, sizeof(full), "%s%s", w->path, name);
	if (n < 0)
		return scp_break(w);
	w->current = kb_watch_list_add(&w->list, full, (size_t)n < sizeof(full) ?
	    (size_t)n : sizeof(full) - 1, w->dir, size);
	w->data_left = size;
	w->state = size > 0 ? SCP_SOURCE_DATA : SCP_SOURCE_DATA_END;
	return 0;
}

/* Handles one complete control line from the source. */
static int
scp_source_line(struct kb_scpwatch *w)
{
	struct scp_line *line = &w->source_line;
	const char *name;
	uint64_t size;

	if (line->len == 0)
		return scp_break(w);
	switch (line->text[0]) {
	case 'C':
		if (!scp_parse_entry(line->text, &size, &name))
			return scp_break(w);
		return scp_file_start(w, size, name);
	case 'D':
		if (!scp_parse_entry(line->text, &size, &name))
			return scp_break(w);
		scp_dir_enter(w, name);
		return 0;
	case 'E':
		scp_dir_leave(w);
		return 0;
	case 'T':
		return 0;
	case 1:
	case 2:
		scp_set_error(w, line);
		return 0;
	default:
		return scp_break(w);
	}
}

/* Consumes file data; returns the bytes used. */
static size_t
scp_source_data(struct kb_scpwatch *w, size_t len)
{
	size_t n = len;

	if (n > w->data_left)
		n = (size_t)w->data_left;
	w->data_left -= n;
	*w->current_bytes += n;
	if (w->current != NULL)
		w->current->bytes += n;
	if (w->data_left == 0)
		w->state = SCP_SOURCE_DATA_END;
	return n;
}

static int
scp_feed_source(struct kb_scpwatch *w, const uint8_t *data, size_t len)
{
	size_t used;
	bool done;
	int r;

	while (len > 0 && !w->broken) {
		switch (w->state) {
		case SCP_SOURCE_DATA:
			used = scp_source_data(w, len);
			break;
		case SCP_SOURCE_DATA_END:
			/* 0 means the file was read in full; anything else starts an error line. */
			if (data[0] == 0) {
				if (w->current != NULL)
					w->current->complete = true;
				w->state = SCP_SOURCE_LINE;
				used = 1;
				break;
			}
			w->state = SCP_SOURCE_LINE;
			used = 0;
			break;
		case SCP_SOURCE_LINE:
		default:
			used = scp_line_take(w, &w->source_line, data, len, &done);
			if (done) {
				r = scp_source_line(w);
				w->source_line.len = 0;
				if (r != 0)
					return r;
			}
			break;
		}
		data += used;
		len -= used;
	}
	return w->broken ? KB_ERR_INVALID_ARGUMENT : 0;
}

static int
scp_feed_sink(struct kb_scpwatch *w, const uint8_t *data, size_t len)
{
	struct scp_line *line = &w->sink_line;
	size_t used;
	bool done;

	while (len > 0 && !w->broken) {
		if (!line->active) {
			if (data[0] > 2)
				return scp_break(w);
			line->active = data[0] != 0;
			line->len = 0;
			if (!line->active) {
				data++;
				len--;
				continue;
			}
		}
		used = scp_line_take(w, line, data, len, &done);
		if (done) {
			scp_set_error(w, line);
			line->active = false;
		}
		data += used;
		len -= used;
	}
	return w->broken ? KB_ERR_INVALID_ARGUMENT : 0;
}

int
kb_scpwatch_feed(struct kb_scpwatch *w, bool from_client, const uint8_t *data, size_t len)
{
	bool from_source = from_client == (w->dir == KB_WATCH_UPLOAD);

	if (w->broken)
		return KB_ERR_INVALID_ARGUMENT;
	if (from_source)
		return scp_feed_source(w, data, len);
	return scp_feed_sink(w, data, len);
}
