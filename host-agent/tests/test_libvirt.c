// SPDX-License-Identifier: GPL-2.0
/*
 * The libvirt backend: its pure half (events and replies as the QMP
 * backend gives them), and conn_open_uri() against libvirt's test
 * driver (test:///FILE, no daemon), which has domains but no QEMU
 * monitor: every failure up to the monitor is checked there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conn.h"
#include "conn_libvirt.h"
#include "lvtyped.h"
#include "runner.h"

static void test_lv_event(void)
{
	struct json_object *ev, *ts, *v;

	ev = lv_event_new("VIRTIO_NUMA_REPORT", 1700000000, 123456,
			  "{\"id\": \"vnuma0\", \"seq\": 7}");
	CHECK(qmp_msg_kind(ev) == QMP_MSG_EVENT);
	CHECK_STR(qmp_event_name(ev), "VIRTIO_NUMA_REPORT");
	CHECK(qmp_event_data(ev));
	CHECK(json_object_object_get_ex(qmp_event_data(ev), "seq", &v) &&
	      json_object_get_int(v) == 7);
	CHECK(json_object_object_get_ex(ev, "timestamp", &ts));
	CHECK(json_object_object_get_ex(ts, "seconds", &v) &&
	      json_object_get_int64(v) == 1700000000);
	CHECK(json_object_object_get_ex(ts, "microseconds", &v) &&
	      json_object_get_int64(v) == 123456);
	CHECK(qmp_event_matches(ev, "VIRTIO_NUMA_REPORT", NULL, NULL));
	json_object_put(ev);

	/* No details: no "data", as QEMU sends such events. */
	ev = lv_event_new("STOP", 5, 0, NULL);
	CHECK(qmp_msg_kind(ev) == QMP_MSG_EVENT);
	CHECK_STR(qmp_event_name(ev), "STOP");
	CHECK(!json_object_object_get_ex(ev, "data", NULL));
	json_object_put(ev);

	/* Not JSON: kept as text, which is no event data. */
	ev = lv_event_new("X", -1, 0, "{oops");
	CHECK(qmp_msg_kind(ev) == QMP_MSG_EVENT);
	CHECK(!qmp_event_data(ev));
	CHECK(json_object_object_get_ex(ev, "data", &v) &&
	      json_object_is_type(v, json_type_string));
	json_object_put(ev);
}

static void test_lv_reply(void)
{
	struct json_object *reply, *ret;
	struct vn_err err;

	CHECK(!lv_parse_reply("query-virtio-numa",
			      "{\"return\":[{\"id\":\"vnuma0\"}],"
			      "\"id\":\"libvirt-12\"}", &reply, &err));
	CHECK(qmp_msg_kind(reply) == QMP_MSG_RETURN);
	CHECK(!qmp_decode_reply("query-virtio-numa", reply, &ret, &err));
	CHECK(json_object_is_type(ret, json_type_array));
	json_object_put(reply);

	/* A QMP error is a reply: shared code makes it a QEMU refusal. */
	CHECK(!lv_parse_reply("object-del",
			      "{\"id\":\"libvirt-13\",\"error\":{\"class\":"
			      "\"GenericError\",\"desc\":\"object 'x' not "
			      "found\"}}", &reply, &err));
	CHECK(qmp_msg_kind(reply) == QMP_MSG_ERROR);
	CHECK(qmp_decode_reply("object-del", reply, &ret, &err));
	CHECK(err.res == VN_ERR_QEMU);
	CHECK_HAS(err.msg, "QEMU refused object-del: object 'x' not found "
		  "[GenericError]");
	json_object_put(reply);

	CHECK(lv_parse_reply("qom-list", "{\"event\":\"STOP\"}", &reply,
			     &err));
	CHECK(!reply);
	CHECK(err.res == VN_ERR_IO);
	CHECK_HAS(err.msg, "libvirt answered qom-list with neither");
	CHECK(lv_parse_reply("qom-list", "not json", &reply, &err));
	CHECK(err.res == VN_ERR_IO);
	CHECK(lv_parse_reply("qom-list", "[1]", &reply, &err));
	CHECK(lv_parse_reply("qom-list", NULL, &reply, &err));
	CHECK_HAS(err.msg, "nothing");
}

