// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-numa wire format: parse what the device sends, encode what we send.
 *
 * Everything here treats the device as untrusted: a command may be short,
 * long, of an unknown type, carry reserved bits, name a node the guest
 * cannot have, describe ranges that wrap around, are unaligned or overlap.
 * Parsing never reads past @len and says which field was wrong.
 */
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/string.h>
#include <kunit/visibility.h>

#include "virtio_numa_proto.h"

#define OK()		((struct vnuma_verdict){ VIRTIO_NUMA_S_OK, 0 })
#define INVALID(f)	((struct vnuma_verdict){ VIRTIO_NUMA_S_INVALID, \
						 VIRTIO_NUMA_FIELD_##f })
#define UNSUPPORTED()	((struct vnuma_verdict){ VIRTIO_NUMA_S_UNSUPPORTED, 0 })

static const char *const field_names[] = {
	[VIRTIO_NUMA_FIELD_NONE] = "none",
	[VIRTIO_NUMA_FIELD_LEN] = "len",
	[VIRTIO_NUMA_FIELD_TYPE] = "type",
	[VIRTIO_NUMA_FIELD_FLAGS] = "flags",
	[VIRTIO_NUMA_FIELD_ID] = "id",
	[VIRTIO_NUMA_FIELD_NODE] = "node",
	[VIRTIO_NUMA_FIELD_ADDR] = "addr",
	[VIRTIO_NUMA_FIELD_SIZE] = "size",
	[VIRTIO_NUMA_FIELD_NR_RANGES] = "nr_ranges",
	[VIRTIO_NUMA_FIELD_RESERVED] = "reserved",
	[VIRTIO_NUMA_FIELD_INTERVAL] = "interval_ms",
	[VIRTIO_NUMA_FIELD_CPU] = "cpu",
	[VIRTIO_NUMA_FIELD_DISTANCE] = "distance",
};

const char *vnuma_field_name(u16 field)
{
	if (field < ARRAY_SIZE(field_names) && field_names[field])
		return field_names[field];
	return "unknown";
}
EXPORT_SYMBOL_IF_KUNIT(vnuma_field_name);

static const char *const cmd_names[] = {
	[VIRTIO_NUMA_CMD_REPORT] = "REPORT",
	[VIRTIO_NUMA_CMD_SET_REPORT_INTERVAL] = "SET_REPORT_INTERVAL",
	[VIRTIO_NUMA_CMD_NODE_ADD] = "NODE_ADD",
	[VIRTIO_NUMA_CMD_NODE_REMOVE] = "NODE_REMOVE",
	[VIRTIO_NUMA_CMD_RELAYOUT] = "RELAYOUT",
	[VIRTIO_NUMA_CMD_CPU_ASSIGN] = "CPU_ASSIGN",
	[VIRTIO_NUMA_CMD_DISTANCE_SET] = "DISTANCE_SET",
};

const char *vnuma_cmd_name(u16 type)
{
	if (type < ARRAY_SIZE(cmd_names) && cmd_names[type])
		return cmd_names[type];
	return "unknown";
}
EXPORT_SYMBOL_IF_KUNIT(vnuma_cmd_name);

/* The payload size each type must have; RELAYOUT adds its ranges. */
static const u32 payload_size[] = {
	[VIRTIO_NUMA_CMD_REPORT] = 0,
	[VIRTIO_NUMA_CMD_SET_REPORT_INTERVAL] =
		sizeof(struct virtio_numa_cmd_report_interval),
	[VIRTIO_NUMA_CMD_NODE_ADD] = sizeof(struct virtio_numa_cmd_node_add),
	[VIRTIO_NUMA_CMD_NODE_REMOVE] =
		sizeof(struct virtio_numa_cmd_node_remove),
	[VIRTIO_NUMA_CMD_RELAYOUT] = sizeof(struct virtio_numa_cmd_relayout),
	[VIRTIO_NUMA_CMD_CPU_ASSIGN] = sizeof(struct virtio_numa_cmd_cpu_assign),
	[VIRTIO_NUMA_CMD_DISTANCE_SET] =
		sizeof(struct virtio_numa_cmd_distance_set),
};

/* A block-aligned, non-empty [addr, addr + size) that does not wrap. */
static struct vnuma_verdict check_extent(u64 addr, u64 size,
					 const struct vnuma_limits *lim)
{
	u64 end;

	if (!IS_ALIGNED(addr, lim->block_size))
		return INVALID(ADDR);
	if (!size || !IS_ALIGNED(size, lim->block_size) ||
	    check_add_overflow(addr, size, &end))
		return INVALID(SIZE);
	return OK();
}

static struct vnuma_verdict check_node(u32 node, const struct vnuma_limits *lim)
{
	return node < lim->max_nodes ? OK() : INVALID(NODE);
}

