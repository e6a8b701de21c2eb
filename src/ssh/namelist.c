/*
 * Name-lists (RFC 4251 section 5): a string of comma-separated names.
 *
 * RFC 4251 section 6 says a name is non-empty printable US-ASCII without
 * commas or whitespace, at most 64 characters long. Peers break these rules
 * often enough that rejecting the packet would hide the real problem, so
 * each breach sets a flag and the list is kept. Only lists beyond the hard
 * limits in kexinit.h are rejected, to bound memory and time.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/kexinit.h"

static int
namelist_is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f';
}

/* Returns the flags for one name, judged on its bytes as received. */
static unsigned int
namelist_check_name(const uint8_t *orig, size_t len)
{
	unsigned int flags = 0;
	size_t i;

	if (len == 0)
		flags |= KB_NL_EMPTY_NAME;
	if (len > KB_NAME_MAX_LEN)
		flags |= KB_NL_NAME_TOO_LONG;
	for (i = 0; i < len; i++) {
		if (namelist_is_space(orig[i]))
			flags |= KB_NL_SPACE;
		else if (orig[i] < 0x21 || orig[i] > 0x7e)
			flags |= KB_NL_NONPRINTABLE;
	}
	return flags;
}

static int
namelist_cmp(const void *a, const void *b)
{
	return strcmp(*(char * const *)a, *(char * const *)b);
}

/* Sorts a copy of the names so duplicates sit next to each other. */
static int
namelist_has_duplicate(const struct kb_namelist *list, int *found)
{
	char **sorted;
	size_t i;

	*found = 0;
	if (list->count < 2)
		return KB_OK;
	if ((sorted = calloc(list->count, sizeof(*sorted))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	memcpy(sorted, list->names, list->count * sizeof(*sorted));
	qsort(sorted, list->count, sizeof(*sorted), namelist_cmp);
	for (i = 1; i < list->count; i++) {
		/* Empty names are already flagged as such. */
		if (*sorted[i] != '\0' && strcmp(sorted[i - 1], sorted[i]) == 0) {
			*found = 1;
			break;
		}
	}
	free(sorted);
	return KB_OK;
}

/* Points list->names into list->storage, which contains raw with NULs for commas. */
static int
namelist_split(struct kb_namelist *list, const uint8_t *orig)
{
	size_t i, start, n;

	n = 1;
	for (i = 0; i < list->raw_len; i++) {
		if (list->storage[i] == ',')
			n++;
	}
	if (n > KB_NAMELIST_MAX_NAMES)
		return KB_ERR_NAMELIST_INVALID;
	if ((list->names = calloc(n, sizeof(*list->names))) == NULL)
		return KB_ERR_ALLOC_FAIL;

	start = 0;
	for (i = 0; i <= list->raw_len; i++) {
		if (i < list->raw_len && list->storage[i] != ',')
			continue;
		list->storage[i] = '\0';
		list->names[list->count] = list->storage + start;
		if (orig != NULL)
			list->flags |= namelist_check_name(orig + start,
			    i - start);
		list->count++;
		start = i + 1;
	}
	return KB_OK;
}

int
kb_namelist_parse(struct kb_namelist *list, const uint8_t *data, size_t len)
{
	int dup, r = KB_ERR_INTERNAL;
	size_t i;

	if (list == NULL || (data == NULL && len != 0))
		return KB_ERR_INVALID_ARGUMENT;
	memset(list, 0, sizeof(*list));
	if (len > KB_NAMELIST_MAX_BYTES)
		return KB_ERR_NAMELIST_INVALID;

	if ((list->raw = malloc(len + 1)) == NULL ||
	    (list->storage = malloc(len + 1)) == NULL) {
		r = KB_ERR_ALLOC_FAIL;
		goto out;
	}
	for (i = 0; i < len; i++)
		list->raw[i] = data[i] == '\0' ? '?' : (char)data[i];
	list->raw[len] = '\0';
	list->raw_len = len;
	memcpy(list->storage, list->raw, len + 1);
	if (len > KB_NAMELIST_LONG_BYTES)
		list->flags |= KB_NL_LIST_TOO_LONG;

	/* An empty string is an empty list, not one empty name. */
	if (len == 0) {
		r = KB_OK;
		goto out;
	}
	if ((r = namelist_split(list, data)) != 0)
		goto out;
	if ((r = namelist_has_duplicate(list, &dup)) != 0)
		goto out;
	if (dup)
		list->flags |= KB_NL_DUPLICATE;
	r = KB_OK;
 out:
	if (r != 0)
		kb_namelist_free(list);
	return r;
}

int
kb_namelist_from_str(struct kb_namelist *list, const char *str)
{
	if (str == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	return kb_namelist_parse(list, (const uint8_t *)str, strlen(str));
}

int
kb_namelist_copy(struct kb_namelist *dst, const struct kb_namelist *src)
{
	int r = KB_ERR_ALLOC_FAIL;

	if (dst == NULL || src == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	memset(dst, 0, sizeof(*dst));
	if (src->raw == NULL)
		return KB_OK;
	if ((dst->raw = malloc(src->raw_len + 1)) == NULL ||
	    (dst->storage = malloc(src->raw_len + 1)) == NULL)
		goto out;
	memcpy(dst->raw, src->raw, src->raw_len + 1);
	memcpy(dst->storage, src->raw, src->raw_len + 1);
	dst->raw_len = src->raw_len;
	/* The flags came from the original bytes, which the raw copy lost. */
	dst->flags = src->flags;
	if (src->raw_len != 0 && (r = namelist_split(dst, NULL)) != 0)
		goto out;
	r = KB_OK;
 out:
	if (r != 0)
		kb_namelist_free(dst);
	return r;
}

void
kb_namelist_free(struct kb_namelist *list)
{
	if (list == NULL)
		return;
	free(list->raw);
	free(list->names);
	free(list->storage);
	memset(list, 0, sizeof(*list));
}

bool
kb_namelist_contains(const struct kb_namelist *list, const char *name)
{
	size_t i;

	if (list == NULL || name == NULL || *name == '\0')
		return false;
	for (i = 0; i < list->count; i++) {
		if (strcmp(list->names[i], name) == 0)
			return true;
	}
	return false;
}

static const struct {
	unsigned int flag;
	const char *name;
} namelist_flag_names[] = {
	{ KB_NL_EMPTY_NAME,	N_("empty name") },
	{ KB_NL_SPACE,		N_("whitespace in a name") },
	{ KB_NL_DUPLICATE,	N_("duplicate name") },
	{ KB_NL_NONPRINTABLE,	N_("non-printable byte") },
	{ KB_NL_NAME_TOO_LONG,	N_("name longer than 64 characters") },
	{ KB_NL_LIST_TOO_LONG,	N_("list longer than 4096 bytes") },
};

const char *
kb_namelist_flags_str(unsigned int flags, char *out, size_t outlen)
{
	size_t i, used = 0;
	int n;

	if (out == NULL || outlen == 0)
		return "";
	out[0] = '\0';
	for (i = 0; i < sizeof(namelist_flag_names) / sizeof(namelist_flag_names[0]); i++) {
		if ((flags & namelist_flag_names[i].flag) == 0)
			continue;
		n = snprintf(out + used, outlen - used, "%s%s",
		    used == 0 ? "" : ", ", _(namelist_flag_names[i].name));
		/* On truncation snprintf has already terminated out. */
		if (n < 0 || (size_t)n >= outlen - used)
			break;
		used += (size_t)n;
	}
	return out;
}
