/* Helpers shared by the subcommands. */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>

#include "kexbridge/i18n.h"
#include "cli.h"

int
cli_bad_option(const char *command, char *const *argv)
{
	return cli_usage_error(command, _("unknown option or missing value: %s"),
	    argv[optind - 1]);
}

int
cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kexbridge %s: ", command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fprintf(stderr, _("Try 'kexbridge %s --help' for more information.\n"), command);
	return KB_EXIT_ERROR;
}