static void test_lv_one_line(void)
{
	char buf[16];

	lv_one_line(buf, sizeof(buf), "a\nb\r\nc\n");
	CHECK_STR(buf, "a b  c");
	lv_one_line(buf, sizeof(buf), NULL);
	CHECK_STR(buf, "unknown libvirt");
	lv_one_line(buf, sizeof(buf), "0123456789abcdefghij");
	CHECK_STR(buf, "0123456789abcde");
}

/* A test driver node: domain "on" runs, "off" is shut off. */
static const char node_xml[] =
"<node>\n"
"  <domain type='test'\n"
"          xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
"    <name>off</name><memory>131072</memory>\n"
"    <os><type>hvm</type></os>\n"
"    <test:runstate>5</test:runstate>\n"
"  </domain>\n"
"  <domain type='test'>\n"
"    <name>on</name><memory>131072</memory>\n"
"    <os><type>hvm</type></os>\n"
"  </domain>\n"
"</node>\n";

static bool write_node(char *dir, size_t dlen, char *uri, size_t ulen)
{
	char path[128];
	FILE *f;

	snprintf(dir, dlen, "/tmp/vnuma-lvtest.XXXXXX");
	if (!mkdtemp(dir))
		return false;
	snprintf(path, sizeof(path), "%s/node.xml", dir);
	f = fopen(path, "w");
	if (!f)
		return false;
	fputs(node_xml, f);
	fclose(f);
	snprintf(uri, ulen, "test://%s", path);
	return true;
}

static void remove_node(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/node.xml", dir);
	unlink(path);
	rmdir(dir);
}

static void test_lv_open_errors(void)
{
	char dir[64], uri[160];
	struct vn_conn *c = (struct vn_conn *)1;
	struct vn_err err;

	if (!CHECK(write_node(dir, sizeof(dir), uri, sizeof(uri))))
		return;

	CHECK(conn_open_uri(&c, uri, "vm1", 1000, &err));
	CHECK(!c);
	CHECK(err.res == VN_ERR_USAGE);
	CHECK_HAS(err.msg, "vm1: no such domain");
	CHECK(!strchr(err.msg, '\n'));

	CHECK(conn_open_uri(&c, uri, "off", 1000, &err));
	CHECK(!c);
	CHECK(err.res == VN_ERR_IO);
	CHECK_HAS(err.msg, "off: the domain is not running");

	/* Running, but the test driver has no QEMU monitor to listen to. */
	CHECK(conn_open_uri(&c, uri, "on", 1000, &err));
	CHECK(!c);
	CHECK(err.res == VN_ERR_IO);
	CHECK_HAS(err.msg, "on: cannot listen to QEMU monitor events");
	CHECK(!strchr(err.msg, '\n'));

	CHECK(conn_open_uri(&c, "qemu+unix:///system?socket=/nonexistent/"
			    "libvirt-sock", "vm1", 1000, &err));
	CHECK(!c);
	CHECK(err.res == VN_ERR_IO);
	CHECK_HAS(err.msg, "vm1: cannot connect to libvirt at "
		  "qemu+unix:///system?socket=/nonexistent/libvirt-sock: ");
	CHECK_HAS(err.msg, "/nonexistent/libvirt-sock");

	remove_node(dir);
}

static void test_lvt_id_list(void)
{
	static const uint32_t ids[] = { 0, 2, 17 };
	char buf[64], tiny[4];

	CHECK_STR(lvt_id_list(ids, 3, buf, sizeof(buf)), "0,2,17");
	CHECK_STR(lvt_id_list(ids, 1, buf, sizeof(buf)), "0");
	CHECK_STR(lvt_id_list(ids, 0, buf, sizeof(buf)), "");
	/* Cut short, never past the buffer. */
	CHECK_STR(lvt_id_list(ids, 3, tiny, sizeof(tiny)), "0,2");
}

const struct test libvirt_tests[] = {
	TEST(test_lvt_id_list),
	TEST(test_lv_event),
	TEST(test_lv_reply),
	TEST(test_lv_one_line),
	TEST(test_lv_open_errors),
	{ 0 }
};
