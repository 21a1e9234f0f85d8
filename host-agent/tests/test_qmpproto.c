// SPDX-License-Identifier: GPL-2.0
/*
 * QMP messages: building commands, telling replies from events,
 * decoding errors, and a byte stream cut anywhere.
 */
#include <stdio.h>
#include <stdlib.h>

#include "qmpproto.h"
#include "runner.h"

static struct json_object *parse(const char *s)
{
	return json_tokener_parse(s);
}

static void test_build_command(void)
{
	struct json_object *cmd, *args;

	cmd = qmp_build_command("qmp_capabilities", NULL, NULL);
	CHECK_STR(qmp_json_str(cmd), "{\"execute\":\"qmp_capabilities\"}");
	json_object_put(cmd);

	args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_string("vnuma0"));
	cmd = qmp_build_command("virtio-numa-report", args, "vnumactl-3");
	CHECK_STR(qmp_json_str(cmd), "{\"execute\":\"virtio-numa-report\","
		  "\"arguments\":{\"id\":\"vnuma0\"},\"id\":\"vnumactl-3\"}");
	json_object_put(cmd);
}

static void kind_is(const char *s, enum qmp_msg_kind want, int line)
{
	struct json_object *o = parse(s);

	t_check(qmp_msg_kind(o) == want, __FILE__, line,
		"kind of %s is %d, want %d", s, qmp_msg_kind(o), want);
	json_object_put(o);
}

static void test_msg_kind(void)
{
	kind_is("{\"QMP\":{\"version\":{}}}", QMP_MSG_GREETING, __LINE__);
	kind_is("{\"return\":{}}", QMP_MSG_RETURN, __LINE__);
	kind_is("{\"return\":[],\"id\":\"x\"}", QMP_MSG_RETURN, __LINE__);
	kind_is("{\"error\":{\"class\":\"GenericError\",\"desc\":\"no\"}}",
		QMP_MSG_ERROR, __LINE__);
	kind_is("{\"event\":\"STOP\",\"data\":{}}", QMP_MSG_EVENT, __LINE__);
	kind_is("{\"event\":5}", QMP_MSG_INVALID, __LINE__);
	kind_is("{\"error\":\"text\"}", QMP_MSG_INVALID, __LINE__);
	kind_is("{\"something\":1}", QMP_MSG_INVALID, __LINE__);
	kind_is("[1,2]", QMP_MSG_INVALID, __LINE__);
	CHECK(qmp_msg_kind(NULL) == QMP_MSG_INVALID);
}

static void test_decode_reply(void)
{
	struct json_object *reply, *ret;
	struct vn_err err;

	reply = parse("{\"return\":{\"command-id\":4}}");
	CHECK(!qmp_decode_reply("virtio-numa-report", reply, &ret, &err));
	CHECK(json_object_is_type(ret, json_type_object));
	json_object_put(reply);

	reply = parse("{\"error\":{\"class\":\"GenericError\",\"desc\":"
		      "\"'node': node 1 has boot memory\"}}");
	CHECK(qmp_decode_reply("virtio-numa-node-add", reply, &ret, &err));
	CHECK(err.res == VN_ERR_QEMU);
	CHECK(!ret);
	CHECK_STR(err.msg, "QEMU refused virtio-numa-node-add: 'node': "
		  "node 1 has boot memory [GenericError]");
	json_object_put(reply);

	reply = parse("{\"error\":{\"class\":7}}");
	CHECK(qmp_decode_reply("x", reply, &ret, &err));
	CHECK(err.res == VN_ERR_QEMU);
	CHECK_HAS(err.msg, "(no description)");
	json_object_put(reply);

	reply = parse("{\"event\":\"STOP\"}");
	CHECK(qmp_decode_reply("x", reply, &ret, &err));
	CHECK(err.res == VN_ERR_IO);
	CHECK_HAS(err.msg, "neither a return nor an error");
	json_object_put(reply);
}

/* Feed @s cut into pieces of @step bytes; return the messages. */
static int feed_pieces(const char *s, size_t step, struct qmp_queue *q,
		       struct vn_err *err)
{
	struct qmp_stream st;
	size_t off, len = strlen(s);
	int r = 0;

	qmp_stream_init(&st);
	for (off = 0; off < len && !r; off += step)
		r = qmp_stream_feed(&st, s + off, len - off < step ?
				    len - off : step, q, err);
	qmp_stream_fini(&st);
	return r;
}

static const char three_msgs[] =
	"{\"QMP\":{\"version\":{\"qemu\":{\"major\":10}}}}\r\n"
	"{\"event\":\"VIRTIO_NUMA_REPORT\",\"data\":{\"id\":\"vn}0\","
	"\"qom-path\":\"/x\\\"y\",\"report-seq\":18446744073709551615}}\r\n"
	"{\"return\":{}}\r\n";

static void test_stream_split(void)
{
	size_t step;

	/* Every cut, from byte by byte to all at once. */
	for (step = 1; step <= sizeof(three_msgs); step++) {
		struct qmp_queue q;
		struct vn_err err;
		int r;

		qmp_queue_init(&q);
		r = feed_pieces(three_msgs, step, &q, &err);
		t_check(!r && q.len == 3, __FILE__, __LINE__,
			"step %zu: r %d, %zu messages", step, r, q.len);
		if (q.len == 3) {
			CHECK(qmp_msg_kind(q.msg[0]) == QMP_MSG_GREETING);
			CHECK_STR(qmp_event_name(q.msg[1]),
				  "VIRTIO_NUMA_REPORT");
			CHECK(qmp_msg_kind(q.msg[2]) == QMP_MSG_RETURN);
		}
		qmp_queue_clear(&q);
	}
}

