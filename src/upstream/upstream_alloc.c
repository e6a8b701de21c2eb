/*
 * The allocator libssh2 uses for upstream sessions. libssh2 frees packet
 * buffers that held a password or keyboard-interactive response in clear
 * text without clearing them; this allocator records each block's size in
 * a header and wipes the block on free and on reallocation.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "upstream-internal.h"

/* Keeps the caller's block aligned for any type. */
#define HEADER_SIZE	(sizeof(max_align_t))

void *
up_alloc(size_t size, void **abstract)
{
	unsigned char *p;

	(void)abstract;
	if (size > SIZE_MAX - HEADER_SIZE || (p = malloc(HEADER_SIZE + size)) == NULL)
		return NULL;
	memcpy(p, &size, sizeof(size));
	return p + HEADER_SIZE;
}

void
up_dealloc(void *ptr, void **abstract)
{
	unsigned char *p;
	size_t size;

	(void)abstract;
	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - HEADER_SIZE;
	memcpy(&size, p, sizeof(size));
	OPENSSL_cleanse(p, HEADER_SIZE + size);
	free(p);
}

void *
up_realloc(void *ptr, size_t size, void **abstract)
{
	unsigned char *n;
	size_t old;

	if (ptr == NULL)
		return up_alloc(size, abstract);
	memcpy(&old, (unsigned char *)ptr - HEADER_SIZE, sizeof(old));
	if ((n = up_alloc(size, abstract)) == NULL)
		return NULL;
	memcpy(n, ptr, old < size ? old : size);
	up_dealloc(ptr, abstract);
	return n;
}

char *
up_alloc_copy(const char *s, size_t len)
{
	char *d;

	if (len == SIZE_MAX || (d = up_alloc(len + 1, NULL)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(d, s, len);
	d[len] = '\0';
	return d;
}
