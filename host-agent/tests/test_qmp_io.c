// SPDX-License-Identifier: GPL-2.0
/*
 * qmp.c against a fake QMP server: a thread on a temporary UNIX socket
 * that plays a script of greeting, replies, interleaved events, split
 * messages and garbage.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"
#include "runner.h"

struct fake {
	char dir[64];
	char path[108];
	int lfd;
	void (*script)(int fd);
	pthread_t thread;
};

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void put(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		s += n;
		len -= n;
	}
}

/* One command line from the client; the id it carries into @id. */
static bool get_cmd(int fd, char *name, size_t nlen, char *id, size_t ilen)
{
	char line[4096];
	size_t n = 0;
	struct json_object *o, *v;

	while (n < sizeof(line) - 1 && read(fd, &line[n], 1) == 1 &&
	       line[n] != '\n')
		n++;
	line[n] = '\0';
	o = json_tokener_parse(line);
	if (!o)
		return false;
	snprintf(name, nlen, "%s", json_object_object_get_ex(o, "execute", &v) ?
		 json_object_get_string(v) : "");
	snprintf(id, ilen, "%s", json_object_object_get_ex(o, "id", &v) ?
		 json_object_get_string(v) : "");
	json_object_put(o);
	return true;
}

static void reply(int fd, const char *id, const char *body)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "{%s, \"id\": \"%s\"}\r\n", body, id);
	put(fd, buf);
}

static void wait_close(int fd)
{
	char c;

	while (read(fd, &c, 1) > 0)
		;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);

	if (fd >= 0) {
		f->script(fd);
		close(fd);
	}
	return NULL;
}

static bool fake_start(struct fake *f, void (*script)(int fd))
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(f->dir, sizeof(f->dir), "/tmp/vnuma-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return false;
	snprintf(f->path, sizeof(f->path), "%s/qmp.sock", f->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->script = script;
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(f->lfd, 1))
		return false;
	return !pthread_create(&f->thread, NULL, fake_main, f);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
}

#define GREETING "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 10}}, " \
		 "\"capabilities\": [\"oob\"]}}\r\n"
#define EV_DONE(cid) "{\"event\": \"VIRTIO_NUMA_COMPLETION\", \"data\": " \
	"{\"id\": \"vnuma0\", \"qom-path\": \"/m\", \"command-id\": " #cid \
	", \"type\": \"report\", \"status\": \"ok\", \"field\": \"none\", " \
	"\"detail\": 0}, \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}"
#define EV_REPORT "{\"event\": \"VIRTIO_NUMA_REPORT\", \"data\": {\"id\": " \
	"\"vnuma0\", \"qom-path\": \"/m\", \"report-seq\": 7}}"

#define REPORT_CUT 26	/* {"event": "VIRTIO_NUMA_REP */

static void script_session(int fd)
{
	char name[64], id[64], buf[512];

	/* The greeting in two pieces. */
	put(fd, "{\"QMP\": {\"version\": {\"qemu\"");
	pause_ms(20);
	put(fd, ": {\"major\": 10}}, \"capabilities\": []}}\r\n");
	if (!get_cmd(fd, name, sizeof(name), id, sizeof(id)) ||
	    strcmp(name, "qmp_capabilities"))
		return;
	reply(fd, id, "\"return\": {}");

	/*
	 * query-virtio-numa: an event, a late reply to some other command
	 * and half the reply in one write; the rest of the reply and half
	 * an event in the next; the rest of the event last.
	 */
	if (!get_cmd(fd, name, sizeof(name), id, sizeof(id)))
		return;
	snprintf(buf, sizeof(buf), EV_DONE(1) "\r\n{\"return\": {}, \"id\": "
		 "\"stale\"}\r\n{\"return\": [{\"id\": \"vn");
	put(fd, buf);
	pause_ms(20);
	snprintf(buf, sizeof(buf), "uma0\"}], \"id\": \"%s\"}\r\n%.*s", id,
		 REPORT_CUT, EV_REPORT);
	put(fd, buf);
	pause_ms(20);
	put(fd, EV_REPORT + REPORT_CUT);
	put(fd, "\r\n");

	/* virtio-numa-report: refused. */
	if (!get_cmd(fd, name, sizeof(name), id, sizeof(id)))
		return;
	reply(fd, id, "\"error\": {\"class\": \"GenericError\", \"desc\": "
	      "\"virtio-numa 'vnuma0' is busy: a migration is running\"}");

	pause_ms(50);
	put(fd, EV_DONE(2) "\r\n");
	pause_ms(300);
	put(fd, "}{oops\r\n");
	wait_close(fd);
}

static bool cid_is_2(struct json_object *ev, void *arg)
{
	struct json_object *v;

	(void)arg;
	return json_object_object_get_ex(qmp_event_data(ev), "command-id",
					 &v) && json_object_get_int(v) == 2;
}

