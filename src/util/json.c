/*
 * A JSON writer for one object per line (RFC 8259).
 *
 * The output is valid JSON for any input bytes: control characters, the
 * quote and the backslash are escaped, and every byte that is not part of a
 * well-formed UTF-8 sequence is written as \u00XX with the byte's value.
 * Nesting beyond JSON_MAX_DEPTH is dropped, with everything inside it, so a
 * caller bug cannot make the writer emit unbalanced brackets.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/json.h"

#define JSON_MAX_DEPTH	32

struct kb_json {
	char *text;
	size_t len;
	size_t cap;
	/* Container stack: '}' or ']' per open level; level 0 is the top object. */
	char closers[JSON_MAX_DEPTH];
	/* Whether the container at each level already has a member. */
	bool has_member[JSON_MAX_DEPTH];
	size_t depth;
	/* Levels begun beyond JSON_MAX_DEPTH; their contents are dropped. */
	size_t dropped;
	bool oom;
	bool finished;
};

static void
json_put(struct kb_json *json, const char *data, size_t len)
{
	size_t need, cap;
	char *p;

	if (json->oom)
		return;
	need = json->len + len + 1;
	if (need > json->cap) {
		cap = json->cap == 0 ? 256 : json->cap;
		while (cap < need)
			cap *= 2;
		if ((p = realloc(json->text, cap)) == NULL) {
			json->oom = true;
			return;
		}
		json->text = p;
		json->cap = cap;
	}
	memcpy(json->text + json->len, data, len);
	json->len += len;
	json->text[json->len] = '\0';
}

