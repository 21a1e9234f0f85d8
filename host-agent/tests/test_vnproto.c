// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-numa command arguments, and decoding what QEMU returns:
 * query-virtio-numa with good, missing and wrong-typed members, the
 * events, and the table made of it.
 */
#include <stdio.h>
#include <stdlib.h>

#include "qmpproto.h"
#include "runner.h"
#include "table.h"
#include "vnproto.h"

static void json_is(struct json_object *o, const char *want, int line)
{
	const char *got = qmp_json_str(o);

	t_check(!strcmp(got, want), __FILE__, line, "got  %s\n    want %s",
		got, want);
	json_object_put(o);
}

static void test_args(void)
{
	static const uint32_t cpus[] = { 2, 3 };
	static const uint32_t hn[] = { 0, 1 };
	static const uint32_t host = 3;
	static const struct vn_distance dist[] = { { 0, 21 } };
	static const struct vn_range r[] = {
		{ 0x40000000, 0x8000000, 1 },
		{ 0xfffffffffff00000ull, 0x100000, 0 },
	};

	json_is(vn_args_id("vnuma0"), "{\"id\":\"vnuma0\"}", __LINE__);
	json_is(vn_args_node_add("vnuma0", 2, "vnuma-vm1-node2", NULL, 0,
				 NULL, 0),
		"{\"id\":\"vnuma0\",\"node\":2,\"memdev\":\"vnuma-vm1-node2\"}",
		__LINE__);
	json_is(vn_args_node_add("vnuma0", 2, "m", cpus, 2, dist, 1),
		"{\"id\":\"vnuma0\",\"node\":2,\"memdev\":\"m\",\"cpus\":[2,3],"
		"\"distances\":[{\"node\":0,\"distance\":21}]}", __LINE__);
	json_is(vn_args_node_remove("vnuma0", 3),
		"{\"id\":\"vnuma0\",\"node\":3}", __LINE__);
	json_is(vn_args_relayout("vnuma0", r, 2, false, NULL),
		"{\"id\":\"vnuma0\",\"ranges\":[{\"addr\":1073741824,"
		"\"size\":134217728,\"node\":1},{\"addr\":"
		"18446744073708503040,\"size\":1048576,\"node\":0}]}",
		__LINE__);
	json_is(vn_args_relayout("vnuma0", r, 1, true, NULL),
		"{\"id\":\"vnuma0\",\"ranges\":[{\"addr\":1073741824,"
		"\"size\":134217728,\"node\":1}],\"migrate\":true}", __LINE__);
	json_is(vn_args_relayout("vnuma0", r, 1, false, &host),
		"{\"id\":\"vnuma0\",\"ranges\":[{\"addr\":1073741824,"
		"\"size\":134217728,\"node\":1,\"host-nodes\":[3]}]}",
		__LINE__);
	json_is(vn_args_backend_add("vnuma-vm1-node2", 1ull << 30, NULL, 0),
		"{\"qom-type\":\"memory-backend-ram\","
		"\"id\":\"vnuma-vm1-node2\",\"size\":1073741824}", __LINE__);
	json_is(vn_args_backend_add("b", 1ull << 30, hn, 2),
		"{\"qom-type\":\"memory-backend-ram\",\"id\":\"b\","
		"\"size\":1073741824,\"host-nodes\":[0,1],\"policy\":\"bind\"}",
		__LINE__);
	json_is(vn_args_object_del("b"), "{\"id\":\"b\"}", __LINE__);
	json_is(vn_args_qom_list("/objects"), "{\"path\":\"/objects\"}",
		__LINE__);
}

#define NODE0 "{\"node\":0,\"guest-node\":0,\"possible\":true,"		\
	"\"online\":true,\"with-memory\":true,\"with-cpus\":true,"	\
	"\"added\":false,\"present-pages\":262144,"			\
	"\"managed-pages\":250000,\"free-pages\":200000,"		\
	"\"pending-pages\":0,\"transplanted-pages\":0,\"cpus\":2}"
#define NODE1 "{\"node\":1,\"guest-node\":1,\"possible\":true,"		\
	"\"online\":true,\"with-memory\":true,\"with-cpus\":false,"	\
	"\"added\":true,\"present-pages\":131072,"			\
	"\"managed-pages\":131072,\"free-pages\":131000,"		\
	"\"pending-pages\":512,\"transplanted-pages\":18446744073709551615,"\
	"\"pending-slab-pages\":100,\"pending-pagetable-pages\":7,"	\
	"\"pending-other-pages\":512,\"cpus\":0}"
