/*
 * Advice for a negotiation: what each side would need to add for every failed
 * category, and which agreed algorithms are weak.
 *
 * The client is often an appliance that cannot be reconfigured (a UCS fabric
 * interconnect), so the server-side items come first. When the server's
 * version line names OpenSSH, the advice keeps to names that release
 * supports and to the sshd_config syntax it understands.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kexbridge/advice.h"
#include "kexbridge/algdb.h"
#include "kexbridge/err.h"
#include "kexbridge/i18n.h"
#include "kexbridge/log.h"

struct advice_names {
	const char **names;
	size_t count;
};

/* Server software as recognised from its version line. */
struct advice_server {
	/* OpenSSH release as major * 100 + minor, or 0 when not OpenSSH. */
	int openssh;
	char software[32];
};

/*
 * Reads "OpenSSH_7.4p1" or "OpenSSH_for_Windows_8.1" from the
 * softwareversion field (RFC 4253 section 4.2).
 */
static void
advice_parse_server(const struct kb_version *version, struct advice_server *server)
{
	const char *p;
	long major, minor;
	char *end;

	memset(server, 0, sizeof(*server));
	if (version == NULL || strncmp(version->software, "OpenSSH_", 8) != 0)
		return;
	p = version->software + 8;
	if (strncmp(p, "for_Windows_", 12) == 0)
		p += 12;
	if (!isdigit((unsigned char)*p))
		return;
	major = strtol(p, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1]))
		return;
	minor = strtol(end + 1, NULL, 10);
	if (major < 1 || major > 99 || minor < 0 || minor > 99)
		return;
	server->openssh = (int)(major * 100 + minor);
	snprintf(server->software, sizeof(server->software), "OpenSSH %ld.%ld",
	    major, minor);
}

static bool
advice_openssh_supports(const char *name, enum kb_alg_class class, int release)
{
	const struct kb_alg_info *info = kb_alg_lookup_class(name, class);

	if (info == NULL || info->openssh_since == 0 || info->openssh_since > release)
		return false;
	return info->openssh_removed == 0 || release < info->openssh_removed;
}

/*
 * sshd cannot load security-key host keys, and a host certificate needs a CA
 * as well as a key, so neither is advised as something the server can add.
 */
static bool
advice_server_can_add(const char *name, enum kb_category cat)
{
	if (cat != KB_CAT_HOSTKEY)
		return true;
	return strncmp(name, "sk-", 3) != 0 && strstr(name, "-cert-v01@") == NULL;
}

static int
advice_strength(const char *name, enum kb_alg_class class, bool *weak)
{
	const struct kb_alg_info *info = kb_alg_lookup_class(name, class);

	*weak = info != NULL && info->weak != 0;
	return info == NULL ? -1 : info->strength;
}

/* Orders a before b: non-weak first when asked, then stronger first. */
static bool
advice_before(const char *a, const char *b, enum kb_alg_class class, bool nonweak_first)
{
	bool aweak, bweak;
	int as = advice_strength(a, class, &aweak);
	int bs = advice_strength(b, class, &bweak);

	if (nonweak_first && aweak != bweak)
		return !aweak;
	return as > bs;
}

/* A stable insertion sort; lists hold at most KB_NAMELIST_MAX_NAMES names. */
static void
advice_sort(struct advice_names *v, enum kb_alg_class class, bool nonweak_first)
{
	const char *name;
	size_t i, j;

	for (i = 1; i < v->count; i++) {
		name = v->names[i];
		for (j = i; j > 0 && advice_before(name, v->names[j - 1], class,
		    nonweak_first); j--)
			v->names[j] = v->names[j - 1];
		v->names[j] = name;
	}
}

static bool
advice_names_has(const struct advice_names *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->count; i++) {
		if (strcmp(v->names[i], name) == 0)
			return true;
	}
	return false;
}

/*
 * Collects the names of list that could be chosen (non-empty, not a pseudo
 * name, each once). With release > 0, only those that OpenSSH release
 * supports. An unrestricted list contributes nothing.
 */
