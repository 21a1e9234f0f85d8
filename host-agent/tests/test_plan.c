// SPDX-License-Identifier: GPL-2.0
/*
 * The binding rule, its inputs (query-memdev, the device's RAM map,
 * sysfs meminfo) and their bad forms.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plan.h"
#include "runner.h"

#define MiB	(1ull << 20)
#define GiB	(1ull << 30)

/*
 * A guest like the e2e tests boot: node 0 at [0, 512M) and node 1 at
 * [512M, 1G) of backends ram-node0/1, low holes as QEMU's flat view
 * has them; the report says each node has its own memory.
 */
#define QUERY_2NODES \
	"[{\"id\": \"vnuma0\", \"qom-path\": \"/machine/peripheral/vnuma0\"," \
	" \"block-size\": 134217728, \"max-nodes\": 4," \
	" \"driver-ready\": true, \"report-interval\": 0, \"reports\": 3," \
	" \"bogus-events\": 0, \"page-size\": 4096, \"report-seq\": 3," \
	" \"nodes\": [" \
	"  {\"node\": 0, \"guest-node\": 0, \"possible\": true," \
	"   \"online\": true, \"with-memory\": true, \"with-cpus\": true," \
	"   \"added\": false, \"present-pages\": 131038," \
	"   \"managed-pages\": 120000, \"free-pages\": 100000," \
	"   \"pending-pages\": 0, \"transplanted-pages\": 0, \"cpus\": 1}," \
	"  {\"node\": 1, \"guest-node\": 1, \"possible\": true," \
	"   \"online\": true, \"with-memory\": true, \"with-cpus\": true," \
	"   \"added\": false, \"present-pages\": %llu," \
	"   \"managed-pages\": 130000, \"free-pages\": 120000," \
	"   \"pending-pages\": 0, \"transplanted-pages\": 0, \"cpus\": 1}]," \
	" \"commands\": []}]"

/* Its query-virtio-numa-ram. */
#define RAM_2NODES \
	"[{\"addr\": 0, \"size\": 655360, \"memdev\": \"ram-node0\"," \
	"  \"node\": 0}," \
	" {\"addr\": 786432, \"size\": 536084480, \"memdev\": \"ram-node0\"," \
	"  \"node\": 0}," \
	" {\"addr\": 536870912, \"size\": 536870912," \
	"  \"memdev\": \"ram-node1\", \"node\": 1}]"

static const char *const memdev_unbound =
	"[{\"id\": \"ram-node0\", \"size\": 536870912, \"merge\": true,"
	"  \"dump\": true, \"prealloc\": false, \"share\": false,"
	"  \"host-nodes\": [], \"policy\": \"default\"},"
	" {\"id\": \"ram-node1\", \"size\": 536870912, \"merge\": true,"
	"  \"dump\": true, \"prealloc\": false, \"share\": false,"
	"  \"host-nodes\": [], \"policy\": \"default\"}]";

static const char *const memdev_both_on_0 =
	"[{\"id\": \"ram-node0\", \"size\": 536870912, \"host-nodes\": [0],"
	"  \"policy\": \"bind\"},"
	" {\"id\": \"ram-node1\", \"size\": 536870912, \"host-nodes\": [0],"
	"  \"policy\": \"bind\"}]";

static const char *const memdev_apart =
	"[{\"id\": \"ram-node0\", \"size\": 536870912, \"host-nodes\": [0],"
	"  \"policy\": \"bind\"},"
	" {\"id\": \"ram-node1\", \"size\": 536870912, \"host-nodes\": [1],"
	"  \"policy\": \"preferred\"}]";

/* Plan with node 1 reporting @node1_pages present. */
static int plan(const char *memdevs, unsigned long long node1_pages,
		struct vn_plan *p, struct vn_err *err)
{
	struct json_object *q, *m, *ram;
	struct vn_memdev *md = NULL;
	struct vn_info info;
	char text[4096];
	size_t nr;
	int r;

