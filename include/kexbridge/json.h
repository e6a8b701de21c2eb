/*
 * A small writer for one JSON object per line (the JSON-lines event stream).
 * Strings from peers may hold any byte: control characters and bytes that are
 * not valid UTF-8 are escaped so the output is always valid JSON.
 */
#ifndef KEXBRIDGE_JSON_H
#define KEXBRIDGE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kb_json;

/* Starts a new top-level object. */
struct kb_json *kb_json_new(void);
void kb_json_free(struct kb_json *json);

/* Members of the current object; key NULL inside an array. */
void kb_json_str(struct kb_json *json, const char *key, const char *value);
void kb_json_strn(struct kb_json *json, const char *key, const char *value, size_t len);
void kb_json_int(struct kb_json *json, const char *key, int64_t value);
void kb_json_uint(struct kb_json *json, const char *key, uint64_t value);
void kb_json_double(struct kb_json *json, const char *key, double value);
void kb_json_bool(struct kb_json *json, const char *key, bool value);
void kb_json_null(struct kb_json *json, const char *key);
void kb_json_object_begin(struct kb_json *json, const char *key);
void kb_json_object_end(struct kb_json *json);
void kb_json_array_begin(struct kb_json *json, const char *key);
void kb_json_array_end(struct kb_json *json);

/*
 * Closes every open object and array and returns the text without a trailing
 * newline; the string belongs to json. Returns NULL if memory ran out.
 */
const char *kb_json_finish(struct kb_json *json);

#endif