static int
advice_collect(const struct kb_kexinit *kexinit, enum kb_category cat,
    int release, bool server_side, struct advice_names *out)
{
	const struct kb_namelist *list = &kexinit->lists[cat];
	enum kb_alg_class class = kb_alg_class_of(cat);
	const char *name;
	size_t i;

	out->count = 0;
	out->names = NULL;
	if ((kexinit->unrestricted & (1u << cat)) != 0 || list->count == 0)
		return KB_OK;
	if ((out->names = calloc(list->count, sizeof(*out->names))) == NULL)
		return KB_ERR_ALLOC_FAIL;
	for (i = 0; i < list->count; i++) {
		name = list->names[i];
		if (name[0] == '\0' || kb_name_is_pseudo(name) ||
		    advice_names_has(out, name))
			continue;
		if (server_side && !advice_server_can_add(name, cat))
			continue;
		if (release > 0 && !advice_openssh_supports(name, class, release))
			continue;
		out->names[out->count++] = name;
	}
	return KB_OK;
}

/* Joins names with commas, after prefix; returns a new string or NULL. */
static char *
advice_join(const char *prefix, const struct advice_names *v, const char *suffix)
{
	char *s = NULL;
	size_t len = 0, i;
	FILE *f;

	if ((f = open_memstream(&s, &len)) == NULL)
		return NULL;
	fputs(prefix, f);
	for (i = 0; i < v->count; i++)
		fprintf(f, "%s%s", i > 0 ? "," : "", v->names[i]);
	if (suffix != NULL)
		fprintf(f, "%s%s", v->count > 0 ? "," : "", suffix);
	if (fclose(f) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

static struct kb_advice_item *
advice_add(struct kb_advice *advice, enum kb_advice_kind kind, enum kb_category cat)
{
	struct kb_advice_item *items, *item;

	items = realloc(advice->items, (advice->count + 1) * sizeof(*items));
	if (items == NULL)
		return NULL;
	advice->items = items;
	item = &items[advice->count++];
	memset(item, 0, sizeof(*item));
	item->kind = kind;
	item->category = cat;
	return item;
}

static const char *const sshd_keywords[] = {
	[KB_CAT_KEX] = "KexAlgorithms",
	[KB_CAT_HOSTKEY] = "HostKeyAlgorithms",
	[KB_CAT_CIPHER_C2S] = "Ciphers",
	[KB_CAT_CIPHER_S2C] = "Ciphers",
	[KB_CAT_MAC_C2S] = "MACs",
	[KB_CAT_MAC_S2C] = "MACs",
	[KB_CAT_COMP_C2S] = "Compression",
	[KB_CAT_COMP_S2C] = "Compression",
};

/*
 * The sshd_config line that makes an OpenSSH server offer name. Compression
 * is a yes/no switch, not a list. For the other keywords the line lists what
 * the server offers today (without the markers sshd adds itself) followed by
 * name. "Keyword +name" would be shorter, but "+" appends to sshd's default
 * set, so on a server configured with an explicit legacy list it would drop
 * the old algorithms other clients of that server still need. sshd takes
 * HostKeyAlgorithms lists only from KB_OPENSSH_PLUS_SYNTAX_HOSTKEY on; older
 * releases offer what their HostKey files allow, so that case gets no line
 * here but a HostKey item.
 */
static char *
advice_sshd_line(const struct kb_kexinit *server, enum kb_category cat,
    int release, const char *name)
{
	struct advice_names current;
	char prefix[64];
	char *line;

	if (cat == KB_CAT_COMP_C2S || cat == KB_CAT_COMP_S2C)
		return strdup(strcmp(name, "none") == 0 ? "Compression no" :
		    "Compression yes");
	if (cat == KB_CAT_HOSTKEY && release < KB_OPENSSH_PLUS_SYNTAX_HOSTKEY)
		return NULL;
	if (advice_collect(server, cat, 0, false, &current) != 0)
		return NULL;
	snprintf(prefix, sizeof(prefix), "%s ", sshd_keywords[cat]);
	line = advice_join(prefix, &current, name);
	free(current.names);
	return line;
}

static int
advice_set_names(struct kb_advice_item *item, const struct advice_names *v)
{
	if ((item->names = advice_join("", v, NULL)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	return KB_OK;
}

/* Host key files that ssh-keygen writes for sshd (ssh-keygen -A names them). */
struct advice_keytype {
	const char *alg;
	const char *family;
	const char *keygen;	/* ssh-keygen -t and -b arguments */
	const char *file;
};

static const struct advice_keytype keytypes[] = {
	{ "ssh-ed25519", "ed25519", "ed25519", "/etc/ssh/ssh_host_ed25519_key" },
	{ "ecdsa-sha2-nistp256", "ecdsa256", "ecdsa -b 256", "/etc/ssh/ssh_host_ecdsa_key" },
	{ "ecdsa-sha2-nistp384", "ecdsa384", "ecdsa -b 384", "/etc/ssh/ssh_host_ecdsa_key" },
	{ "ecdsa-sha2-nistp521", "ecdsa521", "ecdsa -b 521", "/etc/ssh/ssh_host_ecdsa_key" },
	{ "rsa-sha2-512", "rsa", "rsa -b 3072", "/etc/ssh/ssh_host_rsa_key" },
	{ "rsa-sha2-256", "rsa", "rsa -b 3072", "/etc/ssh/ssh_host_rsa_key" },
	{ "ssh-rsa", "rsa", "rsa -b 3072", "/etc/ssh/ssh_host_rsa_key" },
	{ "ssh-dss", "dsa", "dsa", "/etc/ssh/ssh_host_dsa_key" },
};

static const struct advice_keytype *
advice_keytype(const char *alg)
{
	size_t i;

	for (i = 0; i < sizeof(keytypes) / sizeof(keytypes[0]); i++) {
		if (strcmp(keytypes[i].alg, alg) == 0)
			return &keytypes[i];
	}
	return NULL;
}

static bool
advice_server_has_family(const struct kb_kexinit *server, const char *family)
{
	const struct kb_namelist *list = &server->lists[KB_CAT_HOSTKEY];
	const struct advice_keytype *kt;
	size_t i;

	for (i = 0; i < list->count; i++) {
		if ((kt = advice_keytype(list->names[i])) != NULL &&
		    strcmp(kt->family, family) == 0)
			return true;
	}
	return false;
}

/*
 * A host key algorithm needs a host key of its type: sshd offers only the
 * algorithms for the HostKey files it loaded. Advises a key for the
 * strongest wanted algorithm whose key type the server does not show.
 */
static int
advice_add_hostkey_file(struct kb_advice *advice, const struct kb_kexinit *server,
    const struct advice_names *wanted, const struct advice_server *sw)
{
	const struct advice_keytype *kt;
	struct kb_advice_item *item;
	size_t i;

	for (i = 0; i < wanted->count; i++) {
		if ((kt = advice_keytype(wanted->names[i])) == NULL)
			continue;
		if (advice_server_has_family(server, kt->family))
			return KB_OK;
		if ((item = advice_add(advice, KB_ADVICE_HOSTKEY_FILE, KB_CAT_HOSTKEY)) == NULL)
			return KB_ERR_ALLOC_FAIL;
		if ((item->names = strdup(kt->alg)) == NULL ||
		    asprintf(&item->config_line, "HostKey %s", kt->file) < 0) {
			item->config_line = NULL;
			return KB_ERR_ALLOC_FAIL;
		}
		if (sw->openssh > 0 && (item->software = strdup(sw->software)) == NULL)
			return KB_ERR_ALLOC_FAIL;
		return KB_OK;
	}
	return KB_OK;
}

/*
 * Moves the host key algorithms whose key type the server already has to
 * the front, keeping their order: enabling rsa-sha2-512 for an existing RSA
 * key needs no new host key, and a new host key would make every client see
 * a changed key.
 */
static void
advice_prefer_existing_keys(const struct kb_kexinit *server, struct advice_names *v)
{
	const struct advice_keytype *kt;
	const char *name;
	size_t i, j, front = 0;

	for (i = 0; i < v->count; i++) {
		kt = advice_keytype(v->names[i]);
		if (kt == NULL || !advice_server_has_family(server, kt->family))
			continue;
		name = v->names[i];
		for (j = i; j > front; j--)
			v->names[j] = v->names[j - 1];
		v->names[front++] = name;
	}
}

/* What the server would need to add for one failed category. */
static int
advice_for_server(struct kb_advice *advice, const struct kb_kexinit *client,
    const struct kb_kexinit *server, enum kb_category cat, const struct advice_server *sw)
{
	struct advice_names all = { NULL, 0 }, supported = { NULL, 0 };
	enum kb_alg_class class = kb_alg_class_of(cat);
	struct kb_advice_item *item;
	const struct advice_names *use;
	int r;

	if ((r = advice_collect(client, cat, 0, true, &all)) != 0)
		goto out;
	if (all.count == 0)
		goto out;
	advice_sort(&all, class, false);
	use = &all;
	if (sw->openssh > 0) {
		if ((r = advice_collect(client, cat, sw->openssh, true, &supported)) != 0)
			goto out;
		advice_sort(&supported, class, false);
		use = &supported;
	}
	if (cat == KB_CAT_HOSTKEY) {
		advice_prefer_existing_keys(server, &all);
		advice_prefer_existing_keys(server, &supported);
	}

	r = KB_ERR_ALLOC_FAIL;
	if (use->count == 0) {
		/* This release has none of the names: only an upgrade helps. */
		if ((item = advice_add(advice, KB_ADVICE_SERVER_UPGRADE, cat)) == NULL ||
		    advice_set_names(item, &all) != 0 ||
		    (item->software = strdup(sw->software)) == NULL)
			goto out;
		r = KB_OK;
		goto out;
	}
	if ((item = advice_add(advice, KB_ADVICE_SERVER_ADD, cat)) == NULL ||
	    advice_set_names(item, use) != 0)
		goto out;
	if (sw->openssh > 0) {
		if ((item->software = strdup(sw->software)) == NULL)
			goto out;
		/* NULL only for a host key on a release that takes no list. */
		item->config_line = advice_sshd_line(server, cat, sw->openssh,
		    use->names[0]);
	}
	r = KB_OK;
	if (cat == KB_CAT_HOSTKEY)
		r = advice_add_hostkey_file(advice, server, use, sw);
 out:
	free(all.names);
	free(supported.names);
	return r;
}

/* What the client would need to add: the server's names, non-weak first. */
static int
advice_for_client(struct kb_advice *advice, const struct kb_kexinit *server,
    enum kb_category cat)
{
	struct advice_names names = { NULL, 0 };
	struct kb_advice_item *item;
	int r;

	if ((r = advice_collect(server, cat, 0, false, &names)) != 0 || names.count == 0)
		goto out;
	advice_sort(&names, kb_alg_class_of(cat), true);
	if ((item = advice_add(advice, KB_ADVICE_CLIENT_ADD, cat)) == NULL ||
	    advice_set_names(item, &names) != 0)
		r = KB_ERR_ALLOC_FAIL;
 out:
	free(names.names);
	return r;
}

/* One item per weak agreed algorithm; a direction repeating the other is skipped. */
static int
advice_for_weak(struct kb_advice *advice, const struct kb_negotiation *neg)
{
	const struct kb_alg_info *info;
	struct kb_advice_item *item;
	enum kb_category cat;

	for (cat = KB_CAT_KEX; cat < KB_CAT_COMP_C2S; cat++) {
		if (neg->status[cat] != KB_CHOICE_AGREED)
			continue;
		if ((cat == KB_CAT_CIPHER_S2C || cat == KB_CAT_MAC_S2C) &&
		    neg->chosen[cat - 1] != NULL &&
		    strcmp(neg->chosen[cat - 1], neg->chosen[cat]) == 0)
			continue;
		info = kb_alg_lookup_class(neg->chosen[cat], kb_alg_class_of(cat));
		if (info == NULL || info->weak == 0)
			continue;
		if ((item = advice_add(advice, KB_ADVICE_WEAK, cat)) == NULL ||
		    (item->names = strdup(neg->chosen[cat])) == NULL)
			return KB_ERR_ALLOC_FAIL;
		item->weak = info->weak;
	}
	return KB_OK;
}

static int
advice_for_malformed(struct kb_advice *advice, const struct kb_kexinit *kexinit,
    bool client_side)
{
	unsigned int flags = kb_kexinit_flags(kexinit);
	struct kb_advice_item *item;

	if (flags == 0)
		return KB_OK;
	if ((item = advice_add(advice, KB_ADVICE_MALFORMED_LIST, KB_CAT_KEX)) == NULL)
		return KB_ERR_ALLOC_FAIL;
	item->weak = flags;
	item->client_side = client_side;
	return KB_OK;
}

static bool
advice_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/*
 * Folds each server-to-client item into the matching client-to-server item
 * when both say the same thing, so an operator reads one line per remedy.
 */
static void
advice_merge_directions(struct kb_advice *advice)
{
	struct kb_advice_item *item, *twin;
	size_t i, j;

	for (i = 0; i < advice->count; i++) {
		item = &advice->items[i];
		if (item->category != KB_CAT_CIPHER_S2C && item->category != KB_CAT_MAC_S2C &&
		    item->category != KB_CAT_COMP_S2C)
			continue;
		for (j = 0; j < i; j++) {
			twin = &advice->items[j];
			if (twin->kind == item->kind && twin->category == item->category - 1 &&
			    advice_str_equal(twin->names, item->names) &&
			    advice_str_equal(twin->config_line, item->config_line))
				break;
		}
		if (j == i)
			continue;
		advice->items[j].both_directions = true;
		free(item->names);
		free(item->config_line);
		free(item->software);
		memmove(item, item + 1, (advice->count - i - 1) * sizeof(*item));
		advice->count--;
		i--;
	}
}

int
kb_advice_build(const struct kb_kexinit *client, const struct kb_kexinit *server,
    const struct kb_version *server_version, const struct kb_negotiation *neg,
    struct kb_advice *out)
{
	struct advice_server sw;
	enum kb_category cat;
	int r = KB_OK;

	memset(out, 0, sizeof(*out));
	if (client == NULL || server == NULL || neg == NULL)
		return KB_ERR_INVALID_ARGUMENT;
	advice_parse_server(server_version, &sw);

	for (cat = KB_CAT_KEX; r == 0 && cat < KB_CAT_NEGOTIATED; cat++) {
		if ((neg->failed & (1u << cat)) != 0)
			r = advice_for_server(out, client, server, cat, &sw);
	}
	for (cat = KB_CAT_KEX; r == 0 && cat < KB_CAT_NEGOTIATED; cat++) {
		if ((neg->failed & (1u << cat)) != 0)
			r = advice_for_client(out, server, cat);
	}
	if (r == 0)
		advice_merge_directions(out);
	if (r == 0 && neg->failed == 0)
		r = advice_for_weak(out, neg);
	if (r == 0)
		r = advice_for_malformed(out, client, true);
	if (r == 0)
		r = advice_for_malformed(out, server, false);
	if (r != 0)
		kb_advice_free(out);
	return r;
}

void
kb_advice_free(struct kb_advice *advice)
{
	size_t i;

	if (advice == NULL)
		return;
	for (i = 0; i < advice->count; i++) {
		free(advice->items[i].names);
		free(advice->items[i].config_line);
		free(advice->items[i].software);
	}
	free(advice->items);
	advice->items = NULL;
	advice->count = 0;
}

/* Selects the English text or its translation; xgettext finds msgid by N_(). */
#define ADVICE_TR(translate, msgid)	((translate) ? _(msgid) : (msgid))

static const char *
advice_category_noun(enum kb_category cat, bool both_directions, bool translate)
{
	if (both_directions) {
		switch (cat) {
		case KB_CAT_CIPHER_C2S:
			return ADVICE_TR(translate, N_("cipher"));
		case KB_CAT_MAC_C2S:
			return ADVICE_TR(translate, N_("MAC"));
		case KB_CAT_COMP_C2S:
			return ADVICE_TR(translate, N_("compression method"));
		default:
			break;
		}
	}
	switch (cat) {
	case KB_CAT_KEX:
		return ADVICE_TR(translate, N_("kex algorithm"));
	case KB_CAT_HOSTKEY:
		return ADVICE_TR(translate, N_("host key algorithm"));
	case KB_CAT_CIPHER_C2S:
		return ADVICE_TR(translate, N_("client-to-server cipher"));
	case KB_CAT_CIPHER_S2C:
		return ADVICE_TR(translate, N_("server-to-client cipher"));
	case KB_CAT_MAC_C2S:
		return ADVICE_TR(translate, N_("client-to-server MAC"));
	case KB_CAT_MAC_S2C:
		return ADVICE_TR(translate, N_("server-to-client MAC"));
	case KB_CAT_COMP_C2S:
		return ADVICE_TR(translate, N_("client-to-server compression method"));
	case KB_CAT_COMP_S2C:
		return ADVICE_TR(translate, N_("server-to-client compression method"));
	default:
		return ADVICE_TR(translate, N_("language"));
	}
}

static const struct {
	unsigned int flag;
	const char *text;
} malformed_reasons[] = {
	{ KB_NL_EMPTY_NAME, N_("empty name") },
	{ KB_NL_SPACE, N_("whitespace in a name") },
	{ KB_NL_DUPLICATE, N_("duplicate name") },
	{ KB_NL_NONPRINTABLE, N_("byte outside printable ASCII") },
	{ KB_NL_NAME_TOO_LONG, N_("name over 64 characters") },
	{ KB_NL_LIST_TOO_LONG, N_("list over 4096 bytes") },
};

static void
advice_put_malformed(FILE *f, unsigned int flags, bool translate)
{
	const char *sep = "";
	size_t i;

	for (i = 0; i < sizeof(malformed_reasons) / sizeof(malformed_reasons[0]); i++) {
		if ((flags & malformed_reasons[i].flag) == 0)
			continue;
		fprintf(f, "%s%s", sep, ADVICE_TR(translate, malformed_reasons[i].text));
		sep = ", ";
	}
}

/* Peer bytes escaped for a log line; returns a new string or NULL. */
static char *
advice_escape(const char *s)
{
	size_t len, cap;
	char *out;

	if (s == NULL)
		return strdup("");
	len = strlen(s);
	cap = len * 4 + 1;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	return (char *)kb_log_escape(out, cap, s, len);
}

static void
advice_put_hostkey_file(FILE *f, const char *alg, const char *line, bool translate)
{
	const struct advice_keytype *kt = advice_keytype(alg);

	if (kt == NULL) {
		fprintf(f, ADVICE_TR(translate, N_("Server needs a host key for %s. "
		    "In sshd_config: %s")), alg, line);
		return;
	}
	fprintf(f, ADVICE_TR(translate, N_("Server needs a host key for %s: "
	    "create it with \"ssh-keygen -t %s -f %s -N ''\". In sshd_config: %s")),
	    alg, kt->keygen, kt->file, line);
}

static void
advice_put_item(FILE *f, const struct kb_advice_item *item, const char *names,
    const char *line, bool translate)
{
	const char *noun = advice_category_noun(item->category,
	    item->both_directions, translate);
	char reasons[256];

	switch (item->kind) {
	case KB_ADVICE_SERVER_ADD:
		fprintf(f, ADVICE_TR(translate, N_("Server must add a %s the client "
		    "offers: %s.")), noun, names);
		/*
		 * sshd takes the first value it reads for a keyword, so a line
		 * added below an existing one would be ignored.
		 */
		if (item->config_line != NULL)
			fprintf(f, ADVICE_TR(translate, N_(" In sshd_config, replacing "
			    "any existing line for that keyword: %s")), line);
		break;
	case KB_ADVICE_CLIENT_ADD:
		fprintf(f, ADVICE_TR(translate, N_("Client must add a %s the server "
		    "offers: %s.")), noun, names);
		break;
	case KB_ADVICE_SERVER_UPGRADE:
		fprintf(f, ADVICE_TR(translate, N_("%s supports no %s the client offers "
		    "(%s): upgrade the server.")),
		    item->software != NULL ? item->software :
		    ADVICE_TR(translate, N_("The server software")), noun, names);
		break;
	case KB_ADVICE_HOSTKEY_FILE:
		advice_put_hostkey_file(f, names, line, translate);
		break;
	case KB_ADVICE_WEAK:
		kb_alg_weak_str_lang(item->weak, translate, reasons, sizeof(reasons));
		fprintf(f, ADVICE_TR(translate, N_("Agreed %s %s is weak: %s.")),
		    noun, names, reasons);
		break;
	case KB_ADVICE_MALFORMED_LIST:
		fputs(item->client_side ?
		    ADVICE_TR(translate, N_("Client sends malformed name-lists: ")) :
		    ADVICE_TR(translate, N_("Server sends malformed name-lists: ")), f);
		advice_put_malformed(f, item->weak, translate);
		fputc('.', f);
		break;
	}
}

char *
kb_advice_format(const struct kb_advice_item *item, bool translate)
{
	char *names = NULL, *line = NULL, *text = NULL;
	size_t len = 0;
	FILE *f = NULL;

	if (item == NULL)
		return NULL;
	if ((names = advice_escape(item->names)) == NULL ||
	    (line = advice_escape(item->config_line)) == NULL ||
	    (f = open_memstream(&text, &len)) == NULL)
		goto out;
	advice_put_item(f, item, names, line, translate);
	if (fclose(f) != 0) {
		free(text);
		text = NULL;
	}
 out:
	free(names);
	free(line);
	return text;
}
