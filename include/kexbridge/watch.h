/*
 * Watchers that list the files a bridged session transfers, for the session
 * record. They read a copy of the channel data as it passes and never change
 * or hold it back. Both are sans-I/O: feed them bytes in pieces of any size.
 *
 *   - scp (the "rcp" protocol run by "scp -t" and "scp -f", as OpenSSH's
 *     scp.c speaks it): C, D, E and T control lines, file data, and the
 *     acknowledgement bytes of the other side.
 *   - SFTP version 3 (draft-ietf-secsh-filexfer-02): OPEN, HANDLE, READ,
 *     WRITE, DATA and CLOSE packets.
 *
 * Memory is bounded whatever the stream holds: one control line or one
 * packet head at a time, at most KB_WATCH_FILES_MAX files listed (later
 * files are only counted), and for SFTP at most KB_WATCH_HANDLES_MAX open
 * handles tracked.
 */
#ifndef KEXBRIDGE_WATCH_H
#define KEXBRIDGE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Files listed per session; further files only count in files_total. */
#define KB_WATCH_FILES_MAX	64
/* Bytes of a path kept; longer paths are cut and marked truncated. */
#define KB_WATCH_NAME_MAX	255
/* SFTP handles tracked at once; files opened beyond this are counted only. */
#define KB_WATCH_HANDLES_MAX	32
/* Declared size when the protocol did not state one (SFTP). */
#define KB_WATCH_SIZE_UNKNOWN	UINT64_MAX

enum kb_watch_dir {
	KB_WATCH_UPLOAD,	/* client to server: the client sends the file */
	KB_WATCH_DOWNLOAD,	/* server to client */
};

struct kb_watch_file {
	/* Path as the peer wrote it, NUL-terminated; escape before logging. */
	char name[KB_WATCH_NAME_MAX + 1];
	bool name_truncated;
	enum kb_watch_dir dir;
	uint64_t size;		/* declared size, or KB_WATCH_SIZE_UNKNOWN */
	uint64_t bytes;		/* file data seen */
	bool complete;		/* scp: data and final ack seen; SFTP: handle closed */
};

struct kb_watch_list {
	struct kb_watch_file file[KB_WATCH_FILES_MAX];
	size_t count;		/* entries in file[] */
	uint64_t files_total;	/* files seen, listed or not */
	uint64_t bytes_up;	/* file data, client to server */
	uint64_t bytes_down;	/* file data, server to client */
};

/*
 * Adds a file and returns its entry, or NULL when the list is full (the
 * file is still counted). name need not be NUL-terminated.
 */
struct kb_watch_file *kb_watch_list_add(struct kb_watch_list *list, const char *name,
    size_t len, enum kb_watch_dir dir, uint64_t size);

/* ------------------------------------------------------------------ */
/* scp                                                                 */
/* ------------------------------------------------------------------ */

struct kb_scpwatch;

/*
 * Starts watching one "scp -t" (dir KB_WATCH_UPLOAD: the client is the
 * source) or "scp -f" (KB_WATCH_DOWNLOAD: the server is the source)
 * channel. Returns NULL when out of memory.
 */
struct kb_scpwatch *kb_scpwatch_new(enum kb_watch_dir dir);
void kb_scpwatch_free(struct kb_scpwatch *w);

/*
 * Feeds channel data (not stderr): from_client is true for the client to
 * server stream. Returns 0, or KB_ERR_INVALID_ARGUMENT once the stream no
 * longer reads as scp; watching then stops, and later calls return the
 * same error without reading.
 */
int kb_scpwatch_feed(struct kb_scpwatch *w, bool from_client, const uint8_t *data, size_t len);

const struct kb_watch_list *kb_scpwatch_files(const struct kb_scpwatch *w);

/*
 * The last error either side reported in the protocol (a line after a 1 or
 * 2 byte, e.g. "scp: /x: Permission denied"), NUL-terminated and raw;
 * NULL when none.
 */
const char *kb_scpwatch_error(const struct kb_scpwatch *w);

/* ------------------------------------------------------------------ */
/* SFTP                                                                */
/* ------------------------------------------------------------------ */

struct kb_sftpwatch;

struct kb_sftpwatch *kb_sftpwatch_new(void);
void kb_sftpwatch_free(struct kb_sftpwatch *w);

/* As kb_scpwatch_feed, for an sftp subsystem channel. */
int kb_sftpwatch_feed(struct kb_sftpwatch *w, bool from_client, const uint8_t *data, size_t len);

const struct kb_watch_list *kb_sftpwatch_files(const struct kb_sftpwatch *w);

#endif
