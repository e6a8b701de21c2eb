/* Subcommands of the kexbridge program; each returns the process exit status. */
#ifndef KEXBRIDGE_CLI_H
#define KEXBRIDGE_CLI_H

/* Exit statuses shared by the subcommands. */
#define KB_EXIT_OK		0
#define KB_EXIT_MISMATCH	1	/* probe: a profile cannot negotiate */
#define KB_EXIT_ERROR		2	/* bad usage, unreachable, timed out, not SSH */

/* argv[0] is the subcommand name; options follow. */
/*
 * Prints "kexbridge COMMAND: " and the message to stderr, then the hint to
 * run COMMAND --help; returns KB_EXIT_ERROR.
 */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int cmd_run(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_pcap(int argc, char **argv);
int cmd_algorithms(int argc, char **argv);

#endif
