/*
 * Terminal tables for `kexbridge probe` and `kexbridge capture`: columns sized
 * to their longest cell, colors where the user wants them, and cells cut
 * short only when a terminal is too narrow.
 */
#ifndef KEXBRIDGE_CLI_TABLE_H
#define KEXBRIDGE_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kexbridge/kexinit.h"
#include "kexbridge/negotiate.h"

enum table_color_mode {
	TABLE_COLOR_AUTO,	/* on a terminal, unless NO_COLOR is set */
	TABLE_COLOR_ALWAYS,
	TABLE_COLOR_NEVER,
};

/* Parses "auto", "always" or "never"; returns KB_OK or KB_ERR_INVALID_ARGUMENT. */
int table_color_mode_parse(const char *arg, enum table_color_mode *mode);

struct table_style {
	bool color;
	/* The locale encodes UTF-8, so "▶" and "…" can be printed. */
	bool utf8;
	/* Terminal width in columns; 0 when output is not a terminal. */
	int width;
};

/* Sets up a style for stdout (isatty, TIOCGWINSZ, NO_COLOR, the locale). */
void table_style_init(struct table_style *style, enum table_color_mode mode);

enum table_attr {
	TABLE_PLAIN,
	TABLE_BOLD,
	TABLE_GOOD,	/* green: the chosen name, OK */
	TABLE_BAD,	/* red: a failed category */
	TABLE_DIM,	/* pseudo-algorithms, "(any)" */
};

enum table_row_kind {
	TABLE_ROW_HEADER,	/* bold, underlined by a rule */
	TABLE_ROW_BODY,
	TABLE_ROW_BREAK,	/* an empty line between blocks */
};

struct table;

struct table *table_new(size_t columns);
void table_free(struct table *table);
/* Starts a new row; the cells of the previous one are final. */
int table_add_row(struct table *table, enum table_row_kind kind);
/* Sets a cell of the last row to a copy of text, which must be printable. */
int table_set(struct table *table, size_t column, enum table_attr attr,
    const char *text);
/* Prints the table, each line preceded by indent spaces. */
void table_print(const struct table *table, FILE *out,
    const struct table_style *style, int indent);

/* Returns the number of terminal columns text takes in the current locale. */
int table_width(const char *text);
/* Writes text to out in attr's color when the style has colors. */
void table_put(FILE *out, const struct table_style *style, enum table_attr attr,
    const char *text);
/*
 * Returns a copy of a string from a peer with every byte outside printable
 * ASCII written as \xNN, or NULL if memory ran out. The caller frees it.
 */
char *table_escape(const char *src, size_t len);
/*
 * Writes translated text that may contain names from a peer: valid UTF-8
 * passes, control characters and invalid bytes are written as \xNN.
 */
void table_put_text(FILE *out, const char *text);
/*
 * Writes text as table_put_text() does, then a newline. On a terminal the
 * text is wrapped at spaces and commas to the style's width: column is where
 * the cursor starts and indent where continuation lines start.
 */
void table_put_wrapped(FILE *out, const struct table_style *style,
    const char *text, int column, int indent);

/*
 * Prints one block per negotiated category: the client's list against the
 * server's, the chosen name marked, failed categories named. Directions
 * with identical lists and results share one block.
 */
int table_print_negotiation(FILE *out, const struct table_style *style,
    const char *client_label, const struct kb_kexinit *client,
    const char *server_label, const struct kb_kexinit *server,
    const struct kb_negotiation *neg);

/* Prints one block per category of a captured offer. */
int table_print_offer(FILE *out, const struct table_style *style,
    const char *label, const struct kb_kexinit *offer);

#endif