#define CMDS "[{\"command-id\":1,\"type\":\"report\","			\
	"\"state\":\"done\","						\
	"\"status\":\"ok\",\"detail\":0},{\"command-id\":2,"		\
	"\"type\":\"node-add\",\"state\":\"done\","			\
	"\"status\":\"invalid\","					\
	"\"field\":\"size\",\"detail\":22},{\"command-id\":3,"		\
	"\"type\":\"relayout\",\"state\":\"sent\"}]"
#define INFO_HEAD "\"id\":\"vnuma0\","				\
	"\"qom-path\":\"/machine/peripheral/vnuma0\","			\
	"\"block-size\":134217728,\"max-nodes\":4,"			\
	"\"driver-ready\":true,\"report-interval\":0,\"reports\":5,"	\
	"\"bogus-events\":0"
#define INFO "{" INFO_HEAD ",\"guest-nr-node-ids\":4,"			\
	"\"page-size\":4096,"						\
	"\"guest-relayout-unit\":134217728,"				\
	"\"guest-add-unit\":2147483648,"				\
	"\"report-seq\":9,\"nodes\":[" NODE0 "," NODE1 "],"		\
	"\"commands\":" CMDS "}"

static void test_decode_query(void)
{
	struct json_object *list = json_tokener_parse("[{" INFO_HEAD
		",\"nodes\":[],\"commands\":[]}, " INFO "]");
	struct vn_info info;
	struct vn_err err;
	const struct vn_node *n;

	if (!CHECK(list))
		return;
	if (!CHECK(!vn_decode_query(list, "vnuma0", &info, &err)))
		goto out;
	/* The first entry of that id wins. */
	CHECK_U64(info.nr_nodes, 0);
	CHECK(!info.has_page_size && !info.has_report_seq);
	CHECK(!info.has_guest_relayout_unit && !info.has_guest_add_unit);
	CHECK_U64(vn_add_unit(&info), 128 << 20);
	vn_info_free(&info);

	json_object_array_del_idx(list, 0, 1);
	if (!CHECK(!vn_decode_query(list, "vnuma0", &info, &err)))
		goto out;
	CHECK_STR(info.id, "vnuma0");
	CHECK_STR(info.qom_path, "/machine/peripheral/vnuma0");
	CHECK_U64(info.block_size, 128 << 20);
	CHECK_U64(info.max_nodes, 4);
	CHECK(info.driver_ready);
	CHECK(info.has_page_size && info.page_size == 4096);
	CHECK(info.has_report_seq && info.report_seq == 9);
	CHECK(info.has_guest_nr_node_ids && info.guest_nr_node_ids == 4);
	CHECK(info.has_guest_relayout_unit && info.has_guest_add_unit);
	CHECK_U64(vn_relayout_unit(&info), 128 << 20);
	CHECK_U64(vn_add_unit(&info), 2ull << 30);
	CHECK_U64(info.nr_nodes, 2);
	n = vn_info_node(&info, 1);
	if (CHECK(n)) {
		CHECK(n->added && !n->with_cpus && n->online);
		CHECK_U64(n->pending_pages, 512);
		CHECK_U64(n->transplanted_pages, UINT64_MAX);
		CHECK_U64(n->pending_slab_pages, 100);
		CHECK_U64(n->pending_pagetable_pages, 7);
		CHECK_U64(n->pending_other_pages, 512);
	}
	/* A device that does not report them: 0. */
	n = vn_info_node(&info, 0);
	if (CHECK(n))
		CHECK_U64(n->pending_slab_pages + n->pending_other_pages, 0);
	CHECK(!vn_info_node(&info, 3));
	CHECK_U64(vn_info_pending(&info), 512);
	CHECK_U64(vn_pages_bytes(&info, 512), 2 << 20);
	CHECK_U64(vn_pages_bytes(&info, UINT64_MAX), UINT64_MAX);
	CHECK_U64(info.nr_commands, 3);
	CHECK(info.commands[1].has_status &&
	      info.commands[1].status == VN_S_INVALID);
	CHECK_STR(info.commands[1].field, "size");
	CHECK_U64(info.commands[1].detail, 22);
	CHECK(!info.commands[2].has_status && !info.commands[2].has_detail);
	CHECK_STR(info.commands[2].state, "sent");
	vn_info_free(&info);

	CHECK(vn_decode_query(list, "vnuma9", &info, &err));
	CHECK(err.res == VN_ERR_USAGE);
	CHECK_HAS(err.msg, "no virtio-numa device 'vnuma9' (it has vnuma0)");
	vn_info_free(&info);
out:
	json_object_put(list);
}

