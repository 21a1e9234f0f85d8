// SPDX-License-Identifier: GPL-2.0
/*
 * vnumad's configuration and control socket, without libvirt: the
 * request and reply shapes, the socket's permissions, a stale socket
 * and a live one, and a client talking to a server thread.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "ctl.h"
#include "runner.h"

static void test_config_parse(void)
{
	struct vnd_config cfg;
	struct vn_err err;

	config_defaults(&cfg);
	CHECK_STR(cfg.uri, "qemu:///system");
	CHECK(cfg.migration_relayout && cfg.rebalance == VND_REBALANCE_OFF);
	CHECK(!config_parse("# vnumad\n\n  uri = qemu+unix:///system?socket=/x"
			    "  # a comment\nrebalance=apply\n"
			    "rebalance_interval = 30\nexport =\n"
			    "log_level = debug\nmigration_relayout = no\n",
			    "t.conf", &cfg, &err));
	CHECK_STR(cfg.uri, "qemu+unix:///system?socket=/x");
	CHECK(cfg.rebalance == VND_REBALANCE_APPLY);
	CHECK_U64(cfg.rebalance_interval_s, 30);
	CHECK_STR(cfg.export_path, "");
	CHECK(!cfg.migration_relayout);
	CHECK_STR(config_rebalance_name(cfg.rebalance), "apply");
	CHECK(cfg.policy == VND_POLICY_BINDING);
	CHECK_U64(cfg.free_low_pct, 10);
	CHECK_U64(cfg.free_high_pct, 20);
	CHECK(!config_parse("policy = free-memory\nfree_low = 5\n"
			    "free_high = 15\nmove_max = 2G\n"
			    "move_cooldown = 0\n", "t.conf", &cfg, &err));
	CHECK(cfg.policy == VND_POLICY_FREE_MEMORY);
	CHECK_STR(config_policy_name(cfg.policy), "free-memory");
	CHECK_U64(cfg.free_low_pct, 5);
	CHECK_U64(cfg.free_high_pct, 15);
	CHECK_U64(cfg.move_max, 2ull << 30);
	CHECK_U64(cfg.move_cooldown_s, 0);
}

static void test_config_errors(void)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "uri = a\n\nfrobnicate = 1\n", "t.conf:3: unknown key "
		  "'frobnicate'" },
		{ "rebalance = sometimes", "t.conf:1: 'sometimes' is not off" },
		{ "socket = relative.sock", "not an absolute path" },
		{ "rebalance_interval = 0", "0 is less than 1" },
		{ "monitor_timeout = 1e9", "t.conf:1:" },
		{ "migration_relayout = perhaps", "not yes or no" },
		{ "just words", "no '='" },
		{ "uri =", "empty value" },
		{ "log_level = loud", "not error, warning" },
		{ "policy = greedy", "'greedy' is not binding or free-memory" },
		{ "free_low = 95", "t.conf:1:" },
		{ "free_low = 30\nfree_high = 20", "free_low (30) must be below "
		  "free_high (20)" },
		{ "free_high = 10", "free_low (10) must be below" },
		{ "move_max = 0", "must not be 0" },
		{ "move_max = lots", "t.conf:1:" },
	};
	struct vnd_config cfg, before;
	struct vn_err err;
	size_t i;

	config_defaults(&cfg);
	before = cfg;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t_check(config_parse(bad[i].text, "t.conf", &cfg, &err) == -1,
			__FILE__, __LINE__, "'%s' parsed", bad[i].text);
		CHECK_HAS(err.msg, bad[i].msg);
		/* All or nothing. */
		CHECK(!memcmp(&cfg, &before, sizeof(cfg)));
	}
	/* The example shipped says the defaults (make test runs here). */
	config_defaults(&cfg);
	before = cfg;
	t_check(!config_load("vnumad.conf", &cfg, true, &err), __FILE__,
		__LINE__, "vnumad.conf: %s", err.msg);
	CHECK(!memcmp(&cfg, &before, sizeof(cfg)));
	CHECK(config_load("/nonexistent/vnumad.conf", &cfg, false, &err) == 0);
	CHECK(config_load("/nonexistent/vnumad.conf", &cfg, true, &err) == -1);
	CHECK_HAS(err.msg, "cannot read /nonexistent/vnumad.conf");
}

