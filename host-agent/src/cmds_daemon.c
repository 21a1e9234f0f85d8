// SPDX-License-Identifier: GPL-2.0
/*
 * The subcommands that ask vnumad, over its control socket, instead of
 * a VM: daemon-status and rebalance.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "ctl.h"
#include "jsonx.h"
#include "log.h"

#define DAEMON_TIMEOUT_MS	30000	/* when --timeout 0 */

static int daemon_call(struct cli *cli, const char *name,
		       struct json_object *args, struct json_object **ret)
{
	int ms = cli->timeout_ms < 0 ? DAEMON_TIMEOUT_MS : cli->timeout_ms;
	struct vn_err err;

	if (!ctl_call(cli->socket, name, args, ms, ret, &err))
		return 0;
	vn_log(LOG_ERR, "vnumad: %s", err.msg);
	return vn_result_exit_code(err.res);
}

/* Options of both: --help, and --json, --apply where @opts has them. */
static int parse_opts(const struct cli_cmd *cmd, int argc, char **argv,
		      const struct option *opts, bool *json, bool *apply)
{
	int c;

	while ((c = cli_next_opt(cmd, argc, argv, opts)) != -1) {
		if (c == 'j') {
			*json = true;
		} else if (c == 'a') {
			*apply = true;
		} else if (c == 'h') {
			cli_cmd_help(stdout, cmd);
			return 1;
		} else {
			return -1;
		}
	}
	return 0;
}

/* vnumad's answer as JSON, or as @print prints it. */
static void print_answer(struct json_object *ret, bool json,
			 void (*print)(struct json_object *ret))
{
	if (json)
		printf("%s\n", json_object_to_json_string_ext(ret,
						JSON_C_TO_STRING_PRETTY));
	else
		print(ret);
}

static void print_status(struct json_object *st)
{
	struct json_object *doms = NULL, *v;
	size_t i, n;
	long long now = time(NULL);

	printf("libvirt:    %s (%s)\n", jx_str_or_null(st, "uri") ?: "?",
	       json_object_object_get_ex(st, "connected", &v) &&
	       json_object_get_boolean(v) ? "connected" : "not connected");
	printf("rebalance:  %s\n", jx_str_or_null(st, "rebalance") ?: "?");
	json_object_object_get_ex(st, "domains", &doms);
	n = json_object_is_type(doms, json_type_array) ?
	    json_object_array_length(doms) : 0;
	printf("domains with a virtio-numa device: %zu\n", n);
	for (i = 0; i < n; i++) {
		struct json_object *d = json_object_array_get_idx(doms, i);
		struct json_object *nodes = NULL, *upd = NULL, *rl = NULL;
		const char *e = jx_str_or_null(d, "last-error");

		json_object_object_get_ex(d, "nodes", &nodes);
		json_object_object_get_ex(d, "updated", &upd);
		json_object_object_get_ex(d, "relayouts", &rl);
		printf("  %-20s %-10s %zu nodes, report %llds ago, %d "
		       "relayouts%s%s\n", jx_str_or_null(d, "domain") ?: "?",
		       jx_str_or_null(d, "id") ?: "-",
		       json_object_is_type(nodes, json_type_array) ?
		       json_object_array_length(nodes) : 0,
		       upd ? now - json_object_get_int64(upd) : -1LL,
		       rl ? json_object_get_int(rl) : 0, e ? "; " : "",
		       e ? e : "");
	}
}

int run_daemon_status(struct cli *cli, const struct cli_cmd *cmd, int argc,
		      char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct json_object *ret;
	bool json = false, unused = false;
	int rc = parse_opts(cmd, argc, argv, opts, &json, &unused);

	if (rc)
		return rc < 0 ? vn_result_exit_code(VN_ERR_USAGE) : 0;
	if (optind < argc) {
		vn_log(LOG_ERR, "%s: unexpected argument '%s'", cmd->name,
		       argv[optind]);
		return vn_result_exit_code(VN_ERR_USAGE);
	}
	rc = daemon_call(cli, "status", NULL, &ret);
	if (rc)
		return rc;
	print_answer(ret, json, print_status);
	json_object_put(ret);
	return 0;
}

static void print_plan_text(struct json_object *ret)
{
	fputs(jx_str_or_null(ret, "text") ?: "", stdout);
}

/* 0 when every domain planned (and applied) fine, else partial. */
static int rebalance_result(struct json_object *ret)
{
	struct json_object *doms = NULL;
	size_t i, n;

	if (!json_object_object_get_ex(ret, "domains", &doms))
		json_object_object_get_ex(ret, "moves", &doms);
	n = json_object_is_type(doms, json_type_array) ?
	    json_object_array_length(doms) : 0;
	for (i = 0; i < n; i++)
		if (jx_str_or_null(json_object_array_get_idx(doms, i), "error"))
			return vn_result_exit_code(VN_ERR_PARTIAL);
	return 0;
}

int run_rebalance(struct cli *cli, const struct cli_cmd *cmd, int argc,
		  char **argv)
{
	static const struct option opts[] = {
		{ "apply", no_argument, NULL, 'a' },
		{ "policy", required_argument, NULL, 'p' },
		{ "homes", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct json_object *args, *ret, *homes = NULL;
	bool json = false, apply = false;
	const char *policy = NULL;
	int c, rc;

	while ((c = cli_next_opt(cmd, argc, argv, opts)) != -1) {
		switch (c) {
		case 'a':
			apply = true;
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			policy = optarg;
			break;
		case 'H':
			json_object_put(homes);
			homes = json_tokener_parse(optarg);
			if (!json_object_is_type(homes, json_type_object)) {
				vn_log(LOG_ERR, "%s: --homes: '%.80s' is not a "
				       "JSON object", cmd->name, optarg);
				json_object_put(homes);
				return vn_result_exit_code(VN_ERR_USAGE);
			}
			break;
		case 'h':
			json_object_put(homes);
			cli_cmd_help(stdout, cmd);
			return 0;
		default:
			json_object_put(homes);
			return vn_result_exit_code(VN_ERR_USAGE);
		}
	}
	if (optind + 1 < argc) {
		json_object_put(homes);
		vn_log(LOG_ERR, "%s: unexpected argument '%s'", cmd->name,
		       argv[optind + 1]);
		return vn_result_exit_code(VN_ERR_USAGE);
	}
	args = json_object_new_object();
	if (optind < argc)
		json_object_object_add(args, "domain",
				       json_object_new_string(argv[optind]));
	json_object_object_add(args, "apply", json_object_new_boolean(apply));
	if (policy)
		json_object_object_add(args, "policy",
				       json_object_new_string(policy));
	if (homes)
		json_object_object_add(args, "homes", homes);
	rc = daemon_call(cli, "rebalance", args, &ret);
	if (rc)
		return rc;
	print_answer(ret, json, print_plan_text);
	rc = rebalance_result(ret);
	json_object_put(ret);
	return rc;
}
