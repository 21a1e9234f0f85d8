// SPDX-License-Identifier: GPL-2.0
/*
 * The subcommands: parse the options, open the connection, run one
 * operation of vnuma.c and print its result.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "conn_libvirt.h"
#include "lvtyped.h"
#include "log.h"
#include "table.h"
#include "vnuma.h"

#define CONNECT_TIMEOUT_MS	30000	/* when --timeout 0 */

static int usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int usage_error(const struct cli_cmd *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vn_log(LOG_ERR, "%s: %s (try 'vnumactl %s --help')", cmd->name, msg,
	       cmd->name);
	return vn_result_exit_code(VN_ERR_USAGE);
}

static int input_error(const struct cli_cmd *cmd, struct vn_err *err)
{
	return usage_error(cmd, "%s", err->msg);
}

/*
 * getopt_long over a subcommand's argv: the option letter, -1 at the
 * end, or '?' after reporting a bad option.
 */
int cli_next_opt(const struct cli_cmd *cmd, int argc, char **argv,
		 const struct option *opts)
{
	int c = getopt_long(argc, argv, ":h", opts, NULL);

	if (c == '?') {
		usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
	} else if (c == ':') {
		usage_error(cmd, "option '%s' needs an argument",
			    argv[optind - 1]);
		c = '?';
	}
	return c;
}

/* The one DOMAIN argument left after the options. */
static const char *domain_arg(const struct cli_cmd *cmd, int argc,
			      char **argv)
{
	if (optind >= argc) {
		usage_error(cmd, "no DOMAIN given");
		return NULL;
	}
	if (optind + 1 < argc) {
		usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
		return NULL;
	}
	return argv[optind];
}

/*
 * libvirt's own virtio-numa API when it has one for the domain; else
 * the commands go to QEMU's monitor through libvirt, which marks the
 * domain tainted: say so.
 */
static void use_typed(struct vn_dev *d)
{
	virDomainPtr dom = conn_libvirt_domain(d->conn);
	char why[256];

	if (lvt_usable(dom, NULL, why, sizeof(why))) {
		d->typed = dom;
		vn_log(LOG_INFO, "%s: through libvirt's virtio-numa API",
		       d->domain);
		return;
	}
	vn_log(LOG_NOTICE, "%s: %s; falling back to QMP passthrough (libvirt "
	       "marks the domain tainted)", d->domain, why);
}

static int cli_open(struct cli *cli, const char *domain, struct vn_dev *d,
		    struct vn_err *err)
{
	int connect_ms = cli->timeout_ms < 0 ? CONNECT_TIMEOUT_MS :
			 cli->timeout_ms;

	memset(d, 0, sizeof(*d));
	d->domain = domain;
	d->id = cli->device;
	d->timeout_ms = cli->timeout_ms;
	if (cli->uri) {
		if (conn_open_uri(&d->conn, cli->uri, domain, connect_ms,
				  err))
			return -1;
		use_typed(d);
		return 0;
	}
	if (!cli->qmp)
		return vn_err_set(err, VN_ERR_USAGE, "%s: no connection: give "
				  "-c URI (libvirt) or --qmp PATH (the VM's "
				  "QMP socket)", domain), -1;
	if (conn_open_qmp(&d->conn, cli->qmp, connect_ms, err))
		return vn_err_prefix(err, "%s: ", domain), -1;
	return 0;
}

/* Report the outcome, close, free; the exit code. */
static int done(struct vn_dev *d, struct vn_info *info, enum vn_result res,
		struct vn_err *err)
{
	if (res != VN_OK)
		vn_log(LOG_ERR, "%s", err->msg);
	vn_info_free(info);
	conn_close(d->conn);
	return vn_result_exit_code(res);
}

/* Open the connection, or say why not: 0 or the exit code. */
static int open_or_fail(struct cli *cli, const char *domain,
			struct vn_dev *d)
{
	struct vn_err err;

