/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-numa: parsing and encoding of the wire format, kept apart from the
 * driver so that KUnit can feed it hostile input without a device.
 */
#ifndef _VIRTIO_NUMA_PROTO_H
#define _VIRTIO_NUMA_PROTO_H

#include <linux/types.h>
#include <uapi/linux/virtio_numa.h>

/* What the device told us at probe time, and what we negotiated. */
struct vnuma_limits {
	u64 block_size;
	u64 region_addr;
	u64 region_size;
	u16 max_nodes;
	u16 max_ranges;
	bool node_hotplug;
	bool relayout;
	bool cpu_assign;
	bool distance;
	bool progress;
};

struct vnuma_range {
	u64 addr;
	u64 size;
	u32 node;
};

/* A command in CPU byte order, after structural validation. */
struct vnuma_cmd {
	u64 id;
	u16 type;
	u16 flags;
	union {
		u32 interval_ms;
		struct {
			u32 node;
			u64 addr;
			u64 size;
		} add;
		u32 remove_node;
		struct {
			u32 nr;
			struct vnuma_range r[VIRTIO_NUMA_MAX_RANGES];
		} relayout;
		struct {
			u32 node;
			u32 cpu;
		} cpu_assign;
		struct {
			u32 from;
			u32 to;
			u32 distance;
		} distance;
	};
};

/* The result of parsing: a VIRTIO_NUMA_S_* status and the field at fault. */
struct vnuma_verdict {
	u16 status;
	u16 field;
};

struct vnuma_verdict vnuma_parse_cmd(const void *buf, size_t len,
				     const struct vnuma_limits *lim,
				     struct vnuma_cmd *cmd);
const char *vnuma_field_name(u16 field);
const char *vnuma_cmd_name(u16 type);

size_t vnuma_event_size(unsigned int nr_records);
void vnuma_event_init(struct virtio_numa_event *ev, u16 type, u64 id,
		      struct vnuma_verdict v, u32 detail, u64 seq,
		      u16 nr_node_ids);
void vnuma_event_add(struct virtio_numa_event *ev, u16 tag, u32 node,
		     u64 value);

#endif /* _VIRTIO_NUMA_PROTO_H */