static void test_ctl_messages(void)
{
	struct json_object *req, *args;
	const char *name;
	struct vn_err err;
	char *line;

	line = ctl_reply_ok(NULL);
	CHECK_STR(line, "{\"return\":{}}\n");
	free(line);
	line = ctl_reply_error("no \"such\"\ndomain");
	CHECK_STR(line, "{\"error\":{\"desc\":\"no \\\"such\\\"\\ndomain\"}}\n");
	free(line);

	CHECK(!ctl_parse_request("{\"execute\": \"status\"}", &req, &name,
				 &args, &err));
	CHECK_STR(name, "status");
	CHECK(!args);
	json_object_put(req);
	CHECK(ctl_parse_request("[1]", &req, &name, &args, &err) == -1);
	CHECK_HAS(err.msg, "not a JSON object");
	CHECK(ctl_parse_request("{\"execute\": 1}", &req, &name, &args,
				&err) == -1);
	json_object_put(req);
	CHECK(ctl_parse_request("{\"execute\": \"x\", \"arguments\": 3}", &req,
				&name, &args, &err) == -1);
	CHECK_HAS(err.msg, "'arguments' is not an object");
	json_object_put(req);
	CHECK(ctl_parse_request("{\"execute\": \"x\"", &req, &name, &args,
				&err) == -1);
}

struct server {
	int fd;
	const char *answer;	/* NULL: close without one */
};

static void *serve_one(void *arg)
{
	struct server *s = arg;
	char buf[4096];
	unsigned int uid;
	int c = accept(s->fd, NULL, NULL);
	ssize_t n;

	if (c < 0)
		return NULL;
	if (!ctl_peer_allowed(c, &uid))
		fprintf(stderr, "peer %u refused\n", uid);
	n = recv(c, buf, sizeof(buf), 0);
	(void)n;
	if (s->answer)
		n = send(c, s->answer, strlen(s->answer), MSG_NOSIGNAL);
	close(c);
	return NULL;
}

static int call_server(const char *path, struct server *s,
		       struct json_object **ret, struct vn_err *err)
{
	pthread_t t;
	int r;

	pthread_create(&t, NULL, serve_one, s);
	r = ctl_call(path, "status", NULL, 2000, ret, err);
	pthread_join(t, NULL);
	return r;
}

static void test_ctl_socket(void)
{
	char dir[] = "/tmp/vnuma-test-ctlXXXXXX", path[300], sub[64];
	struct server s = { .fd = -1 };
	struct json_object *ret;
	struct vn_err err;
	struct stat st;
	int fd2;

	CHECK(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/run", dir);
	snprintf(path, sizeof(path), "%s/vnumad.sock", sub);
	s.fd = ctl_listen(path, &err);
	CHECK(s.fd >= 0);
	/* The directory is made for the owner, the socket is 0600. */
	CHECK(!stat(sub, &st) && (st.st_mode & 0777) == 0700);
	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600);
	/* A second daemon does not steal a live socket. */
	CHECK(ctl_listen(path, &err) == -1);
	CHECK_HAS(err.msg, "another vnumad listens");

	/* ctl_listen made it non-blocking; the test thread blocks. */
	fcntl(s.fd, F_SETFL, 0);
	/* That probe is in the backlog: take it out. */
	close(accept(s.fd, NULL, NULL));
	s.answer = "{\"return\": {\"connected\": true}}\n";
	CHECK(!call_server(path, &s, &ret, &err));
	CHECK_HAS(json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN),
		  "\"connected\":true");
	json_object_put(ret);
	s.answer = "{\"error\": {\"desc\": \"no such running domain\"}}\n";
	CHECK(call_server(path, &s, &ret, &err) == -1);
	CHECK_STR(err.msg, "no such running domain");
	CHECK(err.res == VN_ERR_USAGE);
	s.answer = "{\"neither\": 1}\n";
	CHECK(call_server(path, &s, &ret, &err) == -1);
	CHECK_HAS(err.msg, "neither a return nor an error");
	s.answer = NULL;
	CHECK(call_server(path, &s, &ret, &err) == -1);
	CHECK_HAS(err.msg, "closed the connection without an answer");

	/* A dead daemon's socket is replaced. */
	close(s.fd);
	CHECK(ctl_call(path, "status", NULL, 500, &ret, &err) == -1);
	CHECK_HAS(err.msg, "cannot reach vnumad");
	fd2 = ctl_listen(path, &err);
	CHECK(fd2 >= 0);
	close(fd2);
	unlink(path);
	/* Not a socket: left alone. */
	fclose(fopen(path, "w"));
	CHECK(ctl_listen(path, &err) == -1);
	CHECK_HAS(err.msg, "is not a socket");
	unlink(path);
	CHECK(ctl_listen("", &err) == -1);
	rmdir(sub);
	rmdir(dir);
}