	if (!cli_open(cli, domain, d, &err))
		return 0;
	vn_log(LOG_ERR, "%s", err.msg);
	return vn_result_exit_code(err.res);
}

/* --- nodes --- */

static void print_json(const char *domain, const struct vn_info *info)
{
	int flags = JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
		    JSON_C_TO_STRING_NOSLASHESCAPE;
	struct json_object *o = vn_info_to_json(info, domain);

	printf("%s\n", json_object_to_json_string_ext(o, flags));
	json_object_put(o);
}

static int run_nodes(struct cli *cli, const struct cli_cmd *cmd, int argc,
		     char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct vn_info info = { 0 };
	const char *domain;
	struct vn_err err;
	enum vn_result res;
	struct vn_dev d;
	bool json = false;
	int c, rc;

	while ((c = cli_next_opt(cmd, argc, argv, opts)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			cli_cmd_help(stdout, cmd);
			return 0;
		default:
			return vn_result_exit_code(VN_ERR_USAGE);
		}
	}
	domain = domain_arg(cmd, argc, argv);
	if (!domain)
		return vn_result_exit_code(VN_ERR_USAGE);
	rc = open_or_fail(cli, domain, &d);
	if (rc)
		return rc;
	res = vn_query(&d, &info, &err);
	if (res == VN_OK && json)
		print_json(domain, &info);
	else if (res == VN_OK)
		table_print(stdout, domain, &info);
	return done(&d, &info, res, &err);
}

/*
 * The start of a command whose only option is --help: take DOMAIN and
 * open its device in @d.  Returns -1 to go on, else the exit status.
 */
static int start_plain(struct cli *cli, const struct cli_cmd *cmd, int argc,
		       char **argv, const char **domain, struct vn_dev *d)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c, rc;

	while ((c = cli_next_opt(cmd, argc, argv, opts)) != -1) {
		if (c != 'h')
			return vn_result_exit_code(VN_ERR_USAGE);
		cli_cmd_help(stdout, cmd);
		return 0;
	}
	*domain = domain_arg(cmd, argc, argv);
	if (!*domain)
		return vn_result_exit_code(VN_ERR_USAGE);
	rc = open_or_fail(cli, *domain, d);
	return rc ? rc : -1;
}

/* --- report --- */

static int run_report(struct cli *cli, const struct cli_cmd *cmd, int argc,
		      char **argv)
{
	struct vn_info info = { 0 };
	const char *domain;
	struct vn_err err;
	enum vn_result res;
	struct vn_dev d;
	int rc;

	rc = start_plain(cli, cmd, argc, argv, &domain, &d);
	if (rc >= 0)
		return rc;
	res = vn_report(&d, &info, &err);
	if (info.id)
		table_print(stdout, domain, &info);
	return done(&d, &info, res, &err);
}

/* --- node-add --- */

struct add_args {
	struct vn_node_add_req req;
	uint32_t host_nodes[VN_HOST_NODE_LIMIT];
	uint32_t cpus[VN_MAX_CPUS];
	bool has_node;
	bool has_size;
};

/* One node-add or node-remove option into @a: 0, or -1 if it is bad. */
static int add_opt(const struct cli_cmd *cmd, int c, struct add_args *a)
{
	struct vn_err err;
	uint64_t v;

	switch (c) {
	case 'n':
		if (parse_uint(optarg, VN_RANGE_NODE_LIMIT, "node", &v, &err))
			return input_error(cmd, &err), -1;
		a->req.node = v;
		a->has_node = true;
		return 0;
	case 's':
		if (parse_size(optarg, &a->req.size, &err))
			return input_error(cmd, &err), -1;
		a->has_size = true;
		return 0;
	case 'H':
		if (parse_id_list(optarg, VN_HOST_NODE_LIMIT, "host node",
				  a->host_nodes, VN_HOST_NODE_LIMIT,
				  &a->req.nr_host_nodes, &err))
			return input_error(cmd, &err), -1;
		a->req.host_nodes = a->host_nodes;
		return 0;
	case 'C':
		if (parse_id_list(optarg, UINT32_MAX, "vCPU", a->cpus,
				  VN_MAX_CPUS, &a->req.nr_cpus, &err))
			return input_error(cmd, &err), -1;
		a->req.cpus = a->cpus;
		return 0;
	default:
		usage_error(cmd, "bad option");
		return -1;
	}
}

