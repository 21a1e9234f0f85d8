// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests of the virtio-numa wire format: good commands parse, and
 * every malformed or hostile one is refused naming the right field.
 */
#include <kunit/test.h>
#include <linux/string.h>

#include "virtio_numa_proto.h"

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);

#define SZ_BLOCK	(128ULL << 20)

static const struct vnuma_limits lim = {
	.block_size = SZ_BLOCK,
	.region_addr = 0x100000000ULL,
	.region_size = 16 * SZ_BLOCK,
	.max_nodes = 4,
	.max_ranges = 8,
	.node_hotplug = true,
	.relayout = true,
};

/* A command buffer as the device would write it. */
struct wire {
	struct virtio_numa_cmd_hdr h;
	union {
		struct virtio_numa_cmd_report_interval ri;
		struct virtio_numa_cmd_node_add add;
		struct virtio_numa_cmd_node_remove rm;
		struct {
			struct virtio_numa_cmd_relayout rl;
			struct virtio_numa_range r[VIRTIO_NUMA_MAX_RANGES + 1];
		};
		struct virtio_numa_cmd_distance_set d;
	};
} __packed;

/* Too big for the stack: one per test, from the suite's init. */
struct ctx {
	struct wire w;
	struct vnuma_cmd cmd;
};

static int ctx_init(struct kunit *test)
{
	test->priv = kunit_kzalloc(test, sizeof(struct ctx), GFP_KERNEL);
	return test->priv ? 0 : -ENOMEM;
}

static size_t mk(struct wire *w, u64 id, u16 type, u16 flags, u32 plen)
{
	memset(w, 0, sizeof(*w));
	w->h.id = cpu_to_le64(id);
	w->h.type = cpu_to_le16(type);
	w->h.flags = cpu_to_le16(flags);
	w->h.len = cpu_to_le32(plen);
	return sizeof(w->h) + plen;
}

static size_t mk_relayout(struct wire *w, u32 nr)
{
	size_t len = mk(w, 7, VIRTIO_NUMA_CMD_RELAYOUT, 0,
			sizeof(w->rl) + nr * sizeof(w->r[0]));
	u32 i;

	w->rl.nr_ranges = cpu_to_le32(nr);
	for (i = 0; i < nr; i++) {
		w->r[i].addr = cpu_to_le64(2 * i * SZ_BLOCK);
		w->r[i].size = cpu_to_le64(SZ_BLOCK);
		w->r[i].node = cpu_to_le32(i % lim.max_nodes);
	}
	return len;
}

static void expect_verdict(struct kunit *test, struct vnuma_verdict v,
			   u16 status, u16 field)
{
	KUNIT_EXPECT_EQ(test, v.status, status);
	KUNIT_EXPECT_EQ(test, v.field, field);
}

#define EXPECT_VERDICT(test, v, st, fld) \
	expect_verdict(test, v, VIRTIO_NUMA_S_##st, VIRTIO_NUMA_FIELD_##fld)

static void parse_report(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct vnuma_cmd *cmd = &c->cmd;
	struct wire *w = &c->w;
	size_t len = mk(w, 42, VIRTIO_NUMA_CMD_REPORT, 0, 0);

	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), OK, NONE);
	KUNIT_EXPECT_EQ(test, cmd->id, 42ULL);
	KUNIT_EXPECT_EQ(test, cmd->type, (u16)VIRTIO_NUMA_CMD_REPORT);
}

static void parse_bad_header(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct vnuma_cmd *cmd = &c->cmd;
	struct wire *w = &c->w;
	size_t len;

	len = mk(w, 1, VIRTIO_NUMA_CMD_REPORT, 0, 0);
	/* Short: not even a header, so no id to answer. */
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, 0, &lim, cmd), INVALID, LEN);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len - 1, &lim, cmd),
		       INVALID, LEN);
	KUNIT_EXPECT_EQ(test, cmd->id, 0ULL);
	/* The device claims more than the largest command. */
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, VIRTIO_NUMA_CMD_MAX_SIZE + 1,
					     &lim, cmd), INVALID, LEN);
	KUNIT_EXPECT_EQ(test, cmd->id, 1ULL);
	/* Header length disagrees with the used length. */
	w->h.len = cpu_to_le32(8);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, LEN);
	w->h.len = cpu_to_le32(0xffffffff);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, LEN);
	/* Id 0 is reserved for unsolicited reports. */
	len = mk(w, 0, VIRTIO_NUMA_CMD_REPORT, 0, 0);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, ID);
	/* Unknown types, including the gaps and the top of the range. */
	len = mk(w, 1, 0, 0, 0);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, TYPE);
	len = mk(w, 1, 8, 0, 0);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, TYPE);
	len = mk(w, 1, 0xffff, 0, 0);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, TYPE);
	/* Flags that no type defines. */
	len = mk(w, 1, VIRTIO_NUMA_CMD_REPORT, 1, 0);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, FLAGS);
}