static void test_metrics(void)
{
	struct vn_node nodes[2] = {
		{ .node = 0, .guest_node = 0, .present_pages = 256,
		  .managed_pages = 250, .free_pages = 100 },
		{ .node = 2, .guest_node = 3, .present_pages = 512,
		  .pending_pages = 7 },
	};
	struct vn_info info = {
		.has_page_size = true, .page_size = 4096, .reports = 9,
		.nr_nodes = 2, .nodes = nodes,
	};
	struct vn_metrics_domain d[2] = {
		{ .name = "vm\"1\\", .info = &info, .updated = 1795000000,
		  .relayouts = 3, .relayout_failures = 1,
		  .relayout_seconds = 0.25, .moved_ranges = 2 },
		{ .name = "quiet" },
	};
	char *text = NULL, buf[16];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	vn_metrics_write(f, d, 2, 1);
	fclose(f);
	CHECK_HAS(text, "vnumad_connected 1\n");
	CHECK_HAS(text, "# TYPE vnumad_node_present_bytes gauge\n"
		  "# HELP vnumad_node_present_bytes ");
	CHECK_HAS(text, "vnumad_node_present_bytes{domain=\"vm\\\"1\\\\\","
		  "node=\"2\",guest_node=\"3\"} 2097152\n");
	CHECK_HAS(text, "vnumad_node_pending_bytes{domain=\"vm\\\"1\\\\\","
		  "node=\"2\",guest_node=\"3\"} 28672\n");
	CHECK_HAS(text, "# TYPE vnumad_reports counter\n");
	CHECK_HAS(text, "vnumad_reports_total{domain=\"quiet\"} 0\n");
	CHECK_HAS(text, "vnumad_relayouts_total{domain=\"vm\\\"1\\\\\"} 3\n");
	CHECK_HAS(text, "vnumad_relayout_seconds_total{domain=\"quiet\"} 0\n");
	CHECK_HAS(text, "vnumad_relayout_seconds_total{domain=\"vm\\\"1"
		  "\\\\\"} 0.25\n");
	CHECK_HAS(text, "vnumad_moved_ranges{domain=\"quiet\"} 0\n");
	/* A domain not reported yet has no node lines. */
	CHECK(!strstr(text, "bytes{domain=\"quiet\""));
	CHECK(len > 6 && !strcmp(text + len - 6, "# EOF\n"));
	free(text);
	CHECK_STR(vn_metrics_label("a\nb", buf, sizeof(buf)), "a\\nb");
	/* Cut short, never past the buffer nor in an escape. */
	CHECK_STR(vn_metrics_label("\"\"\"\"\"\"\"\"", buf, sizeof(buf)),
		  "\\\"\\\"\\\"\\\"\\\"\\\"\\\"");
}

const struct test daemon_tests[] = {
	TEST(test_metrics),
	TEST(test_config_parse),
	TEST(test_config_errors),
	TEST(test_ctl_messages),
	TEST(test_ctl_socket),
	{ 0 }
};
