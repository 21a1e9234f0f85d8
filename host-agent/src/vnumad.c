// SPDX-License-Identifier: GPL-2.0
/*
 * vnumad: the host agent's daemon.  See daemon.h for what it does and
 * vnumad(8) for how to run it.
 *
 *	vnumad [--foreground] [--config FILE] [--verbose]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "notify.h"

#define VNUMAD_VERSION	"0.1"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vnumad [OPTIONS]\n"
"\n"
"Keep the per-node accounting of every libvirt domain with a\n"
"virtio-numa device, relay a guest out after it migrated in, and\n"
"plan or apply relayouts that follow the host's memory binding.\n"
"\n"
"  -f, --foreground     stay in the foreground and log to stderr\n"
"                       (as a systemd service would run it)\n"
"  -C, --config FILE    configuration (default %s; may be missing)\n"
"  -v, --verbose        log more; twice: debug\n"
"  -h, --help           this help\n"
"  -V, --version        print the version\n"
"\n"
"SIGHUP reloads the configuration; SIGTERM stops it cleanly.\n",
		VND_CONFIG);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "config", required_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	/* Static: jobs left waiting for QEMU outlive main(). */
	static struct vnd d = { .config_path = VND_CONFIG };
	bool explicit_config = false;
	struct vn_err err;
	int verbose = 0, c;

	log_init("vnumad", LOG_NOTICE, false);
	while ((c = getopt_long(argc, argv, "fC:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			d.foreground = true;
			break;
		case 'C':
			d.config_path = optarg;
			explicit_config = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vnumad %s\n", VNUMAD_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'vnumad --help'.\n");
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vnumad: unexpected argument '%s'\n",
			argv[optind]);
		return 1;
	}
	config_defaults(&d.cfg);
	if (config_load(d.config_path, &d.cfg, explicit_config, &err)) {
		vn_log(LOG_ERR, "%s", err.msg);
		return 1;
	}
	if (verbose)
		d.cfg.log_level = verbose > 1 ? LOG_DEBUG : LOG_INFO;
	if (!d.foreground) {
		if (daemon(0, 0)) {
			perror("vnumad: daemon");
			return 1;
		}
		log_init("vnumad", d.cfg.log_level, true);
	} else {
		log_set_level(d.cfg.log_level);
	}
	if (vnd_start(&d)) {
		vnd_stop(&d);
		return 1;
	}
	/* Ready once the control socket listens (Type=notify). */
	vn_notify("READY=1\nMAINPID=%ld\nSTATUS=listening on %s",
		  (long)getpid(), d.cfg.socket);
	vnd_run(&d);
	vn_notify("STOPPING=1");
	vnd_stop(&d);
	return 0;
}