static void parse_interval(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct vnuma_cmd *cmd = &c->cmd;
	struct wire *w = &c->w;
	size_t len = mk(w, 3, VIRTIO_NUMA_CMD_SET_REPORT_INTERVAL, 0,
			sizeof(w->ri));

	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), OK, NONE);
	KUNIT_EXPECT_EQ(test, cmd->interval_ms, 0U);
	w->ri.interval_ms = cpu_to_le32(VIRTIO_NUMA_REPORT_INTERVAL_MIN_MS);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), OK, NONE);
	w->ri.interval_ms = cpu_to_le32(VIRTIO_NUMA_REPORT_INTERVAL_MIN_MS - 1);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd),
		       INVALID, INTERVAL);
	w->ri.interval_ms = cpu_to_le32(VIRTIO_NUMA_REPORT_INTERVAL_MAX_MS + 1);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd),
		       INVALID, INTERVAL);
	w->ri.interval_ms = cpu_to_le32(1000);
	w->ri.reserved = cpu_to_le32(1);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd),
		       INVALID, RESERVED);
	/* Too short for its payload. */
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len - 4, &lim, cmd),
		       INVALID, LEN);
}

static void parse_node_add(struct kunit *test)
{
	struct vnuma_limits nohp = lim;
	struct ctx *c = test->priv;
	struct vnuma_cmd *cmd = &c->cmd;
	struct wire *w = &c->w;
	size_t len = mk(w, 5, VIRTIO_NUMA_CMD_NODE_ADD, 0, sizeof(w->add));

	w->add.node = cpu_to_le32(3);
	w->add.addr = cpu_to_le64(lim.region_addr + SZ_BLOCK);
	w->add.size = cpu_to_le64(2 * SZ_BLOCK);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), OK, NONE);
	KUNIT_EXPECT_EQ(test, cmd->add.node, 3U);
	KUNIT_EXPECT_EQ(test, cmd->add.size, 2 * SZ_BLOCK);
	KUNIT_EXPECT_EQ(test, cmd->flags, 0);

	/* PRESENT is the one flag NODE_ADD has. */
	w->h.flags = cpu_to_le16(VIRTIO_NUMA_NODE_ADD_F_PRESENT);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), OK, NONE);
	KUNIT_EXPECT_EQ(test, cmd->flags, VIRTIO_NUMA_NODE_ADD_F_PRESENT);
	w->h.flags = cpu_to_le16(2);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, FLAGS);
	w->h.flags = 0;

	/* Well-formed but not negotiated. */
	nohp.node_hotplug = false;
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &nohp, cmd),
		       UNSUPPORTED, NONE);

	w->add.node = cpu_to_le32(4);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, NODE);
	w->add.node = cpu_to_le32(0xffffffff);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, NODE);
	w->add.node = cpu_to_le32(1);

	w->add.addr = cpu_to_le64(lim.region_addr + 4096);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, ADDR);
	w->add.addr = cpu_to_le64(lim.region_addr - SZ_BLOCK);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, ADDR);
	/* Starts inside the region, ends past it. */
	w->add.addr = cpu_to_le64(lim.region_addr + 15 * SZ_BLOCK);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, SIZE);
	w->add.addr = cpu_to_le64(lim.region_addr);
	w->add.size = 0;
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, SIZE);
	w->add.size = cpu_to_le64(SZ_BLOCK + 4096);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, SIZE);
	/* Wraps around the address space. */
	w->add.addr = cpu_to_le64(-SZ_BLOCK);
	w->add.size = cpu_to_le64(2 * SZ_BLOCK);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, SIZE);
}

