/*
 * Logging for the daemon: text lines to stderr or syslog, or one JSON object
 * per line. Every line about a connection carries its session id.
 */
#ifndef KEXBRIDGE_LOG_H
#define KEXBRIDGE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct kb_json;

enum kb_log_level {
	KB_LOG_ERROR,	/* our own failures */
	KB_LOG_WARN,
	KB_LOG_INFO,	/* session events, peer misbehaviour */
	KB_LOG_DEBUG,	/* protocol steps */
};

enum kb_log_format {
	KB_LOG_TEXT,
	KB_LOG_JSON,
};

enum kb_log_target {
	KB_LOG_STDERR,
	KB_LOG_SYSLOG,
};

void kb_log_init(const char *ident, enum kb_log_format format,
    enum kb_log_target target, enum kb_log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int kb_log_level_from_str(const char *str);
bool kb_log_enabled(enum kb_log_level level);
enum kb_log_format kb_log_format(void);

/*
 * Logs a message. fmt is an English message id: text logs show it
 * translated, the JSON stream keeps it English. xgettext extracts the
 * third argument of kb_log (see po/Makevars). session may be NULL. In JSON format the line becomes
 * {"ts":..,"level":..,"event":"message","session":..,"message":..}.
 */
void kb_log(enum kb_log_level level, const char *session, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void kb_logv(enum kb_log_level level, const char *session, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Returns msgid translated for text logs, or unchanged for the JSON stream;
 * for message arguments that are themselves messages.
 */
const char *kb_log_tr(const char *msgid) __attribute__((format_arg(1)));

/*
 * Logs a structured event: in JSON format, json (an object begun with
 * kb_json_new() holding "event" and its members) gets "ts" and "level" and is
 * written as one line; in text format, text is written instead. Takes
 * ownership of json and frees it.
 */
void kb_log_event(enum kb_log_level level, const char *session,
    struct kb_json *json, const char *text);

/*
 * Copies src into dst with every byte outside printable ASCII written as
 * \xNN, so strings from peers cannot forge log lines. Truncates to dstlen.
 */
const char *kb_log_escape(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
