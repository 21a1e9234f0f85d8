// SPDX-License-Identifier: GPL-2.0
/*
 * vnumactl: change the NUMA layout of a running VM through its
 * virtio-numa device, virsh style:
 *
 *	vnumactl [OPTIONS] COMMAND DOMAIN [ARGS]
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "ctl.h"
#include "log.h"
#include "size.h"

#define VNUMACTL_VERSION	"0.1"
#define DEFAULT_DEVICE		"vnuma0"
#define DEFAULT_TIMEOUT_S	60
#define MAX_TIMEOUT_S		2000000u	/* fits in int milliseconds */

static void print_exit_codes(FILE *f)
{
	static const enum vn_result order[] = {
		VN_OK, VN_ERR_USAGE, VN_ERR_QEMU, VN_ERR_GUEST,
		VN_ERR_PARTIAL, VN_ERR_IO, VN_ERR_INTR,
	};
	size_t i;

	fprintf(f, "Exit status:\n");
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		fprintf(f, "  %3d  %s\n", vn_result_exit_code(order[i]),
			vn_result_name(order[i]));
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vnumactl [OPTIONS] COMMAND DOMAIN [ARGS]\n"
"\n"
"Change the NUMA layout of a running VM through its virtio-numa device\n"
"and show the guest's per-node accounting.\n"
"\n"
"Options:\n"
"  -c, --connect URI   reach DOMAIN, a libvirt domain name, through the\n"
"                      libvirt daemon at URI (qemu:///system,\n"
"                      qemu+unix:///system?socket=PATH, ...)\n"
"      --qmp PATH      the VM's QMP UNIX socket; DOMAIN is then only a\n"
"                      label for messages and backend names\n"
"  -d, --device ID     the virtio-numa device's id (default %s)\n"
"  -s, --socket PATH   vnumad's control socket, for rebalance and\n"
"                      daemon-status (default " VN_CTL_SOCKET ")\n"
"  -t, --timeout SEC   wait at most SEC seconds for each answer of QEMU\n"
"                      or the guest (default %d; 0 waits forever)\n"
"  -v, --verbose       say more; twice: show the QMP traffic\n"
"  -q, --quiet         print errors only\n"
"  -h, --help          this help; 'vnumactl COMMAND --help' for a\n"
"                      command's\n"
"  -V, --version       print the version\n"
"\n"
"Commands:\n", DEFAULT_DEVICE, DEFAULT_TIMEOUT_S);
	cli_list(f);
	fprintf(f,
"\n"
"SIZE is a number of bytes (2048, 0x80000000) or a number with a\n"
"binary unit K, M, G, T, P or E, optionally followed by i, iB or B,\n"
"in any case: 512M, 4G, 1GiB, 1.5G.  A LIST is ids and ranges: 0,2-3.\n"
"\n");
	print_exit_codes(f);
}

static int parse_globals(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "qmp", required_argument, NULL, 'Q' },
		{ "device", required_argument, NULL, 'd' },
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct vn_err err;
	uint64_t secs;
	int c;

	/* '+': stop at the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+c:d:s:t:vqhV", opts,
				NULL)) != -1) {
		switch (c) {
		case 'c':
			cli->uri = optarg;
			break;
		case 'Q':
			cli->qmp = optarg;
			break;
		case 'd':
			cli->device = optarg;
			break;
		case 's':
			cli->socket = optarg;
			break;
		case 't':
			if (parse_uint(optarg, MAX_TIMEOUT_S, "timeout", &secs,
				       &err)) {
				vn_log(LOG_ERR, "%s", err.msg);
				return -1;
			}
			cli->timeout_ms = secs ? (int)(secs * 1000) : -1;
			break;
		case 'v':
			log_set_level(log_level < LOG_INFO ? LOG_INFO :
				      LOG_DEBUG);
			break;
		case 'q':
			log_set_level(LOG_ERR);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vnumactl %s\n", VNUMACTL_VERSION);
			exit(0);
		default:
			fprintf(stderr, "Try 'vnumactl --help'.\n");
			return -1;
		}
	}
	if (cli->uri && cli->qmp) {
		vn_log(LOG_ERR, "give -c URI or --qmp PATH, not both");
		return -1;
	}
	if (!*cli->device) {
		vn_log(LOG_ERR, "empty --device");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = {
		.device = DEFAULT_DEVICE,
		.socket = VN_CTL_SOCKET,
		.timeout_ms = DEFAULT_TIMEOUT_S * 1000,
	};
	const struct cli_cmd *cmd;
	const char *name;

	log_init("vnumactl", LOG_NOTICE, false);
	cli.tty = isatty(STDERR_FILENO);
	cli.tty_out = isatty(STDOUT_FILENO);
	if (parse_globals(&cli, argc, argv))
		return vn_result_exit_code(VN_ERR_USAGE);
	if (optind >= argc) {
		usage(stderr);
		return vn_result_exit_code(VN_ERR_USAGE);
	}
	name = argv[optind];
	if (!strcmp(name, "help")) {
		cmd = optind + 1 < argc ? cli_find(argv[optind + 1]) : NULL;
		if (cmd)
			cli_cmd_help(stdout, cmd);
		else
			usage(stdout);
		return 0;
	}
	cmd = cli_find(name);
	if (!cmd) {
		vn_log(LOG_ERR, "unknown command '%s' (try 'vnumactl --help')",
		       name);
		return vn_result_exit_code(VN_ERR_USAGE);
	}
	/* The command parses argv[optind..]; restart getopt for it. */
	argc -= optind;
	argv += optind;
	optind = 0;
	return cmd->run(&cli, cmd, argc, argv);
}
