/*
 * One relay direction between two sockets through a pipe and splice(2).
 *
 * A direction takes a pipe when it reads and gives it back to a small
 * cache, shared by the process, as soon as the pipe is empty again. Idle
 * sessions therefore use no pipe, and a busy one at most one per direction
 * (two descriptors each).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "splice.h"

/* Empty pipes kept open for the next direction that needs one. */
#define SPLICE_CACHE_MAX	8

struct splice_pipe {
	int rd;
	int wr;
};

static struct splice_pipe splice_cache[SPLICE_CACHE_MAX];
static size_t splice_cache_len;

#ifdef __linux__
#define SPLICE_FLAGS	(SPLICE_F_MOVE | SPLICE_F_NONBLOCK)

static bool
splice_get_pipe(struct kb_splice *sp)
{
	int fds[2];

	if (sp->pipe_rd >= 0)
		return true;
	if (sp->pipe_errno != 0)
		return false;
	if (splice_cache_len > 0) {
		splice_cache_len--;
		sp->pipe_rd = splice_cache[splice_cache_len].rd;
		sp->pipe_wr = splice_cache[splice_cache_len].wr;
		return true;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
		sp->pipe_errno = errno;
		return false;
	}
	sp->pipe_rd = fds[0];
	sp->pipe_wr = fds[1];
	return true;
}
#else
static bool
splice_get_pipe(struct kb_splice *sp)
{
	sp->pipe_errno = ENOSYS;
	return false;
}
#endif

/* Closes the direction's pipe, or caches it when it is empty. */
static void
splice_put_pipe(struct kb_splice *sp)
{
	if (sp->pipe_rd < 0)
		return;
	if (sp->pipe_len == 0 && splice_cache_len < SPLICE_CACHE_MAX) {
		splice_cache[splice_cache_len].rd = sp->pipe_rd;
		splice_cache[splice_cache_len].wr = sp->pipe_wr;
		splice_cache_len++;
	} else {
		close(sp->pipe_rd);
		close(sp->pipe_wr);
	}
	sp->pipe_rd = sp->pipe_wr = -1;
	sp->pipe_len = 0;
}

void
kb_splice_trim_cache(void)
{
	while (splice_cache_len > 0) {
		splice_cache_len--;
		close(splice_cache[splice_cache_len].rd);
		close(splice_cache[splice_cache_len].wr);
	}
}

int
kb_splice_init(struct kb_splice *sp, int src, int dst)
{
	sp->src = src;
	sp->dst = dst;
	sp->pipe_rd = sp->pipe_wr = -1;
	sp->pipe_len = 0;
	sp->pipe_errno = 0;
	if ((sp->pending = evbuffer_new()) == NULL)
		return -1;
	return 0;
}

void
kb_splice_free(struct kb_splice *sp)
{
	splice_put_pipe(sp);
	if (sp->pending != NULL)
		evbuffer_free(sp->pending);
	sp->pending = NULL;
}

size_t
kb_splice_buffered(const struct kb_splice *sp)
{
	return evbuffer_get_length(sp->pending) + sp->pipe_len;
}

void
kb_splice_discard(struct kb_splice *sp)
{
	evbuffer_drain(sp->pending, evbuffer_get_length(sp->pending));
	/* The pipe is not empty, so it is closed rather than cached. */
	if (sp->pipe_rd >= 0) {
		close(sp->pipe_rd);
		close(sp->pipe_wr);
		sp->pipe_rd = sp->pipe_wr = -1;
	}
	sp->pipe_len = 0;
}

/* Reads into pending, which is allowed only while the pipe is empty. */
static ssize_t
splice_fill_copy(struct kb_splice *sp, size_t max)
{
	int n;

	if (sp->pipe_len > 0) {
		errno = EAGAIN;
		return -1;
	}
	if (max > INT_MAX)
		max = INT_MAX;
	if ((n = evbuffer_read(sp->pending, sp->src, (int)max)) < 0)
		return -1;
	return n;
}

ssize_t
kb_splice_fill(struct kb_splice *sp, size_t max)
{
#ifdef __linux__
	ssize_t n;

	if (!splice_get_pipe(sp))
		return splice_fill_copy(sp, max);
	n = splice(sp->src, NULL, sp->pipe_wr, NULL, max, SPLICE_FLAGS);
	if (n > 0)
		sp->pipe_len += (size_t)n;
	if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
		/* The kernel cannot splice this socket: copy from now on. */
		sp->pipe_errno = errno;
		if (sp->pipe_len == 0)
			splice_put_pipe(sp);
		return splice_fill_copy(sp, max);
	}
	return n;
#else
	return splice_fill_copy(sp, max);
#endif
}

/* Writes the pipe's bytes to dst. */
static ssize_t
splice_flush_pipe(struct kb_splice *sp)
{
#ifdef __linux__
	ssize_t n;

	n = splice(sp->pipe_rd, NULL, sp->dst, NULL, sp->pipe_len, SPLICE_FLAGS);
	if (n > 0)
		sp->pipe_len -= (size_t)n;
	if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
		/* Pending is empty here, so the pipe's bytes may move to it. */
		sp->pipe_errno = errno;
		while (sp->pipe_len > 0 &&
		    (n = evbuffer_read(sp->pending, sp->pipe_rd, (int)sp->pipe_len)) > 0)
			sp->pipe_len -= (size_t)n;
		if (sp->pipe_len > 0)
			return -1;
		splice_put_pipe(sp);
		return evbuffer_write(sp->pending, sp->dst);
	}
	if (sp->pipe_len == 0)
		splice_put_pipe(sp);
	return n;
#else
	errno = ENOSYS;
	return -1;
#endif
}

ssize_t
kb_splice_flush(struct kb_splice *sp)
{
	ssize_t done = 0, n;

	if (evbuffer_get_length(sp->pending) > 0) {
		if ((n = evbuffer_write(sp->pending, sp->dst)) < 0)
			return -1;
		done = n;
		if (evbuffer_get_length(sp->pending) > 0)
			return done;
	}
	if (sp->pipe_len == 0)
		return done;
	if ((n = splice_flush_pipe(sp)) < 0)
		return done > 0 ? done : -1;
	return done + n;
}