static int run_node_add(struct cli *cli, const struct cli_cmd *cmd,
			int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "host-nodes", required_argument, NULL, 'H' },
		{ "cpus", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct vn_info info = { 0 };
	struct add_args *a;
	const char *domain;
	struct vn_err err;
	enum vn_result res;
	struct vn_dev d;
	int c, rc = vn_result_exit_code(VN_ERR_USAGE);

	a = calloc(1, sizeof(*a));
	if (!a)
		return vn_result_exit_code(VN_ERR_IO);
	while ((c = cli_next_opt(cmd, argc, argv, opts)) != -1) {
		if (c == 'h') {
			cli_cmd_help(stdout, cmd);
			rc = 0;
			goto out;
		}
		if (c == '?' || add_opt(cmd, c, a))
			goto out;
	}
	domain = domain_arg(cmd, argc, argv);
	if (!domain)
		goto out;
	if (!a->has_node || !a->has_size) {
		usage_error(cmd, "--node and --size are required");
		goto out;
	}
	rc = open_or_fail(cli, domain, &d);
	if (rc)
		goto out;
	res = vn_node_add(&d, &a->req, &info, &err);
	if (info.id)
		table_print(stdout, domain, &info);
	rc = done(&d, &info, res, &err);
out:
	free(a);
	return rc;
}

/* --- progress, on a terminal only --- */

static bool progress_shown;

static void show_progress(const struct vn_info *info, void *arg)
{
	(void)arg;
	table_print_pending(stderr, info);
	progress_shown = true;
}

/* The node a removal empties: what it still has, rewritten in place. */
static void show_node_progress(const struct vn_info *info, void *arg)
{
	const struct vn_node *n = vn_info_node(info, *(uint32_t *)arg);
	char pr[VN_SIZE_BUF];

	if (!n)
		return;
	fprintf(stderr, "\rnode %" PRIu32 ": %s present\033[K", n->node,
		format_size(vn_pages_bytes(info, n->present_pages), pr,
			    sizeof(pr)));
	fflush(stderr);
	progress_shown = true;
}

/* --- node-remove --- */

static int run_node_remove(struct cli *cli, const struct cli_cmd *cmd,
			   int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct vn_info info = { 0 };
	struct add_args a = { 0 };
	const char *domain;
	struct vn_err err;
	enum vn_result res;
	struct vn_dev d;
	int c, rc;

	while ((c = cli_next_opt(cmd, argc, argv, opts)) != -1) {
		if (c == 'h') {
			cli_cmd_help(stdout, cmd);
			return 0;
		}
		if (c == '?' || add_opt(cmd, c, &a))
			return vn_result_exit_code(VN_ERR_USAGE);
	}
	domain = domain_arg(cmd, argc, argv);
	if (!domain)
		return vn_result_exit_code(VN_ERR_USAGE);
	if (!a.has_node)
		return usage_error(cmd, "--node is required");
	rc = open_or_fail(cli, domain, &d);
	if (rc)
		return rc;
	if (cli->tty) {
		d.progress = show_node_progress;
		d.progress_arg = &a.req.node;
	}
	res = vn_node_remove(&d, a.req.node, &info, &err);
	if (progress_shown)
		fputc('\n', stderr);
	if (info.id)
		table_print(stdout, domain, &info);
	return done(&d, &info, res, &err);
}

/* --- relayout --- */

