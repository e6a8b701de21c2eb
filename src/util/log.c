/*
 * Logging for the daemon. Text lines go to stderr with an ISO 8601 UTC time
 * stamp, or to syslog; the JSON format writes one object per line. Each line
 * is built in memory first and written with one write(2), so lines from one
 * process never interleave.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "kexbridge/json.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"

static struct {
	const char *ident;
	enum kb_log_format format;
	enum kb_log_target target;
	enum kb_log_level level;
} log_state = { "kexbridge", KB_LOG_TEXT, KB_LOG_STDERR, KB_LOG_INFO };

/* Indexed by enum kb_log_level. */
static const char *const level_keys[] = { "error", "warn", "info", "debug" };
static const char *const level_labels[] = { "ERROR", "WARN", "INFO", "DEBUG" };
static const int level_priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void
kb_log_init(const char *ident, enum kb_log_format format,
    enum kb_log_target target, enum kb_log_level level)
{
	if (log_state.target == KB_LOG_SYSLOG)
		closelog();
	log_state.ident = ident != NULL ? ident : "kexbridge";
	log_state.format = format;
	log_state.target = target;
	log_state.level = level;
	if (target == KB_LOG_SYSLOG)
		openlog(log_state.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
kb_log_level_from_str(const char *str)
{
	size_t i;

	if (str == NULL)
		return -1;
	for (i = 0; i < sizeof(level_keys) / sizeof(level_keys[0]); i++) {
		if (strcmp(str, level_keys[i]) == 0)
			return (int)i;
	}
	return -1;
}

bool
kb_log_enabled(enum kb_log_level level)
{
	return level <= log_state.level;
}

enum kb_log_format
kb_log_format(void)
{
	return log_state.format;
}

/* Writes "2026-12-04T19:49:10.123Z" (UTC, milliseconds) into out. */
static void
log_format_time(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;
	char date[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%03dZ", date, (int)((ts.tv_nsec / 1000000) % 1000));
}

/* Writes all of line to stderr, retrying only after a signal or short write. */
static void
log_write_stderr(const char *line, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDERR_FILENO, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		line += n;
		len -= (size_t)n;
	}
}

/*
 * Sends one finished line to the target. For stderr, prefix is the part
 * before body (time stamp, ident, level) and a newline is added.
 */
static void
log_emit(enum kb_log_level level, const char *prefix, const char *body)
{
	char *line = NULL;
	int len;

	if (log_state.target == KB_LOG_SYSLOG) {
		syslog(level_priorities[level], "%s", body);
		return;
	}
	len = asprintf(&line, "%s%s\n", prefix, body);
	if (len < 0)
		return;
	log_write_stderr(line, (size_t)len);
	free(line);
}

/*
 * Merges a finished event object with a prefix object holding "ts", "level"
 * and "session", and writes the result as one line. event is "{...}".
 */
static void
log_emit_json(enum kb_log_level level, const char *session, const char *event)
{
	struct kb_json *head;
	const char *head_text;
	char ts[64], *line = NULL;
	size_t head_len;

	head = kb_json_new();
	if (head == NULL)
		return;
	log_format_time(ts, sizeof(ts));
	kb_json_str(head, "ts", ts);
	kb_json_str(head, "level", level_keys[level]);
	if (session != NULL)
		kb_json_str(head, "session", session);
	head_text = kb_json_finish(head);
	if (head_text == NULL || event == NULL || event[0] != '{')
		goto out;

	/* Drop the head's closing brace and the event's opening one. */
	head_len = strlen(head_text) - 1;
	if (asprintf(&line, "%.*s%s%s", (int)head_len, head_text,
	    strcmp(event, "{}") == 0 ? "" : ",", event + 1) < 0) {
		line = NULL;
		goto out;
	}
	log_emit(level, "", line);
 out:
	free(line);
	kb_json_free(head);
}

static void
log_emit_text(enum kb_log_level level, const char *session, const char *text)
{
	char ts[64], *prefix = NULL;

	if (log_state.target == KB_LOG_SYSLOG) {
		if (session == NULL) {
			syslog(level_priorities[level], "%s", text);
			return;
		}
		syslog(level_priorities[level], "%s: %s", session, text);
		return;
	}
	log_format_time(ts, sizeof(ts));
	if (asprintf(&prefix, "%s %s[%ld]: %s %s%s", ts, log_state.ident,
	    (long)getpid(), level_labels[level], session != NULL ? session : "",
	    session != NULL ? ": " : "") < 0)
		return;
	log_emit(level, prefix, text);
	free(prefix);
}

void
kb_logv(enum kb_log_level level, const char *session, const char *fmt, va_list ap)
{
	struct kb_json *json;
	char *message = NULL;

	if (!kb_log_enabled(level))
		return;
	/* The JSON stream is English for machines; text lines are for people. */
	if (vasprintf(&message, kb_log_tr(fmt), ap) < 0)
		return;
	if (log_state.format == KB_LOG_TEXT) {
		log_emit_text(level, session, message);
		free(message);
		return;
	}
	json = kb_json_new();
	if (json != NULL) {
		kb_json_str(json, "event", "message");
		kb_json_str(json, "message", message);
	}
	free(message);
	kb_log_event(level, session, json, NULL);
}

const char *
kb_log_tr(const char *msgid)
{
	return log_state.format == KB_LOG_JSON ? msgid : gettext(msgid);
}

void
kb_log(enum kb_log_level level, const char *session, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kb_logv(level, session, fmt, ap);
	va_end(ap);
}

void
kb_log_event(enum kb_log_level level, const char *session,
    struct kb_json *json, const char *text)
{
	if (!kb_log_enabled(level))
		goto out;
	if (log_state.format == KB_LOG_JSON) {
		if (json != NULL)
			log_emit_json(level, session, kb_json_finish(json));
		goto out;
	}
	if (text != NULL)
		log_emit_text(level, session, text);
 out:
	kb_json_free(json);
}

const char *
kb_log_escape(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t i, o = 0;
	unsigned char c;

	if (dstlen == 0)
		return dst;
	for (i = 0; i < srclen; i++) {
		c = (unsigned char)src[i];
		if (c >= 0x20 && c <= 0x7e && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
			continue;
		}
		/* An escape is written whole or not at all. */
		if (o + 4 >= dstlen)
			break;
		snprintf(dst + o, 5, "\\x%02x", c);
		o += 4;
	}
	dst[o] = '\0';
	return dst;
}