/* @info with member @key replaced by @val (NULL: removed) fails so. */
static void bad_info(const char *key, const char *val, const char *why,
		     int line)
{
	struct json_object *o = json_tokener_parse(INFO);
	struct json_object *list = json_object_new_array();
	struct vn_info info;
	struct vn_err err = { 0 };

	if (val)
		json_object_object_add(o, key, json_tokener_parse(val));
	else
		json_object_object_del(o, key);
	json_object_array_add(list, o);
	if (t_check(vn_decode_query(list, "vnuma0", &info, &err), __FILE__,
		    line, "%s = %s accepted", key, val ? val : "(none)"))
		t_check(strstr(err.msg, why) && err.res == VN_ERR_IO,
			__FILE__, line, "'%s' does not say '%s'", err.msg,
			why);
	vn_info_free(&info);
	json_object_put(list);
}

/* The same with node 1's member @key. */
static void bad_node(const char *key, const char *val, const char *why,
		     int line)
{
	struct json_object *o = json_tokener_parse(INFO), *nodes, *n;
	struct json_object *list = json_object_new_array();
	struct vn_info info;
	struct vn_err err = { 0 };

	json_object_object_get_ex(o, "nodes", &nodes);
	n = json_object_array_get_idx(nodes, 1);
	if (val)
		json_object_object_add(n, key, json_tokener_parse(val));
	else
		json_object_object_del(n, key);
	json_object_array_add(list, o);
	if (t_check(vn_decode_query(list, "vnuma0", &info, &err), __FILE__,
		    line, "node %s = %s accepted", key, val ? val : "(none)"))
		t_check(strstr(err.msg, why) != NULL, __FILE__, line,
			"'%s' does not say '%s'", err.msg, why);
	vn_info_free(&info);
	json_object_put(list);
}

static void test_decode_query_bad(void)
{
	struct json_object *o;
	struct vn_info info;
	struct vn_err err;

	bad_info("block-size", NULL, "'block-size' is missing", __LINE__);
	bad_info("block-size", "\"128M\"", "'block-size' is not an unsigned",
		 __LINE__);
	bad_info("block-size", "0", "'block-size' is 0", __LINE__);
	bad_info("block-size", "-1", "not an unsigned", __LINE__);
	bad_info("block-size", "1.5", "not an unsigned", __LINE__);
	bad_info("max-nodes", "4294967296", "more than 4294967295", __LINE__);
	bad_info("driver-ready", "1", "'driver-ready' is not a boolean",
		 __LINE__);
	bad_info("qom-path", "null", "'qom-path' is not a string", __LINE__);
	bad_info("page-size", "4095", "not a power of 2", __LINE__);
	bad_info("page-size", NULL, "'page-size' is missing but there are "
		 "nodes", __LINE__);
	bad_info("page-size", "true", "not an unsigned", __LINE__);
	bad_info("guest-relayout-unit", "0", "'guest-relayout-unit' 0 is not "
		 "a power of 2", __LINE__);
	bad_info("guest-add-unit", "3221225472", "'guest-add-unit' 3221225472 "
		 "is not a power of 2", __LINE__);
	bad_info("guest-add-unit", "-1", "not an unsigned", __LINE__);
	bad_info("nodes", NULL, "'nodes' is missing", __LINE__);
	bad_info("nodes", "{}", "'nodes' is not an array", __LINE__);
	bad_info("nodes", "[1]", "nodes[0]: not a JSON object", __LINE__);
	bad_info("commands", "[{\"command-id\":1}]",
		 "commands[0]: 'type' is missing", __LINE__);
	bad_info("commands", "[{\"command-id\":1,\"type\":\"report\","
		 "\"state\":\"done\",\"detail\":-3}]", "'detail' is not",
		 __LINE__);
	bad_info("nodes", "[" NODE0 "," NODE0 "]", "node 0 listed twice",
		 __LINE__);

	bad_node("free-pages", NULL, "nodes[1]: 'free-pages' is missing",
		 __LINE__);
	bad_node("free-pages", "\"lots\"", "nodes[1]: 'free-pages' is not",
		 __LINE__);
	bad_node("online", "\"yes\"", "'online' is not a boolean", __LINE__);
	bad_node("pending-slab-pages", "513",
		 "'pending-slab-pages' is 513, more than 512", __LINE__);
	bad_node("pending-other-pages", "-1", "'pending-other-pages' is not",
		 __LINE__);
	bad_node("node", "7", "node 7 is not below max-nodes 4", __LINE__);
	bad_node("node", "-1", "'node' is not an unsigned", __LINE__);
	bad_node("cpus", "[1]", "'cpus' is not an unsigned", __LINE__);

	o = json_tokener_parse("{\"id\":\"vnuma0\"}");
	CHECK(vn_decode_query(o, "vnuma0", &info, &err));
	CHECK_HAS(err.msg, "did not return an array");
	json_object_put(o);
	o = json_tokener_parse("[{\"qom-path\":\"x\"}]");
	CHECK(vn_decode_query(o, "vnuma0", &info, &err));
	CHECK_HAS(err.msg, "[0]: 'id' is missing");
	json_object_put(o);
	o = json_tokener_parse("[]");
	CHECK(vn_decode_query(o, "vnuma0", &info, &err));
	CHECK_HAS(err.msg, "(it has none)");
	json_object_put(o);
	vn_info_free(&info);
}