static int run_relayout(struct cli *cli, const struct cli_cmd *cmd,
			int argc, char **argv)
{
	static const struct option opts[] = {
		{ "range", required_argument, NULL, 'r' },
		{ "migrate", no_argument, NULL, 'm' },
		{ "wait", no_argument, NULL, 'w' },
		{ "settle", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct vn_range ranges[VN_MAX_RANGES];
	struct vn_relayout_req req = { .ranges = ranges };
	struct vn_info info = { 0 };
	const char *domain;
	struct vn_err err;
	enum vn_result res;
	struct vn_dev d;
	uint64_t cid;
	int c, rc;

	while ((c = cli_next_opt(cmd, argc, argv, opts)) != -1) {
		switch (c) {
		case 'r':
			if (req.nr == VN_MAX_RANGES)
				return usage_error(cmd, "more than %d ranges",
						   VN_MAX_RANGES);
			if (parse_range(optarg, &ranges[req.nr], &err))
				return input_error(cmd, &err);
			req.nr++;
			break;
		case 'm':
			req.migrate = true;
			break;
		case 'w':
			req.wait = true;
			break;
		case 's':
			req.settle = true;
			break;
		case 'h':
			cli_cmd_help(stdout, cmd);
			return 0;
		default:
			return vn_result_exit_code(VN_ERR_USAGE);
		}
	}
	domain = domain_arg(cmd, argc, argv);
	if (!domain)
		return vn_result_exit_code(VN_ERR_USAGE);
	if (!req.nr)
		return usage_error(cmd, "give at least one --range");
	rc = open_or_fail(cli, domain, &d);
	if (rc)
		return rc;
	if (cli->tty)
		d.progress = show_progress;
	res = vn_relayout(&d, &req, &cid, &info, &err);
	if (progress_shown)
		fputc('\n', stderr);
	if (res == VN_OK && !req.wait)
		printf("%s/%s: relayout queued as command %" PRIu64 "\n",
		       domain, d.id, cid);
	else if (info.id)
		table_print(stdout, domain, &info);
	return done(&d, &info, res, &err);
}

/* --- watch --- */

static volatile sig_atomic_t watch_stop;

static void on_stop(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Is @ev about our device?  Then describe it in @buf. */
static bool watch_event(struct json_object *ev, const char *id, char *buf,
			size_t len)
{
	const char *name = qmp_event_name(ev), *evid;
	struct vn_completion c;
	struct vn_err err;
	uint64_t seq;

	if (!strcmp(name, VN_EV_COMPLETION)) {
		if (vn_decode_completion(ev, &c, &err)) {
			vn_log(LOG_WARNING, "%s", err.msg);
			return false;
		}
		if (strcmp(c.id, id))
			return false;
		snprintf(buf, len, "%s (command %" PRIu64 ") %s", c.type,
			 c.command_id, c.status_name);
		return true;
	}
	if (!strcmp(name, VN_EV_REPORT)) {
		if (vn_decode_report_event(ev, &evid, &seq, &err)) {
			vn_log(LOG_WARNING, "%s", err.msg);
			return false;
		}
		if (strcmp(evid, id))
			return false;
		snprintf(buf, len, "report %" PRIu64, seq);
		return true;
	}
	return false;
}

static void watch_draw(struct cli *cli, const char *domain,
		       const struct vn_info *info, const char *last)
{
	char now[16];
	time_t t = time(NULL);

	strftime(now, sizeof(now), "%H:%M:%S", localtime(&t));
	if (cli->tty_out)
		fputs("\033[H\033[2J", stdout);
	table_print(stdout, domain, info);
	printf("%s  last event: %s\n", now, last);
	if (!cli->tty_out)
		putchar('\n');
	fflush(stdout);
}

static enum vn_result watch_loop(struct cli *cli, struct vn_dev *d,
				 struct vn_info *info, struct vn_err *err)
{
	struct json_object *ev;
	char last[128] = "none yet";
	enum vn_result res;
	int r;

	res = vn_query(d, info, err);
	if (res != VN_OK)
		return res;
	watch_draw(cli, d->domain, info, last);
	while (!watch_stop) {
		r = conn_next_event(d->conn, 1000, &ev, err);
		if (r < 0)
			return err->res == VN_ERR_INTR ? VN_OK :
			       vn_err_prefix(err, "%s/%s: ", d->domain, d->id);
		if (!r)
			continue;
		if (!watch_event(ev, d->id, last, sizeof(last))) {
			json_object_put(ev);
			continue;
		}
		json_object_put(ev);
		vn_info_free(info);
		res = vn_query(d, info, err);
		if (res != VN_OK)
			return res;
		watch_draw(cli, d->domain, info, last);
	}
	return VN_OK;
}

static int run_watch(struct cli *cli, const struct cli_cmd *cmd, int argc,
		     char **argv)
{
	struct vn_info info = { 0 };
	const char *domain;
	struct vn_err err;
	enum vn_result res;
	struct vn_dev d;
	int rc;

	rc = start_plain(cli, cmd, argc, argv, &domain, &d);
	if (rc >= 0)
		return rc;
	catch_stop_signals();
	res = watch_loop(cli, &d, &info, &err);
	return done(&d, &info, res, &err);
}

/* --- the table of subcommands --- */

static const struct cli_cmd cli_cmds[] = {
	{
		.name = "nodes",
		.synopsis = "DOMAIN [--json]",
		.summary = "show the guest's nodes as it last reported them",
		.help =
"Print the per-node accounting of the guest's last report: host node,\n"
"guest node, state, CPUs, and present, managed (MemTotal), free and\n"
"pending memory.  Sends nothing to the guest.\n"
"\n"
"  --json       print the device and its nodes as JSON instead; page\n"
"               counts stay in pages of page-size bytes\n",
		.run = run_nodes,
	},
	{
		.name = "report",
		.synopsis = "DOMAIN",
		.summary = "ask the guest for its accounting now and show it",
		.help =
"Queue a report command, wait for the guest's completion and print\n"
"the accounting it carried.\n",
		.run = run_report,
	},
	{
		.name = "node-add",
		.synopsis = "DOMAIN --node N --size SIZE [--host-nodes LIST] "
			    "[--cpus LIST]",
		.summary = "give the guest a node it did not have, with memory",
		.help =
"Create the memory backend vnuma-DOMAIN-nodeN (memory-backend-ram),\n"
"hand it to the device as node N's memory and wait until the guest\n"
"has onlined it.  If the guest does not take the node, the backend is\n"
"deleted again.\n"
"\n"
"  --node N           host node id: a -numa node without boot memory\n"
"  --size SIZE        the node's memory, a multiple of the device's\n"
"                     block size: bytes, or 512M, 4G, 1GiB, 0x...\n"
"  --host-nodes LIST  bind the memory to these host NUMA nodes, e.g.\n"
"                     0,2-3 (policy bind)\n"
"  --cpus LIST        move these vCPUs (cpu-index) to the node once it\n"
"                     is up, e.g. 2-3\n"
"\n"
"If the node comes up but a vCPU does not move, the exit code is 4\n"
"and the node stays: take it away with node-remove.\n",
		.run = run_node_add,
	},
	{
		.name = "node-remove",
		.synopsis = "DOMAIN --node N",
		.summary = "take away a node node-add gave",
		.help =
"Ask the guest to give node N up: it moves the node's vCPUs back,\n"
"migrates and offlines its memory.  When the guest answers ok, the\n"
"memory backend vnuma-DOMAIN-nodeN is deleted.  If memory in use\n"
"cannot move, the guest answers partial or failed and the node keeps\n"
"its memory; run node-remove again later.\n"
"\n"
"  --node N     host node id of a node added with node-add\n",
		.run = run_node_remove,
	},
	{
		.name = "relayout",
		.synopsis = "DOMAIN --range START:SIZE:NODE ... [--migrate] "
			    "[--wait|--settle]",
		.summary = "tell the guest ranges of its memory moved nodes",
		.help =
"Tell the guest that ranges of its memory now belong to other host\n"
"nodes.  It moves free pages at once and pages in use when they are\n"
"freed; until then they are pending.  The guest applies all ranges or\n"
"none.\n"
"\n"
"  --range START:SIZE:NODE  guest-physical START and SIZE (sizes or\n"
"                     0x hex, multiples of the block size) and the\n"
"                     host node they belong to; 1 to 64 of them\n"
"  --migrate          also migrate the pages in use now\n"
"  --wait             wait for the guest's completion, then print the\n"
"                     accounting; without it, only queue the command\n"
"  --settle           also wait until no page is pending (within\n"
"                     --timeout), showing the pending pages on a\n"
"                     terminal; pages the guest never frees (kernel\n"
"                     memory) keep it waiting until the timeout\n",
		.run = run_relayout,
	},
	{
		.name = "watch",
		.synopsis = "DOMAIN",
		.summary = "show the nodes, redrawn on every change",
		.help =
"Print the accounting and print it again on every VIRTIO_NUMA_REPORT\n"
"and VIRTIO_NUMA_COMPLETION event of the device, until interrupted\n"
"(Ctrl-C).  On a terminal the screen is redrawn.\n",
		.run = run_watch,
	},
	{
		.name = "rebalance",
		.synopsis = "[DOMAIN] [--apply] [--policy NAME] [--homes JSON] "
			    "[--json]",
		.summary = "ask vnumad to plan, or apply, a rebalance",
		.help =
"Ask vnumad (at --socket) to rebalance every domain it knows, or only\n"
"DOMAIN, under a policy (vnumad.conf's policy unless --policy):\n"
"\n"
"  binding      the layout that follows where the host keeps the\n"
"               guest's memory: each range of guest RAM goes to the\n"
"               lowest-numbered guest node whose memory backend is bound\n"
"               to the same host nodes as the range's own backend\n"
"  free-memory  when a host node runs short of free memory (below\n"
"               free_low %), move memory of the guest nodes living there\n"
"               to other guest nodes of the same guest living on host\n"
"               nodes with room, host memory and guest pages together,\n"
"               until free_high % are free; within move_max per pass and\n"
"               move_cooldown per guest (vnumad(8))\n"
"\n"
"Prints the host's free memory per node and the plan, with why.  A dry\n"
"run unless --apply.  Needs no -c or --qmp.\n"
"\n"
"  --apply          carry the plan out and wait for the guests' answers\n"
"  --policy NAME    binding or free-memory\n"
"  --homes JSON     what-if: the host node each guest node lives on,\n"
"                   {\"DOMAIN\": {\"GUEST-NODE\": HOST-NODE, ...}},\n"
"                   in place of the binding (free-memory only)\n"
"  --json           print vnumad's answer as JSON\n"
"\n"
"The exit code is 4 if some domain could not be planned or moved.\n",
		.run = run_rebalance,
	},
	{
		.name = "daemon-status",
		.synopsis = "[--json]",
		.summary = "show what vnumad knows",
		.help =
"Print vnumad's libvirt connection, its rebalance mode, and each\n"
"domain with a virtio-numa device it follows: nodes, age of the last\n"
"report, relayouts it sent, and its last error.  Needs no -c or\n"
"--qmp.\n"
"\n"
"  --json       print vnumad's answer as JSON\n",
		.run = run_daemon_status,
	},
};

const struct cli_cmd *cli_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
		if (!strcmp(cli_cmds[i].name, name))
			return &cli_cmds[i];
	return NULL;
}

void cli_list(FILE *f)
{
	size_t i;

	for (i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++)
		fprintf(f, "  %-12s %s\n", cli_cmds[i].name,
			cli_cmds[i].summary);
}

void cli_cmd_help(FILE *f, const struct cli_cmd *cmd)
{
	fprintf(f, "Usage: vnumactl [OPTIONS] %s %s\n\n%s", cmd->name,
		cmd->synopsis, cmd->help);
	fprintf(f, "\nSee 'vnumactl --help' for the OPTIONS and exit codes.\n");
}