static void parse_relayout(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct vnuma_cmd *cmd = &c->cmd;
	struct wire *w = &c->w;
	size_t len;

	len = mk_relayout(w, 3);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), OK, NONE);
	KUNIT_EXPECT_EQ(test, cmd->relayout.nr, 3U);
	KUNIT_EXPECT_EQ(test, cmd->relayout.r[2].addr, 4 * SZ_BLOCK);
	KUNIT_EXPECT_EQ(test, cmd->relayout.r[2].node, 2U);

	len = mk_relayout(w, lim.max_ranges);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), OK, NONE);
	len = mk_relayout(w, lim.max_ranges + 1);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd),
		       INVALID, NR_RANGES);
	len = mk_relayout(w, 0);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd),
		       INVALID, NR_RANGES);

	/* nr_ranges says more than the buffer holds. */
	len = mk_relayout(w, 2);
	w->rl.nr_ranges = cpu_to_le32(3);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, LEN);
	w->rl.nr_ranges = cpu_to_le32(0x10000001);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd),
		       INVALID, NR_RANGES);

	/* Overlap, unsorted, unaligned, wrapping, bad node, reserved. */
	len = mk_relayout(w, 2);
	w->r[1].addr = cpu_to_le64(0);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, ADDR);
	len = mk_relayout(w, 2);
	w->r[0].size = cpu_to_le64(3 * SZ_BLOCK);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, ADDR);
	len = mk_relayout(w, 2);
	w->r[1].addr = cpu_to_le64(2 * SZ_BLOCK + 4096);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, ADDR);
	len = mk_relayout(w, 1);
	w->r[0].addr = cpu_to_le64(-SZ_BLOCK);
	w->r[0].size = cpu_to_le64(2 * SZ_BLOCK);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, SIZE);
	len = mk_relayout(w, 1);
	w->r[0].node = cpu_to_le32(lim.max_nodes);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, NODE);
	len = mk_relayout(w, 1);
	w->r[0].reserved = cpu_to_le32(1);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd),
		       INVALID, RESERVED);
	len = mk_relayout(w, 1);
	w->h.flags = cpu_to_le16(2);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, FLAGS);
	w->h.flags = cpu_to_le16(VIRTIO_NUMA_RELAYOUT_F_MIGRATE);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), OK, NONE);
}

static void parse_reserved_types(struct kunit *test)
{
	struct ctx *c = test->priv;
	struct vnuma_cmd *cmd = &c->cmd;
	struct wire *w = &c->w;
	size_t len = mk(w, 9, VIRTIO_NUMA_CMD_DISTANCE_SET, 0, sizeof(w->d));

	w->d.from = cpu_to_le32(0);
	w->d.to = cpu_to_le32(1);
	w->d.distance = cpu_to_le32(20);
	/* Structurally fine, feature not negotiated. */
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd),
		       UNSUPPORTED, NONE);
	w->d.distance = cpu_to_le32(9);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd),
		       INVALID, DISTANCE);
	len = mk(w, 9, VIRTIO_NUMA_CMD_NODE_REMOVE, 0, sizeof(w->rm));
	w->rm.node = cpu_to_le32(4);
	EXPECT_VERDICT(test, vnuma_parse_cmd(w, len, &lim, cmd), INVALID, NODE);
}

/* Random bytes of every length never crash and never parse as garbage. */
static void parse_fuzz(struct kunit *test)
{
	u8 *buf = kunit_kzalloc(test, VIRTIO_NUMA_CMD_MAX_SIZE + 64, GFP_KERNEL);
	struct ctx *c = test->priv;
	struct vnuma_cmd *cmd = &c->cmd;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, buf);
	for (i = 0; i < 20000; i++) {
		size_t len = get_random_u32_below(VIRTIO_NUMA_CMD_MAX_SIZE + 64);
		struct vnuma_verdict v;

		get_random_bytes(buf, len);
		/* Make some of them plausible so the payload checks run. */
		if (i & 1) {
			struct virtio_numa_cmd_hdr *h = (void *)buf;

			if (len < sizeof(*h))
				continue;
			h->type = cpu_to_le16(1 + i % 7);
			h->len = cpu_to_le32(len - sizeof(*h));
		}
		v = vnuma_parse_cmd(buf, len, &lim, cmd);
		if (v.status == VIRTIO_NUMA_S_OK) {
			KUNIT_EXPECT_NE(test, cmd->id, 0ULL);
			KUNIT_EXPECT_GE(test, len, sizeof(struct virtio_numa_cmd_hdr));
		} else {
			KUNIT_EXPECT_TRUE(test,
					  v.status == VIRTIO_NUMA_S_INVALID ||
					  v.status == VIRTIO_NUMA_S_UNSUPPORTED);
		}
	}
}

