/*
 * One direction of a relay between two connected sockets, moved with
 * splice(2) through a pipe so that the bytes do not pass through user space
 * (private to src/proxy). Linux only; elsewhere, and when no pipe can be
 * had, the bytes are copied through an evbuffer instead.
 */
#ifndef KEXBRIDGE_SPLICE_H
#define KEXBRIDGE_SPLICE_H

#include <stddef.h>
#include <sys/types.h>

struct evbuffer;

struct kb_splice {
	int src;		/* socket read from */
	int dst;		/* socket written to */
	/*
	 * Bytes to write before anything in the pipe: what the bufferevents
	 * held when the relay changed over, or bytes read while no pipe was
	 * available. Bytes are added here only while the pipe is empty.
	 */
	struct evbuffer *pending;
	int pipe_rd;		/* -1 while the direction holds no pipe */
	int pipe_wr;
	size_t pipe_len;	/* bytes in the pipe */
	int pipe_errno;		/* why the last pipe could not be had, or 0 */
};

/* Sets up a direction from src to dst; returns -1 when out of memory. */
int kb_splice_init(struct kb_splice *sp, int src, int dst);
/* Frees the direction's buffers; does not close src or dst. */
void kb_splice_free(struct kb_splice *sp);

/* Bytes read from src and not yet written to dst. */
size_t kb_splice_buffered(const struct kb_splice *sp);

/*
 * Reads at most max bytes from src into the pipe, or into pending when no
 * pipe can be had. Returns the bytes read, 0 at the end of the stream, or
 * -1 with errno set. EAGAIN while bytes are buffered may also mean that
 * the pipe is full, so the caller waits until kb_splice_flush() wrote some.
 */
ssize_t kb_splice_fill(struct kb_splice *sp, size_t max);

/*
 * Writes what is buffered to dst, pending first. Returns the bytes written
 * (0 when nothing was buffered), or -1 with errno set when nothing could
 * be written. An empty pipe goes back to a process-wide cache.
 */
ssize_t kb_splice_flush(struct kb_splice *sp);

/* Drops everything buffered, for a dst that can no longer be written. */
void kb_splice_discard(struct kb_splice *sp);

/* Closes the cached pipes, for when no session is open. */
void kb_splice_trim_cache(void);

#endif