static void garbage(const char *s, const char *why, int line)
{
	struct qmp_queue q;
	struct vn_err err = { 0 };
	size_t step;

	for (step = 1; step <= strlen(s); step += strlen(s) - 1) {
		qmp_queue_init(&q);
		if (t_check(feed_pieces(s, step, &q, &err), __FILE__, line,
			    "garbage %s accepted", s)) {
			t_check(err.res == VN_ERR_IO, __FILE__, line,
				"not an I/O error");
			t_check(strstr(err.msg, why) != NULL, __FILE__, line,
				"'%s' does not say '%s'", err.msg, why);
		}
		qmp_queue_clear(&q);
		if (strlen(s) < 2)
			break;
	}
}

static void test_stream_garbage(void)
{
	garbage("{\"return\":{}}\r\nthis is not json\r\n", "QEMU sent",
		__LINE__);
	garbage("}", "QEMU sent", __LINE__);
	garbage("{\"a\":1,}", "QEMU sent", __LINE__);
	garbage("null\n", "not an object", __LINE__);
	garbage("[1,2]\n", "not an object", __LINE__);
	garbage("42\n", "not an object", __LINE__);
	garbage("\"str\"\n", "not an object", __LINE__);
	garbage("{\"a\":\"\xff\xfe\"}", "QEMU sent", __LINE__);
	garbage("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]"
		"]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "QEMU sent",
		__LINE__);
}

static void test_stream_broken_stays(void)
{
	struct qmp_stream st;
	struct qmp_queue q;
	struct vn_err err;

	qmp_queue_init(&q);
	qmp_stream_init(&st);
	CHECK(qmp_stream_feed(&st, "{\"return\":{}}x", 14, &q, &err));
	CHECK_U64(q.len, 1);	/* the good message before it stays */
	CHECK_HAS(err.msg, "near 'x'");
	CHECK(qmp_stream_feed(&st, "{\"return\":{}}", 13, &q, &err));
	CHECK_HAS(err.msg, "broken");
	qmp_stream_fini(&st);
	qmp_queue_clear(&q);

	/* A NUL byte inside a message. */
	qmp_stream_init(&st);
	CHECK(qmp_stream_feed(&st, "{\"a\":\0}", 7, &q, &err));
	CHECK_HAS(err.msg, "QEMU sent");
	CHECK_U64(q.len, 0);
	qmp_stream_fini(&st);
}

static void test_stream_too_big(void)
{
	struct qmp_stream st;
	struct qmp_queue q;
	struct vn_err err = { 0 };
	size_t chunk = 1 << 20, i;
	char *buf = malloc(chunk);
	int r = 0;

	if (!CHECK(buf))
		return;
	memset(buf, 'a', chunk);
	qmp_queue_init(&q);
	qmp_stream_init(&st);
	r = qmp_stream_feed(&st, "{\"a\":\"", 6, &q, &err);
	for (i = 0; i < 20 && !r; i++)
		r = qmp_stream_feed(&st, buf, chunk, &q, &err);
	CHECK(r);
	CHECK_HAS(err.msg, "more than 16 MiB");
	qmp_stream_fini(&st);
	qmp_queue_clear(&q);
	free(buf);
}

static bool seq_is_2(struct json_object *ev, void *arg)
{
	struct json_object *data = qmp_event_data(ev), *v;

	(void)arg;
	return json_object_object_get_ex(data, "seq", &v) &&
	       json_object_get_int(v) == 2;
}

static void test_queue_take_event(void)
{
	struct qmp_queue q;
	struct json_object *ev;

	qmp_queue_init(&q);
	qmp_queue_push(&q, parse("{\"event\":\"A\",\"data\":{\"seq\":1}}"));
	qmp_queue_push(&q, parse("{\"return\":{}}"));
	qmp_queue_push(&q, parse("{\"event\":\"B\",\"data\":{\"seq\":2}}"));
	qmp_queue_push(&q, parse("{\"event\":\"A\",\"data\":{\"seq\":2}}"));

	ev = qmp_queue_take_event(&q, "A", seq_is_2, NULL);
	CHECK(ev && seq_is_2(ev, NULL));
	CHECK_STR(qmp_event_name(ev), "A");
	json_object_put(ev);
	CHECK_U64(q.len, 3);
	CHECK(!qmp_queue_take_event(&q, "C", NULL, NULL));
	ev = qmp_queue_take_event(&q, NULL, NULL, NULL);
	CHECK_STR(qmp_event_name(ev), "A");
	json_object_put(ev);
	ev = qmp_queue_take_event(&q, NULL, NULL, NULL);
	CHECK_STR(qmp_event_name(ev), "B");
	json_object_put(ev);
	CHECK(!qmp_queue_take_event(&q, NULL, NULL, NULL));
	CHECK_U64(q.len, 1);
	CHECK(!qmp_queue_take(&q, 5));
	qmp_queue_clear(&q);
	CHECK(!qmp_event_data(NULL));
}

const struct test qmpproto_tests[] = {
	TEST(test_build_command),
	TEST(test_msg_kind),
	TEST(test_decode_reply),
	TEST(test_stream_split),
	TEST(test_stream_garbage),
	TEST(test_stream_broken_stays),
	TEST(test_stream_too_big),
	TEST(test_queue_take_event),
	{ 0 }
};