static struct vnuma_verdict parse_node_add(const void *p, u16 flags,
					   const struct vnuma_limits *lim,
					   struct vnuma_cmd *cmd)
{
	const struct virtio_numa_cmd_node_add *a = p;
	struct vnuma_verdict v;
	u64 end;

	if (flags & ~VIRTIO_NUMA_NODE_ADD_F_PRESENT)
		return INVALID(FLAGS);
	if (a->reserved)
		return INVALID(RESERVED);
	cmd->add.node = le32_to_cpu(a->node);
	cmd->add.addr = le64_to_cpu(a->addr);
	cmd->add.size = le64_to_cpu(a->size);
	v = check_node(cmd->add.node, lim);
	if (v.status)
		return v;
	v = check_extent(cmd->add.addr, cmd->add.size, lim);
	if (v.status)
		return v;
	/* Added memory must lie in the device's own region. */
	end = cmd->add.addr + cmd->add.size;
	if (cmd->add.addr < lim->region_addr ||
	    cmd->add.addr - lim->region_addr >= lim->region_size)
		return INVALID(ADDR);
	if (end - lim->region_addr > lim->region_size)
		return INVALID(SIZE);
	return OK();
}

static struct vnuma_verdict parse_relayout(const void *p, u32 len, u16 flags,
					   const struct vnuma_limits *lim,
					   struct vnuma_cmd *cmd)
{
	const struct virtio_numa_cmd_relayout *rl = p;
	u64 prev_end = 0;
	u32 i, nr;

	if (flags & ~VIRTIO_NUMA_RELAYOUT_F_MIGRATE)
		return INVALID(FLAGS);
	if (rl->reserved)
		return INVALID(RESERVED);
	nr = le32_to_cpu(rl->nr_ranges);
	if (!nr || nr > lim->max_ranges || nr > VIRTIO_NUMA_MAX_RANGES)
		return INVALID(NR_RANGES);
	if (len != sizeof(*rl) + nr * sizeof(rl->ranges[0]))
		return INVALID(LEN);
	cmd->relayout.nr = nr;
	for (i = 0; i < nr; i++) {
		const struct virtio_numa_range *w = &rl->ranges[i];
		struct vnuma_range *r = &cmd->relayout.r[i];
		struct vnuma_verdict v;

		if (w->reserved)
			return INVALID(RESERVED);
		r->addr = le64_to_cpu(w->addr);
		r->size = le64_to_cpu(w->size);
		r->node = le32_to_cpu(w->node);
		v = check_node(r->node, lim);
		if (v.status)
			return v;
		v = check_extent(r->addr, r->size, lim);
		if (v.status)
			return v;
		/* Sorted and disjoint: one pass proves there is no overlap. */
		if (i && r->addr < prev_end)
			return INVALID(ADDR);
		prev_end = r->addr + r->size;
	}
	return OK();
}

/*
 * Parse and check one command of @len bytes (the length the device says it
 * wrote).  On success @cmd holds it in CPU byte order.  Checks that need
 * the running kernel (is the node possible, is the range RAM) are the
 * driver's; everything that follows from the bytes alone is here.
 */
struct vnuma_verdict vnuma_parse_cmd(const void *buf, size_t len,
				     const struct vnuma_limits *lim,
				     struct vnuma_cmd *cmd)
{
	const struct virtio_numa_cmd_hdr *h = buf;
	const void *p = h + 1;
	u32 plen;

	memset(cmd, 0, sizeof(*cmd));
	/* Without a whole header there is not even an id to answer to. */
	if (len < sizeof(*h))
		return INVALID(LEN);
	cmd->id = le64_to_cpu(h->id);
	cmd->type = le16_to_cpu(h->type);
	cmd->flags = le16_to_cpu(h->flags);
	plen = le32_to_cpu(h->len);
	if (len > VIRTIO_NUMA_CMD_MAX_SIZE)
		return INVALID(LEN);
	if (!cmd->id)
		return INVALID(ID);
	if (cmd->type >= ARRAY_SIZE(payload_size) || !cmd_names[cmd->type])
		return INVALID(TYPE);
	if (plen != len - sizeof(*h))
		return INVALID(LEN);
	if (cmd->type == VIRTIO_NUMA_CMD_RELAYOUT ? plen < payload_size[cmd->type]
						  : plen != payload_size[cmd->type])
		return INVALID(LEN);

