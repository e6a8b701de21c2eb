#include "config.h"

#include <sys/ioctl.h>

#include <langinfo.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"

#include "table.h"

/* Spaces between two columns. */
#define TABLE_GAP		2
/* A column is never cut below this many display columns. */
#define TABLE_MIN_WIDTH		12
/* Hard limits, far above any real KEXINIT: 10 lists of 1024 names. */
#define TABLE_MAX_COLUMNS	8
#define TABLE_MAX_ROWS		(16 * 1024)

struct table_cell {
	char *text;
	enum table_attr attr;
};

struct table_row {
	enum table_row_kind kind;
	struct table_cell cells[TABLE_MAX_COLUMNS];
};

struct table {
	size_t columns;
	struct table_row *rows;
	size_t count;
	size_t alloc;
};

static const char *const table_sgr[] = {
	[TABLE_PLAIN] = "",
	[TABLE_BOLD] = "\033[1m",
	[TABLE_GOOD] = "\033[1;32m",
	[TABLE_BAD] = "\033[1;31m",
	[TABLE_DIM] = "\033[2m",
};

int
table_color_mode_parse(const char *arg, enum table_color_mode *mode)
{
	if (strcmp(arg, "auto") == 0)
		*mode = TABLE_COLOR_AUTO;
	else if (strcmp(arg, "always") == 0)
		*mode = TABLE_COLOR_ALWAYS;
	else if (strcmp(arg, "never") == 0)
		*mode = TABLE_COLOR_NEVER;
	else
		return KB_ERR_INVALID_ARGUMENT;
	return KB_OK;
}

void
table_style_init(struct table_style *style, enum table_color_mode mode)
{
	const char *no_color = getenv("NO_COLOR");
	bool tty = isatty(STDOUT_FILENO) == 1;
	struct winsize ws;

	/* https://no-color.org: a non-empty NO_COLOR turns colors off unless
	 * the user asks for them explicitly. */
	if (mode == TABLE_COLOR_AUTO)
		style->color = tty && (no_color == NULL || no_color[0] == '\0');
	else
		style->color = mode == TABLE_COLOR_ALWAYS;
	style->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	style->width = 0;
	if (tty) {
		style->width = 80;
		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
			style->width = ws.ws_col;
	}
}

/* Building a table. */

struct table *
table_new(size_t columns)
{
	struct table *table;

	if (columns == 0 || columns > TABLE_MAX_COLUMNS)
		return NULL;
	if ((table = calloc(1, sizeof(*table))) == NULL)
		return NULL;
	table->columns = columns;
	return table;
}

void
table_free(struct table *table)
{
	size_t i, c;

	if (table == NULL)
		return;
	for (i = 0; i < table->count; i++)
		for (c = 0; c < table->columns; c++)
			free(table->rows[i].cells[c].text);
	free(table->rows);
	free(table);
}

int
table_add_row(struct table *table, enum table_row_kind kind)
{
	struct table_row *rows;
	size_t alloc;

	if (table->count == TABLE_MAX_ROWS)
		return KB_ERR_BUFFER_LIMIT;
	if (table->count == table->alloc) {
		alloc = table->alloc == 0 ? 32 : table->alloc * 2;
		if ((rows = reallocarray(table->rows, alloc, sizeof(*rows))) == NULL)
			return KB_ERR_ALLOC_FAIL;
		table->rows = rows;
		table->alloc = alloc;
	}
	memset(&table->rows[table->count], 0, sizeof(table->rows[0]));
	table->rows[table->count++].kind = kind;
	return KB_OK;
}