static void test_qmp_session(void)
{
	struct qmp_conn *c = NULL;
	struct json_object *ret, *ev;
	struct vn_err err;
	struct fake f;

	if (!CHECK(fake_start(&f, script_session)))
		return;
	if (!CHECK(!qmp_connect(&c, f.path, 2000, &err)))
		goto out;
	CHECK(qmp_msg_kind(c->greeting) == QMP_MSG_GREETING);

	CHECK(!qmp_execute(c, "query-virtio-numa", NULL, &ret, &err));
	CHECK(json_object_is_type(ret, json_type_array) &&
	      json_object_array_length(ret) == 1);
	json_object_put(ret);
	CHECK_U64(c->events.len, 1);

	CHECK(qmp_execute(c, "virtio-numa-report", json_object_new_object(),
			  &ret, &err));
	CHECK(!ret);
	CHECK(err.res == VN_ERR_QEMU);
	CHECK_STR(err.msg, "QEMU refused virtio-numa-report: virtio-numa "
		  "'vnuma0' is busy: a migration is running [GenericError]");

	/* The event of command 2 comes after events 1 and the report. */
	CHECK(qmp_wait_event(c, "VIRTIO_NUMA_COMPLETION", cid_is_2, NULL,
			     2000, &ev, &err) == 1);
	CHECK(ev && cid_is_2(ev, NULL));
	json_object_put(ev);
	CHECK(qmp_next_event(c, 0, &ev, &err) == 1);
	CHECK_STR(qmp_event_name(ev), "VIRTIO_NUMA_COMPLETION");
	CHECK(!cid_is_2(ev, NULL));
	json_object_put(ev);
	CHECK(qmp_next_event(c, 0, &ev, &err) == 1);
	CHECK_STR(qmp_event_name(ev), "VIRTIO_NUMA_REPORT");
	json_object_put(ev);

	/* Nothing more for a while, then garbage. */
	CHECK(qmp_wait_event(c, "NOPE", NULL, NULL, 30, &ev, &err) == 0);
	CHECK(!ev);
	CHECK(qmp_next_event(c, 2000, &ev, &err) == -1);
	CHECK(err.res == VN_ERR_IO);
	CHECK_HAS(err.msg, "QEMU sent");
	CHECK_HAS(err.msg, "near '}{oops");
	CHECK(qmp_next_event(c, 0, &ev, &err) == -1);
out:
	qmp_close(c);
	fake_stop(&f);
}

static void script_not_qmp(int fd)
{
	put(fd, "{\"hello\": 1}\r\n");
	wait_close(fd);
}

static void script_silent(int fd)
{
	wait_close(fd);
}

static void script_hangup(int fd)
{
	char name[64], id[64];

	put(fd, GREETING);
	if (!get_cmd(fd, name, sizeof(name), id, sizeof(id)))
		return;
	reply(fd, id, "\"return\": {}");
	if (!get_cmd(fd, name, sizeof(name), id, sizeof(id)))
		return;
	put(fd, "{\"return\": [{\"id\":");
}

static void script_slow_reply(int fd)
{
	char name[64], id[64], late[64];

	put(fd, GREETING);
	if (!get_cmd(fd, name, sizeof(name), id, sizeof(id)))
		return;
	reply(fd, id, "\"return\": {}");
	if (!get_cmd(fd, name, sizeof(name), late, sizeof(late)))
		return;
	/* Too late for the first command; just in time for the second. */
	if (!get_cmd(fd, name, sizeof(name), id, sizeof(id)))
		return;
	reply(fd, late, "\"return\": \"first\"");
	reply(fd, id, "\"return\": \"second\"");
	wait_close(fd);
}

static void test_qmp_failures(void)
{
	struct qmp_conn *c = NULL;
	struct json_object *ret;
	struct vn_err err;
	struct fake f;

	CHECK(qmp_connect(&c, "/nonexistent/vnuma/qmp.sock", 100, &err));
	CHECK(!c);
	CHECK_HAS(err.msg, "cannot connect to QMP socket "
		  "/nonexistent/vnuma/qmp.sock");

	if (CHECK(fake_start(&f, script_not_qmp))) {
		CHECK(qmp_connect(&c, f.path, 2000, &err));
		CHECK_HAS(err.msg, "is not a QMP socket");
		fake_stop(&f);
	}
	if (CHECK(fake_start(&f, script_silent))) {
		CHECK(qmp_connect(&c, f.path, 100, &err));
		CHECK_HAS(err.msg, "no QMP greeting");
		fake_stop(&f);
	}
	if (CHECK(fake_start(&f, script_hangup))) {
		if (CHECK(!qmp_connect(&c, f.path, 2000, &err))) {
			CHECK(qmp_execute(c, "query-virtio-numa", NULL, &ret,
					  &err));
			CHECK_HAS(err.msg, "QEMU closed the QMP connection");
			qmp_close(c);
		}
		fake_stop(&f);
	}
	if (CHECK(fake_start(&f, script_slow_reply))) {
		if (CHECK(!qmp_connect(&c, f.path, 2000, &err))) {
			c->timeout_ms = 50;
			CHECK(qmp_execute(c, "a", NULL, &ret, &err));
			CHECK_HAS(err.msg, "no reply to a within");
			c->timeout_ms = 2000;
			CHECK(!qmp_execute(c, "b", NULL, &ret, &err));
			CHECK_STR(json_object_get_string(ret), "second");
			json_object_put(ret);
			qmp_close(c);
		}
		fake_stop(&f);
	}
}

const struct test qmp_io_tests[] = {
	TEST(test_qmp_session),
	TEST(test_qmp_failures),
	{ 0 }
};