	snprintf(text, sizeof(text), QUERY_2NODES, node1_pages);
	q = json_tokener_parse(text);
	m = json_tokener_parse(memdevs);
	ram = json_tokener_parse(RAM_2NODES);
	r = vn_decode_query(q, "vnuma0", &info, err);
	if (!r)
		r = vn_decode_ram(ram, &info, err);
	if (!r)
		r = vn_decode_memdevs(m, &md, &nr, err);
	if (!r)
		r = vn_plan_binding(&info, md, nr, p, err);
	free(md);
	vn_info_free(&info);
	json_object_put(q);
	json_object_put(m);
	json_object_put(ram);
	return r;
}

static void test_plan_unbound_stays(void)
{
	struct vn_plan p;
	struct vn_err err;

	CHECK(!plan(memdev_unbound, 131072, &p, &err));
	CHECK(p.in_place);
	/*
	 * Whole blocks only, and not the first block nor the last one
	 * below 4 GiB: firmware keeps memory there.
	 */
	CHECK_U64(p.nr, 2);
	CHECK_U64(p.ranges[0].addr, 128 * MiB);
	CHECK_U64(p.ranges[0].size, 384 * MiB);
	CHECK_U64(p.ranges[0].node, 0);
	CHECK_U64(p.ranges[1].addr, 512 * MiB);
	CHECK_U64(p.ranges[1].size, 384 * MiB);
	CHECK_U64(p.ranges[1].node, 1);
	CHECK_U64(p.skipped, 655360 + 536084480 - 384 * MiB + 128 * MiB);
	CHECK(!p.nodes[0].bound && !p.nodes[1].bound);
}

static void test_plan_merges_shared_host_node(void)
{
	struct vn_plan p;
	struct vn_err err;
	char buf[64];

	CHECK(!plan(memdev_both_on_0, 131072, &p, &err));
	CHECK(!p.in_place);
	CHECK_U64(p.nr, 1);
	CHECK_U64(p.ranges[0].addr, 128 * MiB);
	CHECK_U64(p.ranges[0].size, 768 * MiB);
	CHECK_U64(p.ranges[0].node, 0);
	/* Node 1 keeps the firmware block at the top. */
	CHECK_U64(p.nodes[1].want, 128 * MiB);
	CHECK_U64(p.nodes[1].has, 512 * MiB);
	CHECK_STR(vn_host_set_str(p.nodes[1].home, buf, sizeof(buf)), "0");
	/* Once the guest shows it, the plan is in place. */
	CHECK(!plan(memdev_both_on_0, 0, &p, &err));
	CHECK(!p.in_place);	/* node 0 still reports 512M */
	/* A VM with a block of RAM: nothing can move. */
	{
		struct json_object *o = json_tokener_parse(
			"{\"id\": \"v\", \"qom-path\": \"/v\","
			" \"block-size\": 134217728, \"max-nodes\": 2,"
			" \"driver-ready\": true, \"report-interval\": 0,"
			" \"reports\": 0, \"bogus-events\": 0, \"nodes\": [],"
			" \"commands\": []}");
		struct json_object *ram = json_tokener_parse(
			"[{\"addr\": 0, \"size\": 134217728, \"memdev\": \"m\","
			" \"node\": 0}]");
		struct vn_memdev md = { .id = "m", .policy = VN_POL_BIND,
					.host_nodes = { 1 } };
		struct vn_info info;

		CHECK(!vn_decode_info(o, &info, &err));
		CHECK(!vn_decode_ram(ram, &info, &err));
		json_object_put(ram);
		CHECK(!vn_plan_binding(&info, &md, 1, &p, &err));
		CHECK_U64(p.nr, 0);
		CHECK_U64(p.skipped, 128 * MiB);
		vn_info_free(&info);
		json_object_put(o);
	}
}