static void test_decode_ids(void)
{
	struct json_object *o;
	struct vn_err err;
	uint64_t ids[6];

	o = json_tokener_parse("{\"command-id\":5,\"cpu-command-ids\":[6,7],"
			       "\"distance-command-ids\":[8,9]}");
	CHECK(!vn_decode_node_add_ids(o, 2, 1, ids, &err));
	CHECK(ids[0] == 5 && ids[1] == 6 && ids[2] == 7 && ids[3] == 8 &&
	      ids[4] == 9);
	CHECK(vn_decode_node_add_ids(o, 1, 1, ids, &err));
	CHECK_HAS(err.msg, "'cpu-command-ids' has 2 ids, not 1");
	CHECK(vn_decode_node_add_ids(o, 2, 2, ids, &err));
	json_object_put(o);

	o = json_tokener_parse("{\"command-id\":5}");
	CHECK(!vn_decode_node_add_ids(o, 0, 0, ids, &err));
	CHECK(vn_decode_node_add_ids(o, 1, 0, ids, &err));
	CHECK_HAS(err.msg, "'cpu-command-ids' is missing");
	json_object_put(o);

	o = json_tokener_parse("{\"command-id\":\"5\"}");
	CHECK(vn_decode_command_id(o, ids, &err));
	CHECK_HAS(err.msg, "'command-id' is not an unsigned integer");
	json_object_put(o);
	CHECK(vn_decode_command_id(NULL, ids, &err));
	CHECK_HAS(err.msg, "not a JSON object");
}

static void test_decode_events(void)
{
	struct json_object *ev;
	struct vn_completion c;
	struct vn_err err;
	const char *id;
	uint64_t seq;

	ev = json_tokener_parse("{\"event\":\"VIRTIO_NUMA_COMPLETION\","
		"\"data\":{\"id\":\"vnuma0\",\"qom-path\":\"/m\","
		"\"command-id\":3,\"type\":\"node-add\",\"status\":\"busy\","
		"\"field\":\"none\",\"detail\":16},\"timestamp\":{}}");
	CHECK(!vn_decode_completion(ev, &c, &err));
	CHECK_STR(c.id, "vnuma0");
	CHECK_U64(c.command_id, 3);
	CHECK_STR(c.type, "node-add");
	CHECK(c.status == VN_S_BUSY);
	CHECK_U64(c.detail, 16);
	json_object_put(ev);

	ev = json_tokener_parse("{\"event\":\"VIRTIO_NUMA_COMPLETION\","
		"\"data\":{\"id\":\"vnuma0\",\"command-id\":3}}");
	CHECK(vn_decode_completion(ev, &c, &err));
	CHECK_HAS(err.msg, "VIRTIO_NUMA_COMPLETION: 'type' is missing");
	json_object_put(ev);

	ev = json_tokener_parse("{\"event\":\"VIRTIO_NUMA_COMPLETION\"}");
	CHECK(vn_decode_completion(ev, &c, &err));
	CHECK_HAS(err.msg, "without data");
	json_object_put(ev);

	ev = json_tokener_parse("{\"event\":\"VIRTIO_NUMA_REPORT\",\"data\":"
		"{\"id\":\"vnuma0\",\"qom-path\":\"/m\",\"report-seq\":12}}");
	CHECK(!vn_decode_report_event(ev, &id, &seq, &err));
	CHECK_STR(id, "vnuma0");
	CHECK_U64(seq, 12);
	json_object_put(ev);

	ev = json_tokener_parse("{\"event\":\"VIRTIO_NUMA_REPORT\",\"data\":"
		"{\"id\":\"vnuma0\",\"seq\":12}}");
	CHECK(vn_decode_report_event(ev, &id, &seq, &err));
	CHECK_HAS(err.msg, "'report-seq' is missing");
	json_object_put(ev);
}