static void
json_putc(struct kb_json *json, char c)
{
	json_put(json, &c, 1);
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 section 4), or 0. */
static size_t
json_utf8_len(const unsigned char *s, size_t avail)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n > avail)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Reject overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static void
json_put_string(struct kb_json *json, const char *value, size_t len)
{
	const unsigned char *s = (const unsigned char *)value;
	char esc[8];
	size_t i = 0, n;

	json_putc(json, '"');
	while (i < len) {
		if (s[i] == '"' || s[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)s[i];
			json_put(json, esc, 2);
			i++;
			continue;
		}
		if (s[i] < 0x20 || s[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
			json_put(json, esc, 6);
			i++;
			continue;
		}
		if ((n = json_utf8_len(s + i, len - i)) == 0) {
			/* Not UTF-8: keep the byte's value visible. */
			snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
			json_put(json, esc, 6);
			i++;
			continue;
		}
		json_put(json, value + i, n);
		i += n;
	}
	json_putc(json, '"');
}

/*
 * Writes the separator and the key for a new member. Returns false when the
 * member is to be dropped (inside levels beyond the depth limit, or after
 * kb_json_finish).
 */
static bool
json_begin_member(struct kb_json *json, const char *key)
{
	size_t top;

	if (json == NULL || json->finished || json->dropped > 0)
		return false;
	top = json->depth - 1;
	if (json->has_member[top])
		json_putc(json, ',');
	json->has_member[top] = true;
	if (json->closers[top] == '}') {
		/* An object member needs a key; a missing one becomes "". */
		json_put_string(json, key == NULL ? "" : key,
		    key == NULL ? 0 : strlen(key));
		json_putc(json, ':');
	}
	return true;
}

struct kb_json *
kb_json_new(void)
{
	struct kb_json *json;

	if ((json = calloc(1, sizeof(*json))) == NULL)
		return NULL;
	json->closers[0] = '}';
	json->depth = 1;
	json_putc(json, '{');
	if (json->oom) {
		kb_json_free(json);
		return NULL;
	}
	return json;
}

void
kb_json_free(struct kb_json *json)
{
	if (json == NULL)
		return;
	free(json->text);
	free(json);
}

void
kb_json_str(struct kb_json *json, const char *key, const char *value)
{
	if (value == NULL) {
		kb_json_null(json, key);
		return;
	}
	kb_json_strn(json, key, value, strlen(value));
}

void
kb_json_strn(struct kb_json *json, const char *key, const char *value, size_t len)
{
	if (value == NULL) {
		kb_json_null(json, key);
		return;
	}
	if (!json_begin_member(json, key))
		return;
	json_put_string(json, value, len);
}

static void
json_put_number(struct kb_json *json, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
json_put_number(struct kb_json *json, const char *key, const char *fmt, ...)
{
	char num[64];
	va_list ap;
	int n;

	if (!json_begin_member(json, key))
		return;
	va_start(ap, fmt);
	n = vsnprintf(num, sizeof(num), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(num)) {
		json_put(json, "null", 4);
		return;
	}
	json_put(json, num, (size_t)n);
}

void
kb_json_int(struct kb_json *json, const char *key, int64_t value)
{
	json_put_number(json, key, "%lld", (long long)value);
}

void
kb_json_uint(struct kb_json *json, const char *key, uint64_t value)
{
	json_put_number(json, key, "%llu", (unsigned long long)value);
}

static void
json_put_fixed(struct kb_json *json, const char *key, double value)
{
	char num[64];
	int n;

	if (!json_begin_member(json, key))
		return;
	n = snprintf(num, sizeof(num), "%.6f", value);
	if (n < 0 || (size_t)n >= sizeof(num)) {
		json_put(json, "null", 4);
		return;
	}
	while (n > 1 && num[n - 1] == '0')
		n--;
	if (num[n - 1] == '.')
		n--;
	/* "-0" is valid JSON but reads oddly for a duration. */
	if (n == 2 && num[0] == '-' && num[1] == '0') {
		num[0] = '0';
		n = 1;
	}
	json_put(json, num, (size_t)n);
}

void
kb_json_double(struct kb_json *json, const char *key, double value)
{
	/* JSON has no NaN or infinity. */
	if (!isfinite(value)) {
		kb_json_null(json, key);
		return;
	}
	/*
	 * Fixed notation to the microsecond, without trailing zeros: durations
	 * read as 0.000072, never as 7.2e-05 or 0.011400000000000001. Values
	 * beyond 1e15 keep %g, since %f would print digits they do not have.
	 */
	if (fabs(value) >= 1e15) {
		json_put_number(json, key, "%.15g", value);
		return;
	}
	json_put_fixed(json, key, value);
}

void
kb_json_bool(struct kb_json *json, const char *key, bool value)
{
	if (!json_begin_member(json, key))
		return;
	if (value)
		json_put(json, "true", 4);
	else
		json_put(json, "false", 5);
}

void
kb_json_null(struct kb_json *json, const char *key)
{
	if (!json_begin_member(json, key))
		return;
	json_put(json, "null", 4);
}

static void
json_open(struct kb_json *json, const char *key, char opener, char closer)
{
	if (json == NULL || json->finished)
		return;
	if (json->dropped > 0 || json->depth == JSON_MAX_DEPTH) {
		json->dropped++;
		return;
	}
	if (!json_begin_member(json, key))
		return;
	json_putc(json, opener);
	json->closers[json->depth] = closer;
	json->has_member[json->depth] = false;
	json->depth++;
}

static void
json_close(struct kb_json *json, char closer)
{
	if (json == NULL || json->finished)
		return;
	if (json->dropped > 0) {
		json->dropped--;
		return;
	}
	/* Never close the top-level object here, and never the wrong kind. */
	if (json->depth <= 1 || json->closers[json->depth - 1] != closer)
		return;
	json->depth--;
	json_putc(json, closer);
}

void
kb_json_object_begin(struct kb_json *json, const char *key)
{
	json_open(json, key, '{', '}');
}

void
kb_json_object_end(struct kb_json *json)
{
	json_close(json, '}');
}

void
kb_json_array_begin(struct kb_json *json, const char *key)
{
	json_open(json, key, '[', ']');
}

void
kb_json_array_end(struct kb_json *json)
{
	json_close(json, ']');
}

const char *
kb_json_finish(struct kb_json *json)
{
	if (json == NULL)
		return NULL;
	if (!json->finished) {
		while (json->depth > 0) {
			json->depth--;
			json_putc(json, json->closers[json->depth]);
		}
		json->dropped = 0;
		json->finished = true;
	}
	if (json->oom)
		return NULL;
	return json->text;
}