static void test_plan_apart_restores(void)
{
	struct vn_plan p;
	struct vn_err err;

	/* Node 1 has nothing now (merged before): the plan gives it back. */
	CHECK(!plan(memdev_apart, 0, &p, &err));
	CHECK(!p.in_place);
	CHECK_U64(p.nr, 2);
	CHECK_U64(p.ranges[1].node, 1);
	CHECK_U64(p.ranges[1].size, 384 * MiB);
	CHECK_U64(p.nodes[1].want, 512 * MiB);
	CHECK(!plan(memdev_apart, 131072, &p, &err));
	CHECK(p.in_place);
}

static void test_plan_print(void)
{
	struct vn_plan p;
	struct vn_err err;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct json_object *j;

	CHECK(!plan(memdev_both_on_0, 131072, &p, &err));
	vn_plan_print(f, "vm1", &p);
	fclose(f);
	CHECK_HAS(text, "vm1: the layout does not match the binding");
	CHECK_HAS(text, "relayout 0x8000000:768 MiB:0");
	free(text);
	j = vn_plan_to_json("vm1", &p);
	text = (char *)json_object_to_json_string_ext(j,
						      JSON_C_TO_STRING_PLAIN);
	CHECK_HAS(text, "\"in-place\":false");
	CHECK_HAS(text, "\"host-nodes\":\"0\"");
	json_object_put(j);
}

static void test_plan_bad_inputs(void)
{
	static const char *const bad_memdevs[] = {
		"{}",
		"[{\"id\": \"a\", \"size\": 1, \"host-nodes\": [0]}]",
		"[{\"id\": \"a\", \"size\": 1, \"host-nodes\": [0],"
		" \"policy\": \"whatever\"}]",
		"[{\"id\": \"a\", \"size\": 1, \"host-nodes\": [1024],"
		" \"policy\": \"bind\"}]",
		"[{\"id\": \"a\", \"size\": -1, \"host-nodes\": [],"
		" \"policy\": \"bind\"}]",
		"[{\"id\": \"a\", \"size\": 1, \"host-nodes\": \"0\","
		" \"policy\": \"bind\"}]",
	};
	struct vn_memdev *md;
	struct json_object *o;
	struct vn_plan p;
	struct vn_err err;
	size_t i, nr;

	for (i = 0; i < sizeof(bad_memdevs) / sizeof(bad_memdevs[0]); i++) {
		o = json_tokener_parse(bad_memdevs[i]);
		t_check(vn_decode_memdevs(o, &md, &nr, &err) == -1, __FILE__,
			__LINE__, "memdevs %zu decoded", i);
		free(md);
		json_object_put(o);
	}
	/* A node whose backend query-memdev does not list. */
	CHECK(plan("[]", 131072, &p, &err) == -1);
	CHECK_HAS(err.msg, "'ram-node0' is not in query-memdev");
}

#define INFO_NO_RAM							\
	"{\"id\": \"v\", \"qom-path\": \"/v\", \"block-size\": 4096,"	\
	" \"max-nodes\": 2, \"driver-ready\": false,"			\
	" \"report-interval\": 0, \"reports\": 0, \"bogus-events\": 0,"	\
	" \"nodes\": [], \"commands\": []}"

static void test_ram_map_decoding(void)
{
	static const char *const bad[] = {
		"[{\"addr\": 0, \"size\": 0, \"memdev\": \"m\"}]",
		"[{\"addr\": 18446744073709551615, \"size\": 2,"
		" \"memdev\": \"m\"}]",
		"[{\"addr\": 4096, \"size\": 4096, \"memdev\": \"m\"},"
		" {\"addr\": 0, \"size\": 4096, \"memdev\": \"m\"}]",
		"[{\"addr\": 0, \"size\": 8192, \"memdev\": \"m\"},"
		" {\"addr\": 4096, \"size\": 4096, \"memdev\": \"m\"}]",
		"[{\"addr\": 0, \"size\": 4096}]",
		"\"ram\"",
	};
	struct vn_info info;
	struct vn_err err;
	struct json_object *o;
	struct vn_plan p;
	size_t i;

	memset(&info, 0, sizeof(info));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = json_tokener_parse(bad[i]);
		t_check(vn_decode_ram(o, &info, &err) == -1, __FILE__,
			__LINE__, "ram %zu decoded", i);
		vn_info_free(&info);
		json_object_put(o);
	}
	/* Without a RAM map (an empty one, or none queried) no plan. */
	o = json_tokener_parse(INFO_NO_RAM);
	CHECK(!vn_decode_info(o, &info, &err));
	CHECK(vn_plan_binding(&info, NULL, 0, &p, &err) == -1);
	CHECK_HAS(err.msg, "RAM map");
	json_object_put(o);
	o = json_tokener_parse("[]");
	CHECK(!vn_decode_ram(o, &info, &err));
	CHECK(vn_plan_binding(&info, NULL, 0, &p, &err) == -1);
	CHECK_HAS(err.msg, "RAM map");
	vn_info_free(&info);
	json_object_put(o);
}