static void event_encoding(struct kunit *test)
{
	size_t size = vnuma_event_size(2);
	struct virtio_numa_event *ev = kunit_kzalloc(test, size, GFP_KERNEL);
	struct vnuma_verdict v = { VIRTIO_NUMA_S_INVALID, VIRTIO_NUMA_FIELD_NODE };
	const u8 *b = (const u8 *)ev;

	KUNIT_ASSERT_NOT_NULL(test, ev);
	KUNIT_EXPECT_EQ(test, sizeof(*ev), (size_t)32);
	KUNIT_EXPECT_EQ(test, sizeof(struct virtio_numa_record), (size_t)16);
	KUNIT_EXPECT_EQ(test, size, (size_t)(32 + 2 * 16));

	vnuma_event_init(ev, VIRTIO_NUMA_EVENT_COMPLETION, 0x0102030405060708ULL,
			 v, 22, 9, 4);
	vnuma_event_add(ev, VIRTIO_NUMA_R_FREE_PAGES, 3, 0x1122334455ULL);
	vnuma_event_add(ev, VIRTIO_NUMA_R_STATE, 0, 5);
	/* Little-endian on the wire, at the offsets the spec gives. */
	KUNIT_EXPECT_EQ(test, b[0], 0x08);
	KUNIT_EXPECT_EQ(test, b[7], 0x01);
	KUNIT_EXPECT_EQ(test, b[8], VIRTIO_NUMA_EVENT_COMPLETION);
	KUNIT_EXPECT_EQ(test, b[10], VIRTIO_NUMA_S_INVALID);
	KUNIT_EXPECT_EQ(test, b[12], VIRTIO_NUMA_FIELD_NODE);
	KUNIT_EXPECT_EQ(test, b[14], PAGE_SHIFT);
	KUNIT_EXPECT_EQ(test, b[16], 22);
	KUNIT_EXPECT_EQ(test, b[20], 4);
	KUNIT_EXPECT_EQ(test, b[22], 2);
	KUNIT_EXPECT_EQ(test, b[24], 9);
	KUNIT_EXPECT_EQ(test, b[32], VIRTIO_NUMA_R_FREE_PAGES);
	KUNIT_EXPECT_EQ(test, b[36], 3);
	KUNIT_EXPECT_EQ(test, b[40], 0x55);
	KUNIT_EXPECT_EQ(test, b[44], 0x11);
	KUNIT_EXPECT_EQ(test, b[48], VIRTIO_NUMA_R_STATE);
	KUNIT_EXPECT_EQ(test, b[56], 5);
}

static void names(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, vnuma_field_name(VIRTIO_NUMA_FIELD_NODE), "node");
	KUNIT_EXPECT_STREQ(test, vnuma_field_name(0xffff), "unknown");
	KUNIT_EXPECT_STREQ(test, vnuma_cmd_name(VIRTIO_NUMA_CMD_RELAYOUT),
			   "RELAYOUT");
	KUNIT_EXPECT_STREQ(test, vnuma_cmd_name(0), "unknown");
	KUNIT_EXPECT_STREQ(test, vnuma_cmd_name(0xffff), "unknown");
}

static struct kunit_case virtio_numa_proto_cases[] = {
	KUNIT_CASE(parse_report),
	KUNIT_CASE(parse_bad_header),
	KUNIT_CASE(parse_interval),
	KUNIT_CASE(parse_node_add),
	KUNIT_CASE(parse_relayout),
	KUNIT_CASE(parse_reserved_types),
	KUNIT_CASE(parse_fuzz),
	KUNIT_CASE(event_encoding),
	KUNIT_CASE(names),
	{}
};

static struct kunit_suite virtio_numa_proto_suite = {
	.name = "virtio_numa_proto",
	.init = ctx_init,
	.test_cases = virtio_numa_proto_cases,
};

kunit_test_suite(virtio_numa_proto_suite);

MODULE_DESCRIPTION("KUnit tests of the virtio-numa wire format");
MODULE_LICENSE("GPL");
