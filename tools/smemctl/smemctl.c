// SPDX-License-Identifier: GPL-2.0
/*
 * smemctl: status, loading, pool size and a self-test of smem on the
 * running system.  This file is the entry point: the table of commands,
 * what they share for options and messages, and the end of every run.
 *
 *   smemctl [status] [-j|--json|--prometheus]
 *                                    what is loaded, the device, the pool,
 *                                    what needs attention, and what libsmem
 *                                    would give a program (status.c)
 *   smemctl load [PARAM=VALUE...]    load the module (libkmod), with options
 *   smemctl unload                   unload it (module.c)
 *   smemctl pool grow|shrink|set SIZE
 *                                    resize the carved pool (pool.c)
 *   smemctl selftest                 a secret end to end, and another
 *                                    process trying to read it (selftest.c)
 *
 * Every command takes --help, which needs neither the module nor root,
 * and rejects an option it does not know with EXIT_USAGE.  What a command
 * prints goes to stdout, which is closed here: a report that could not
 * be written is a failure, whatever the command's own status.  Exit codes:
 * see man/man8/smemctl.8 and enum exit_code in smemctl.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <smem.h>

#include "smemctl.h"

static int cmd_help(int argc, char **argv);

/* status first: the command when none is given. */
static const struct smemctl_cmd cmds[] = {
	{ "status", cmd_status, "the module, the device, the pool, warnings, libsmem's backend" },
	{ "load", cmd_load, "load the module: load [PARAM=VALUE...]" },
	{ "unload", cmd_unload, "unload the module" },
	{ "pool", cmd_pool, "resize a carved pool: pool grow|shrink|set SIZE" },
	{ "selftest", cmd_selftest, "a secret end to end, and another process trying to read it" },
	{ "help", cmd_help, "this text" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

void smemctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("smemctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A command's --help: its usage on stdout, needing nothing else. */
int smemctl_help(const char *usage)
{
	fputs(usage, stdout);
	return EXIT_OK;
}

/*
 * getopt_long() returned '?' (opterr is 0: the message is ours).  A short
 * option is in optopt; a long one, or one getopt could not name, is the
 * argument it stopped after.
 */
int smemctl_bad_option(const char *cmd, char **argv)
{
	if (optopt)
		smemctl_err("%s: unknown option '-%c'", cmd, optopt);
	else
		smemctl_err("%s: unknown option '%s'", cmd, argv[optind - 1]);
	fprintf(stderr, "  see smemctl %s --help\n", cmd);
	return EXIT_USAGE;
}

static const struct option help_only[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/*
 * The options of a command that has none but --help (argv[0] is its
 * name): -1 when it goes on, with its operands from argv[optind] if it
 * takes any (@operands), else its exit status.
 */
int smemctl_help_only(int argc, char **argv, const char *usage, bool operands)
{
	int c = getopt_long(argc, argv, "+h", help_only, NULL);

	if (c == 'h')
		return smemctl_help(usage);
	if (c != -1)
		return smemctl_bad_option(argv[0], argv);
	if (!operands && optind < argc) {
		smemctl_err("%s: takes no arguments", argv[0]);
		return EXIT_USAGE;
	}
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: smemctl [COMMAND] [OPTION...] [ARG...]\n"
		"commands (status when none is given; COMMAND --help says more):\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-10s%s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "options:\n"
		"  -h, --help      this text\n"
		"  -V, --version   smemctl's version\n"
		"See smemctl(8).\n");
}

static int cmd_help(int argc, char **argv)
{
	(void)argc, (void)argv;
	usage(stdout);
	return EXIT_OK;
}

static const struct smemctl_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

/*
 * stdout is buffered: a full disk, /dev/full or a reader that went away
 * shows only when the buffer is written, often here at the end.
 */
static int close_stdout(int code)
{
	int err = fflush(stdout) ? errno : 0;

	if (ferror(stdout) && !err)
		err = EIO;	/* an earlier write failed; its errno is gone */
	if (fclose(stdout) && !err)
		err = errno;
	if (!err)
		return code;
	smemctl_err("write error on standard output: %s", strerror(err));
	return EXIT_FAIL;
}

int main(int argc, char **argv)
{
	const struct smemctl_cmd *cmd = &cmds[0];

	/* Every command reports a bad option itself (smemctl_bad_option()). */
	opterr = 0;
	if (argc > 1 && argv[1][0] != '-') {
		cmd = find_cmd(argv[1]);
		if (!cmd) {
			smemctl_err("unknown command '%s'", argv[1]);
			usage(stderr);
			return EXIT_USAGE;
		}
		argc--;
		argv++;
	} else if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return close_stdout(EXIT_OK);
	} else if (argc > 1 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
		printf("smemctl %s\n", SMEM_VERSION);
		return close_stdout(EXIT_OK);
	}
	/* Without a command, the options are status's: "smemctl --json". */
	return close_stdout(cmd->fn(argc, argv));
}