static void test_host_set_str(void)
{
	uint64_t set[VN_HOST_WORDS] = { 0 };
	char buf[64];

	CHECK_STR(vn_host_set_str(set, buf, sizeof(buf)), "-");
	set[0] = 0xb;		/* 0,1,3 */
	set[VN_HOST_WORDS - 1] = 1ull << 63;
	CHECK_STR(vn_host_set_str(set, buf, sizeof(buf)), "0-1,3,1023");
}

static void test_node_meminfo(void)
{
	struct vn_host_node hn[4];
	struct vn_err err;
	char dir[] = "/tmp/vnuma-test-nodesXXXXXX", path[256];
	size_t nr;
	FILE *f;
	int i;

	CHECK(!vn_parse_node_meminfo("Node 1 MemTotal:  2048 kB\n"
				     "Node 1 MemFree:   1024 kB\n"
				     "Node 1 MemUsed:   1024 kB\n", 1, &hn[0],
				     &err));
	CHECK_U64(hn[0].total, 2 * MiB);
	CHECK_U64(hn[0].free, MiB);
	CHECK(vn_parse_node_meminfo("Node 0 MemTotal: 1 kB\n", 0, &hn[0],
				    &err) == -1);
	CHECK_HAS(err.msg, "no MemFree");
	/* Another node's lines do not count. */
	CHECK(vn_parse_node_meminfo("Node 2 MemTotal: 1 kB\n"
				    "Node 2 MemFree: 1 kB\n", 0, &hn[0],
				    &err) == -1);

	CHECK(mkdtemp(dir));
	for (i = 1; i >= 0; i--) {
		snprintf(path, sizeof(path), "%s/node%d", dir, i * 10);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/node%d/meminfo", dir, i * 10);
		f = fopen(path, "w");
		fprintf(f, "Node %d MemTotal: %d kB\nNode %d MemFree: 4 kB\n",
			i * 10, 8 + i, i * 10);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/possible", dir);
	fclose(fopen(path, "w"));
	CHECK(!vn_read_host_nodes(dir, hn, 4, &nr, &err));
	CHECK_U64(nr, 2);
	CHECK_U64(hn[0].node, 0);
	CHECK_U64(hn[1].node, 10);
	CHECK_U64(hn[1].total, 9 * 1024);
	CHECK(vn_read_host_nodes(dir, hn, 1, &nr, &err) == -1);
	CHECK_HAS(err.msg, "more than 1 host nodes");
	CHECK(vn_read_host_nodes("/nonexistent", hn, 4, &nr, &err) == -1);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/node%d/meminfo", dir, i * 10);
		unlink(path);
		snprintf(path, sizeof(path), "%s/node%d", dir, i * 10);
		rmdir(path);
	}
	snprintf(path, sizeof(path), "%s/possible", dir);
	unlink(path);
	rmdir(dir);
}

const struct test plan_tests[] = {
	TEST(test_plan_unbound_stays),
	TEST(test_plan_merges_shared_host_node),
	TEST(test_plan_apart_restores),
	TEST(test_plan_print),
	TEST(test_plan_bad_inputs),
	TEST(test_ram_map_decoding),
	TEST(test_host_set_str),
	TEST(test_node_meminfo),
	{ 0 }
};