int
table_set(struct table *table, size_t column, enum table_attr attr,
    const char *text)
{
	struct table_cell *cell;

	if (table->count == 0 || column >= table->columns)
		return KB_ERR_INVALID_ARGUMENT;
	cell = &table->rows[table->count - 1].cells[column];
	free(cell->text);
	if ((cell->text = strdup(text)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	cell->attr = attr;
	return KB_OK;
}

/* Measuring and printing. */

/*
 * Returns the display width of text. With limit >= 0 it also sets *cut to
 * the byte length of the longest prefix at most limit columns wide.
 */
static int
table_text_width(const char *text, int limit, size_t *cut)
{
	mbstate_t ps;
	size_t len = strlen(text), off = 0, n;
	int width = 0, w;
	wchar_t wc;

	memset(&ps, 0, sizeof(ps));
	if (cut != NULL)
		*cut = len;
	while (off < len) {
		n = mbrtowc(&wc, text + off, len - off, &ps);
		if (n == (size_t)-1 || n == (size_t)-2) {
			memset(&ps, 0, sizeof(ps));
			n = 1;
			w = 1;
		} else if ((w = wcwidth(wc)) < 0)
			w = 1;
		if (limit >= 0 && width + w > limit) {
			*cut = off;
			break;
		}
		width += w;
		off += n == 0 ? 1 : n;
	}
	return width;
}

int
table_width(const char *text)
{
	return table_text_width(text, -1, NULL);
}

static void
table_print_cell(FILE *out, const struct table_style *style,
    const struct table_cell *cell, int width, bool pad)
{
	const char *text = cell->text != NULL ? cell->text : "";
	const char *ellipsis = style->utf8 ? "…" : "~";
	int shown = table_text_width(text, -1, NULL);
	size_t cut;

	if (cell->attr != TABLE_PLAIN && style->color && text[0] != '\0')
		fputs(table_sgr[cell->attr], out);
	if (shown > width) {
		/* Cut one column short and mark the cut. */
		shown = table_text_width(text, width - 1, &cut);
		fwrite(text, 1, cut, out);
		fputs(ellipsis, out);
		shown++;
	} else
		fputs(text, out);
	if (cell->attr != TABLE_PLAIN && style->color && text[0] != '\0')
		fputs("\033[0m", out);
	for (; pad && shown < width; shown++)
		fputc(' ', out);
}

/* Shrinks the widest column until the table fits the terminal. */
static void
table_fit(int *widths, size_t columns, int avail)
{
	int total, widest;
	size_t c, pick;

	for (;;) {
		total = 0;
		pick = 0;
		widest = 0;
		for (c = 0; c < columns; c++) {
			total += widths[c] + (c > 0 ? TABLE_GAP : 0);
			if (widths[c] > widest) {
				widest = widths[c];
				pick = c;
			}
		}
		if (total <= avail || widest <= TABLE_MIN_WIDTH)
			return;
		widths[pick]--;
	}
}

static void
table_print_rule(FILE *out, const struct table_style *style, const int *widths,
    size_t columns, int indent)
{
	size_t c;
	int i;

	fprintf(out, "%*s", indent, "");
	for (c = 0; c < columns; c++) {
		if (c > 0)
			fprintf(out, "%*s", TABLE_GAP, "");
		for (i = 0; i < widths[c]; i++)
			fputs(style->utf8 ? "─" : "-", out);
	}
	fputc('\n', out);
}

void
table_print(const struct table *table, FILE *out,
    const struct table_style *style, int indent)
{
	int widths[TABLE_MAX_COLUMNS] = { 0 }, w;
	size_t i, c, last;

	for (i = 0; i < table->count; i++)
		for (c = 0; c < table->columns; c++) {
			const char *text = table->rows[i].cells[c].text;

			w = text != NULL ? table_text_width(text, -1, NULL) : 0;
			if (w > widths[c])
				widths[c] = w;
		}
	if (style->width > 0)
		table_fit(widths, table->columns, style->width - indent);

	for (i = 0; i < table->count; i++) {
		const struct table_row *row = &table->rows[i];

		if (row->kind == TABLE_ROW_BREAK) {
			fputc('\n', out);
			continue;
		}
		/* No padding after the last non-empty cell. */
		for (last = table->columns; last > 0; last--)
			if (row->cells[last - 1].text != NULL)
				break;
		fprintf(out, "%*s", last > 0 ? indent : 0, "");
		for (c = 0; c < last; c++) {
			if (c > 0)
				fprintf(out, "%*s", TABLE_GAP, "");
			table_print_cell(out, style, &row->cells[c], widths[c],
			    c + 1 < last);
		}
		fputc('\n', out);
		if (row->kind == TABLE_ROW_HEADER)
			table_print_rule(out, style, widths, table->columns, indent);
	}
}

void
table_put(FILE *out, const struct table_style *style, enum table_attr attr,
    const char *text)
{
	if (style->color && attr != TABLE_PLAIN)
		fprintf(out, "%s%s\033[0m", table_sgr[attr], text);
	else
		fputs(text, out);
}

char *
table_escape(const char *src, size_t len)
{
	size_t size;
	char *dst;

	if (len > (SIZE_MAX - 1) / 4)
		return NULL;
	size = len * 4 + 1;
	if ((dst = malloc(size)) == NULL)
		return NULL;
	kb_log_escape(dst, size, src, len);
	return dst;
}

/* Copies text with control characters and invalid bytes written as \xNN. */
static char *
table_sanitize(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t len = strlen(text), n;
	char *copy, *q;
	mbstate_t ps;
	wchar_t wc;

	if (len > (SIZE_MAX - 1) / 4 || (copy = malloc(len * 4 + 1)) == NULL)
		return NULL;
	q = copy;
	memset(&ps, 0, sizeof(ps));
	while (*p != '\0') {
		n = mbrtowc(&wc, (const char *)p, strlen((const char *)p), &ps);
		/* C0 and C1 controls could move the cursor or recolor. */
		if (n == (size_t)-1 || n == (size_t)-2 || wc < 0x20 ||
		    (wc >= 0x7f && wc < 0xa0)) {
			memset(&ps, 0, sizeof(ps));
			q += sprintf(q, "\\x%02x", *p++);
			continue;
		}
		memcpy(q, p, n);
		q += n;
		p += n;
	}
	*q = '\0';
	return copy;
}

void
table_put_text(FILE *out, const char *text)
{
	char *clean;

	if ((clean = table_sanitize(text)) != NULL)
		fputs(clean, out);
	free(clean);
}

void
table_put_wrapped(FILE *out, const struct table_style *style,
    const char *text, int column, int indent)
{
	char *clean, *segment, *next;
	char saved;
	int width;

	if ((clean = table_sanitize(text)) == NULL)
		return;
	/* Break after a space or a comma, so long name lists wrap too. */
	for (segment = clean; *segment != '\0'; segment = next) {
		next = segment + strcspn(segment, " ,");
		if (*next != '\0')
			next++;
		saved = *next;
		*next = '\0';
		width = table_text_width(segment, -1, NULL);
		if (style->width > 0 && column > indent &&
		    column + width - (next[-1] == ' ') > style->width) {
			fprintf(out, "\n%*s", indent, "");
			column = indent;
		}
		fputs(segment, out);
		column += width;
		*next = saved;
	}
	fputc('\n', out);
	free(clean);
}

/* Negotiation and offer tables. */

/* Pairs of directions, shown as one block when they are identical. */
static const char *const table_pair_label[KB_CAT_COUNT] = {
	[KB_CAT_CIPHER_C2S] = "cipher",
	[KB_CAT_MAC_C2S] = "mac",
	[KB_CAT_COMP_C2S] = "comp",
	[KB_CAT_LANG_C2S] = "lang",
};

static bool
table_lists_equal(const struct kb_namelist *a, const struct kb_namelist *b)
{
	/* An empty list may have raw == NULL, and memcmp on NULL is undefined. */
	return a->raw_len == b->raw_len &&
	    (a->raw_len == 0 || memcmp(a->raw, b->raw, a->raw_len) == 0);
}

static bool
table_offer_pair_equal(const struct kb_kexinit *offer, int cat)
{
	unsigned int open = offer->unrestricted;

	return table_lists_equal(&offer->lists[cat], &offer->lists[cat + 1]) &&
	    ((open >> cat) & 1) == ((open >> (cat + 1)) & 1);
}

/* True when cat is a c2s category whose s2c twin shows the same thing. */
static bool
table_merge_pair(int cat, const struct kb_kexinit *client,
    const struct kb_kexinit *server, const struct kb_negotiation *neg)
{
	if (table_pair_label[cat] == NULL)
		return false;
	if (!table_offer_pair_equal(client, cat) ||
	    (server != NULL && !table_offer_pair_equal(server, cat)))
		return false;
	if (neg == NULL || cat + 1 >= KB_CAT_NEGOTIATED)
		return true;
	if (neg->status[cat] != neg->status[cat + 1])
		return false;
	if (neg->chosen[cat] == NULL || neg->chosen[cat + 1] == NULL)
		return neg->chosen[cat] == neg->chosen[cat + 1];
	return strcmp(neg->chosen[cat], neg->chosen[cat + 1]) == 0;
}

/* Sets one name of a list as a cell: marked and green when it was chosen. */
static int
table_set_name(struct table *table, size_t column,
    const struct table_style *style, const struct kb_kexinit *offer, int cat,
    size_t index, const char *chosen)
{
	const struct kb_namelist *list = &offer->lists[cat];
	enum table_attr attr = TABLE_PLAIN;
	const char *name, *marker = "  ";
	char *escaped, *text;
	int r;

	if ((offer->unrestricted >> cat) & 1)
		return index == 0 ?
		    table_set(table, column, TABLE_DIM, _("(any)")) : KB_OK;
	if (index >= list->count)
		return KB_OK;
	name = list->names[index];
	if (name[0] == '\0')
		return table_set(table, column, TABLE_DIM, _("(empty name)"));

	if (chosen != NULL && strcmp(name, chosen) == 0) {
		marker = style->utf8 ? "▶ " : "* ";
		attr = TABLE_GOOD;
	} else if (kb_name_is_pseudo(name))
		attr = TABLE_DIM;
	if ((escaped = table_escape(name, strlen(name))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	r = asprintf(&text, "%s%s", chosen != NULL ? marker : "", escaped);
	free(escaped);
	if (r < 0)
		return KB_ERR_ALLOC_FAIL;
	r = table_set(table, column, attr, text);
	free(text);
	return r;
}

static size_t
table_list_rows(const struct kb_kexinit *offer, int cat)
{
	if ((offer->unrestricted >> cat) & 1)
		return 1;
	return offer->lists[cat].count;
}

static int
table_add_negotiation_block(struct table *table, const struct table_style *style,
    int cat, const char *label, const struct kb_kexinit *client,
    const struct kb_kexinit *server, const struct kb_negotiation *neg)
{
	const char *status = NULL;
	enum table_attr status_attr = TABLE_DIM;
	size_t rows, i;
	int r = KB_OK;

	if (neg->status[cat] == KB_CHOICE_FAILED) {
		status = _("no common algorithm");
		status_attr = TABLE_BAD;
	} else if (neg->status[cat] == KB_CHOICE_IMPLICIT)
		status = _("covered by AEAD");

	rows = table_list_rows(client, cat);
	if (table_list_rows(server, cat) > rows)
		rows = table_list_rows(server, cat);
	if (rows < (status != NULL ? 2 : 1))
		rows = status != NULL ? 2 : 1;

	for (i = 0; i < rows && r == KB_OK; i++) {
		if ((r = table_add_row(table, TABLE_ROW_BODY)) != KB_OK)
			break;
		if (i == 0)
			r = table_set(table, 0, status_attr == TABLE_BAD ?
			    TABLE_BAD : TABLE_BOLD, label);
		else if (i == 1 && status != NULL)
			r = table_set(table, 0, status_attr, status);
		if (r == KB_OK)
			r = table_set_name(table, 1, style, client, cat, i,
			    neg->chosen[cat]);
		if (r == KB_OK)
			r = table_set_name(table, 2, style, server, cat, i,
			    neg->chosen[cat]);
	}
	return r;
}

int
table_print_negotiation(FILE *out, const struct table_style *style,
    const char *client_label, const struct kb_kexinit *client,
    const char *server_label, const struct kb_kexinit *server,
    const struct kb_negotiation *neg)
{
	struct table *table;
	const char *label;
	int cat, r;

	if ((table = table_new(3)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = table_add_row(table, TABLE_ROW_HEADER)) != KB_OK ||
	    (r = table_set(table, 0, TABLE_BOLD, _("category"))) != KB_OK ||
	    (r = table_set(table, 1, TABLE_BOLD, client_label)) != KB_OK ||
	    (r = table_set(table, 2, TABLE_BOLD, server_label)) != KB_OK)
		goto out;

	for (cat = 0; cat < KB_CAT_NEGOTIATED; cat++) {
		label = kb_category_key((enum kb_category)cat);
		if (table_merge_pair(cat, client, server, neg))
			label = table_pair_label[cat];
		if ((cat > 0 && (r = table_add_row(table, TABLE_ROW_BREAK)) != KB_OK) ||
		    (r = table_add_negotiation_block(table, style, cat, label,
		    client, server, neg)) != KB_OK)
			goto out;
		if (label == table_pair_label[cat])
			cat++;
	}
	table_print(table, out, style, 2);
 out:
	table_free(table);
	return r;
}

int
table_print_offer(FILE *out, const struct table_style *style,
    const char *label, const struct kb_kexinit *offer)
{
	struct table *table;
	size_t i, rows;
	int cat, r;
	bool merged;

	if ((table = table_new(2)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	if ((r = table_add_row(table, TABLE_ROW_HEADER)) != KB_OK ||
	    (r = table_set(table, 0, TABLE_BOLD, _("category"))) != KB_OK ||
	    (r = table_set(table, 1, TABLE_BOLD, label)) != KB_OK)
		goto out;

	for (cat = 0; cat < KB_CAT_COUNT; cat++) {
		merged = table_merge_pair(cat, offer, NULL, NULL);
		rows = table_list_rows(offer, cat);
		/* Language lists are almost always empty; show them only when not. */
		if (cat >= KB_CAT_LANG_C2S && rows == 0)
			continue;
		if (cat > 0 && (r = table_add_row(table, TABLE_ROW_BREAK)) != KB_OK)
			goto out;
		for (i = 0; i < (rows > 0 ? rows : 1); i++) {
			if ((r = table_add_row(table, TABLE_ROW_BODY)) != KB_OK ||
			    (i == 0 && (r = table_set(table, 0, TABLE_BOLD, merged ?
			    table_pair_label[cat] :
			    kb_category_key((enum kb_category)cat))) != KB_OK) ||
			    (r = table_set_name(table, 1, style, offer, cat, i,
			    NULL)) != KB_OK)
				goto out;
		}
		if (merged)
			cat++;
	}
	table_print(table, out, style, 2);
 out:
	table_free(table);
	return r;
}
