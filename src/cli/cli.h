/* Subcommands of the kexbridge program; each returns the process exit status. */
#ifndef KEXBRIDGE_CLI_H
#define KEXBRIDGE_CLI_H

/* Exit statuses shared by the subcommands. */
#define KB_EXIT_OK		0
#define KB_EXIT_MISMATCH	1	/* probe: a profile cannot negotiate */
#define KB_EXIT_ERROR		2	/* bad usage, unreachable, timed out, not SSH */

/*
 * Prints "kexbridge COMMAND: " and the message to stderr, then the hint to
 * run COMMAND --help; returns KB_EXIT_ERROR.
 */
int cli_usage_error(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Reports the option getopt_long() just rejected, which main() keeps it
 * from reporting itself (opterr = 0), so that the message is translated
 * and names the command. Returns KB_EXIT_ERROR.
 */
int cli_bad_option(const char *command, char *const *argv);

/* argv[0] is the subcommand name; options follow. */
int cmd_run(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_capture(int argc, char **argv);
int cmd_pcap(int argc, char **argv);
int cmd_algorithms(int argc, char **argv);

#endif