static void test_qom_has(void)
{
	struct json_object *o = json_tokener_parse(
		"[{\"name\":\"type\",\"type\":\"string\"},"
		"{\"name\":\"vnuma-vm1-node2\",\"type\":\"child<x>\"}]");
	struct vn_err err;
	bool found;

	CHECK(!vn_decode_qom_has(o, "vnuma-vm1-node2", &found, &err) && found);
	CHECK(!vn_decode_qom_has(o, "vnuma-vm1-node3", &found, &err) &&
	      !found);
	json_object_put(o);
	o = json_tokener_parse("[{\"type\":\"string\"}]");
	CHECK(vn_decode_qom_has(o, "x", &found, &err));
	CHECK_HAS(err.msg, "'name' is missing");
	json_object_put(o);
}

static char *table_text(const struct vn_info *info)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	table_print(f, "vm1", info);
	fclose(f);
	return buf;
}

static void test_table_and_json(void)
{
	struct json_object *list = json_tokener_parse("[" INFO "]"), *o;
	struct vn_info info;
	struct vn_err err;
	char st[48], *text;

	if (!CHECK(!vn_decode_query(list, "vnuma0", &info, &err)))
		goto out;
	CHECK_STR(node_state(&info.nodes[0], st, sizeof(st)),
		  "online,memory,cpus");
	CHECK_STR(node_state(&info.nodes[1], st, sizeof(st)),
		  "online,memory,added");
	info.nodes[1].online = false;
	CHECK_STR(node_state(&info.nodes[1], st, sizeof(st)),
		  "possible,added");
	info.nodes[1].possible = false;
	info.nodes[1].added = false;
	CHECK_STR(node_state(&info.nodes[1], st, sizeof(st)), "-");

	text = table_text(&info);
	/* The guest's units only where they differ from the block size. */
	CHECK_HAS(text, "vm1/vnuma0: driver ready, block size 128 MiB, "
		  "node size unit 2 GiB, page size 4 KiB, report 9");
	CHECK_HAS(text, "NODE GUEST  STATE");
	CHECK_HAS(text, "   0     0  online,memory,cpus");
	CHECK_HAS(text, "1 GiB");		/* 262144 pages */
	CHECK_HAS(text, "2 MiB");		/* 512 pending pages */
	free(text);

	o = vn_info_to_json(&info, "vm1");
	CHECK_HAS(qmp_json_str(o), "\"domain\":\"vm1\",\"id\":\"vnuma0\"");
	CHECK_HAS(qmp_json_str(o), "\"page-size\":4096");
	CHECK_HAS(qmp_json_str(o), "\"guest-relayout-unit\":134217728,"
		  "\"guest-add-unit\":2147483648");
	CHECK_HAS(qmp_json_str(o), "\"transplanted-pages\":"
		  "18446744073709551615");
	json_object_put(o);

	vn_info_free(&info);
	info.id = "vnuma0";
	text = table_text(&info);
	CHECK_HAS(text, "the guest has not reported yet");
	free(text);
out:
	json_object_put(list);
}

const struct test vnproto_tests[] = {
	TEST(test_args),
	TEST(test_decode_query),
	TEST(test_decode_query_bad),
	TEST(test_decode_ids),
	TEST(test_decode_events),
	TEST(test_qom_has),
	TEST(test_table_and_json),
	{ 0 }
};