	switch (cmd->type) {
	case VIRTIO_NUMA_CMD_REPORT:
		return cmd->flags ? INVALID(FLAGS) : OK();
	case VIRTIO_NUMA_CMD_SET_REPORT_INTERVAL: {
		const struct virtio_numa_cmd_report_interval *ri = p;

		if (cmd->flags)
			return INVALID(FLAGS);
		if (ri->reserved)
			return INVALID(RESERVED);
		cmd->interval_ms = le32_to_cpu(ri->interval_ms);
		if (cmd->interval_ms &&
		    (cmd->interval_ms < VIRTIO_NUMA_REPORT_INTERVAL_MIN_MS ||
		     cmd->interval_ms > VIRTIO_NUMA_REPORT_INTERVAL_MAX_MS))
			return INVALID(INTERVAL);
		return OK();
	}
	case VIRTIO_NUMA_CMD_NODE_ADD: {
		struct vnuma_verdict v = parse_node_add(p, cmd->flags, lim, cmd);

		if (v.status)
			return v;
		return lim->node_hotplug ? OK() : UNSUPPORTED();
	}
	case VIRTIO_NUMA_CMD_NODE_REMOVE: {
		const struct virtio_numa_cmd_node_remove *r = p;

		if (cmd->flags)
			return INVALID(FLAGS);
		if (r->reserved)
			return INVALID(RESERVED);
		cmd->remove_node = le32_to_cpu(r->node);
		if (cmd->remove_node >= lim->max_nodes)
			return INVALID(NODE);
		return lim->node_hotplug ? OK() : UNSUPPORTED();
	}
	case VIRTIO_NUMA_CMD_RELAYOUT: {
		struct vnuma_verdict v = parse_relayout(p, plen, cmd->flags,
							lim, cmd);
		if (v.status)
			return v;
		return lim->relayout ? OK() : UNSUPPORTED();
	}
	case VIRTIO_NUMA_CMD_CPU_ASSIGN: {
		const struct virtio_numa_cmd_cpu_assign *c = p;

		if (cmd->flags)
			return INVALID(FLAGS);
		cmd->cpu_assign.node = le32_to_cpu(c->node);
		cmd->cpu_assign.cpu = le32_to_cpu(c->cpu);
		if (cmd->cpu_assign.node >= lim->max_nodes)
			return INVALID(NODE);
		return lim->cpu_assign ? OK() : UNSUPPORTED();
	}
	case VIRTIO_NUMA_CMD_DISTANCE_SET: {
		const struct virtio_numa_cmd_distance_set *d = p;

		if (cmd->flags)
			return INVALID(FLAGS);
		if (d->reserved)
			return INVALID(RESERVED);
		cmd->distance.from = le32_to_cpu(d->from);
		cmd->distance.to = le32_to_cpu(d->to);
		cmd->distance.distance = le32_to_cpu(d->distance);
		if (cmd->distance.from >= lim->max_nodes ||
		    cmd->distance.to >= lim->max_nodes)
			return INVALID(NODE);
		if (cmd->distance.distance < 10 || cmd->distance.distance > 254)
			return INVALID(DISTANCE);
		return lim->distance ? OK() : UNSUPPORTED();
	}
	}
	return INVALID(TYPE);
}
EXPORT_SYMBOL_IF_KUNIT(vnuma_parse_cmd);

size_t vnuma_event_size(unsigned int nr_records)
{
	return struct_size_t(struct virtio_numa_event, records, 0) +
	       nr_records * sizeof(struct virtio_numa_record);
}
EXPORT_SYMBOL_IF_KUNIT(vnuma_event_size);

/*
 * Start an event in a buffer of vnuma_event_size(n) bytes; records are
 * then appended one by one with vnuma_event_add().
 */
void vnuma_event_init(struct virtio_numa_event *ev, u16 type, u64 id,
		      struct vnuma_verdict v, u32 detail, u64 seq,
		      u16 nr_node_ids)
{
	memset(ev, 0, sizeof(*ev));
	ev->id = cpu_to_le64(id);
	ev->type = cpu_to_le16(type);
	ev->status = cpu_to_le16(v.status);
	ev->field = cpu_to_le16(v.field);
	ev->page_shift = cpu_to_le16(PAGE_SHIFT);
	ev->detail = cpu_to_le32(detail);
	ev->nr_node_ids = cpu_to_le16(nr_node_ids);
	ev->seq = cpu_to_le64(seq);
}
EXPORT_SYMBOL_IF_KUNIT(vnuma_event_init);

void vnuma_event_add(struct virtio_numa_event *ev, u16 tag, u32 node,
		     u64 value)
{
	u16 i = le16_to_cpu(ev->nr_records);
	struct virtio_numa_record *r = &ev->records[i];

	r->tag = cpu_to_le16(tag);
	r->reserved = 0;
	r->node = cpu_to_le32(node);
	r->value = cpu_to_le64(value);
	ev->nr_records = cpu_to_le16(i + 1);
}
EXPORT_SYMBOL_IF_KUNIT(vnuma_event_add);
