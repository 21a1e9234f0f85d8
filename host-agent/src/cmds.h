/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnumactl's subcommands.  Each parses its own options and returns the
 * process exit code.
 */
#ifndef VN_CMDS_H
#define VN_CMDS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/* The global options. */
struct cli {
	const char *uri;	/* -c: libvirt */
	const char *qmp;	/* --qmp: a QMP socket */
	const char *device;	/* --device */
	const char *socket;	/* --socket: vnumad's */
	int timeout_ms;		/* --timeout; < 0: none */
	bool tty;		/* stderr is a terminal: show progress */
	bool tty_out;		/* stdout is a terminal: redraw in place */
};

struct cli_cmd {
	const char *name;
	const char *synopsis;
	const char *summary;
	const char *help;
	int (*run)(struct cli *cli, const struct cli_cmd *cmd, int argc,
		   char **argv);
};

const struct cli_cmd *cli_find(const char *name);
/*
 * getopt_long over a subcommand's argv: the option letter, -1 at the
 * end, or '?' after reporting a bad option.
 */
int cli_next_opt(const struct cli_cmd *cmd, int argc, char **argv,
		 const struct option *opts);
int run_daemon_status(struct cli *cli, const struct cli_cmd *cmd, int argc,
		      char **argv);
int run_rebalance(struct cli *cli, const struct cli_cmd *cmd, int argc,
		  char **argv);
void cli_list(FILE *f);
void cli_cmd_help(FILE *f, const struct cli_cmd *cmd);

#endif /* VN_CMDS_H */
