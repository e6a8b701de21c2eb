/*
 * kexbridge: dispatches to the subcommands.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "kexbridge/i18n.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;	/* marked with N_(), translated when printed */
};

static const struct subcommand subcommands[] = {
	{ "run", cmd_run,
	    N_("relay SSH connections and log each algorithm negotiation") },
	{ "probe", cmd_probe,
	    N_("read a server's offer and check it against client profiles") },
	{ "capture", cmd_capture,
	    N_("record a client's offer as a profile") },
	{ "pcap", cmd_pcap,
	    N_("read the SSH negotiations in a packet capture file") },
	{ "algorithms", cmd_algorithms,
	    N_("list the algorithms this build can use on each side") },
	{ NULL, NULL, NULL },
};

/* Returns the subcommand called name, or NULL. */
static const struct subcommand *
main_find(const char *name)
{
	size_t i;

	for (i = 0; subcommands[i].name != NULL; i++) {
		if (strcmp(name, subcommands[i].name) == 0)
			return &subcommands[i];
	}
	return NULL;
}

static void
main_usage(FILE *out)
{
	size_t i;

	fprintf(out, "%s", _("Usage: kexbridge COMMAND [OPTION]...\n"
	    "\n"
	    "Shows why an SSH client and server cannot agree on algorithms.\n"
	    "\n"
	    "Commands:\n"));
	for (i = 0; subcommands[i].name != NULL; i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, _(subcommands[i].summary));
	fprintf(out, "  %-10s %s\n", "help", _("show this help"));
	fprintf(out, "%s", _("\n"
	    "Options:\n"
	    "  -h, --help     show this help and exit\n"
	    "  -V, --version  show the version and exit\n"
	    "\n"
	    "Run 'kexbridge COMMAND --help' for the options of a command.\n"));
}

int
main(int argc, char **argv)
{
	const struct subcommand *cmd;
	const char *name;

	kb_i18n_init();
	if (argc < 2) {
		main_usage(stderr);
		return KB_EXIT_ERROR;
	}
	name = argv[1];
	/* The commands report a rejected option themselves (cli_bad_option). */
	opterr = 0;
	/* "kexbridge help COMMAND" is "kexbridge COMMAND --help". */
	if (strcmp(name, "help") == 0 && argc > 2 && (cmd = main_find(argv[2])) != NULL) {
		static char help_opt[] = "--help";
		char *help_argv[] = { argv[2], help_opt, NULL };

		return cmd->run(2, help_argv);
	}
	if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 ||
	    strcmp(name, "-h") == 0) {
		main_usage(stdout);
		return KB_EXIT_OK;
	}
	if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
		printf("kexbridge %s\n", PACKAGE_VERSION);
		return KB_EXIT_OK;
	}
	if ((cmd = main_find(name)) != NULL)
		return cmd->run(argc - 1, argv + 1);
	fprintf(stderr, _("kexbridge: unknown command '%s'; run 'kexbridge --help' for the list\n"),
	    name);
	return KB_EXIT_ERROR;
}
