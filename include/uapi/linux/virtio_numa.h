/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Virtio NUMA device: lets the host change the NUMA layout of a running
 * guest (add or remove a node, move memory between nodes in place) and
 * read back per-node accounting.  Specified in
 * Documentation/driver-api/virtio/virtio_numa.rst.
 *
 * All fields are little-endian.  Node ids on the wire are host node ids
 * (ACPI proximity domains); the guest translates them to its own.
 */
#ifndef _LINUX_VIRTIO_NUMA_H
#define _LINUX_VIRTIO_NUMA_H

#include <linux/const.h>
#include <linux/types.h>
#include <linux/virtio_types.h>

/* Provisional: not assigned by the virtio TC. */
#define VIRTIO_ID_NUMA				56

/* Feature bits */
#define VIRTIO_NUMA_F_NODE_HOTPLUG		0	/* NODE_ADD, NODE_REMOVE */
#define VIRTIO_NUMA_F_RELAYOUT			1	/* RELAYOUT */
#define VIRTIO_NUMA_F_CPU_ASSIGN		2	/* CPU_ASSIGN */
#define VIRTIO_NUMA_F_DISTANCE			3	/* DISTANCE_SET */
#define VIRTIO_NUMA_F_PROGRESS			4	/* PROGRESS, cancel_id */

/* Virtqueues */
#define VIRTIO_NUMA_VQ_CMD			0	/* device to driver */
#define VIRTIO_NUMA_VQ_EVENT			1	/* driver to device */
#define VIRTIO_NUMA_NR_VQS			2

struct virtio_numa_config {
	/* Granularity of NODE_ADD sizes and RELAYOUT ranges (bytes, 2^n). */
	__le64 block_size;
	/* Guest-physical region the device maps added memory into. */
	__le64 region_addr;
	__le64 region_size;
	/* Host node ids the device may name are 0 .. max_nodes - 1. */
	__le16 max_nodes;
	/* Most ranges one RELAYOUT carries. */
	__le16 max_ranges;
	__le32 padding;
	/*
	 * With VIRTIO_NUMA_F_PROGRESS: the id of a command the device asks
	 * the driver to stop, or 0.  Only NODE_REMOVE and RELAYOUT with
	 * MIGRATE can be stopped; the driver stops at its next step and
	 * completes as usual, with detail ECANCELED.
	 */
	__le64 cancel_id;
};

/* Command types (cmdq, device to driver) */
#define VIRTIO_NUMA_CMD_REPORT			1
#define VIRTIO_NUMA_CMD_SET_REPORT_INTERVAL	2
#define VIRTIO_NUMA_CMD_NODE_ADD		3
#define VIRTIO_NUMA_CMD_NODE_REMOVE		4
#define VIRTIO_NUMA_CMD_RELAYOUT		5
#define VIRTIO_NUMA_CMD_CPU_ASSIGN		6
#define VIRTIO_NUMA_CMD_DISTANCE_SET		7

struct virtio_numa_cmd_hdr {
	__le64 id;		/* nonzero, echoed by the completion */
	__le16 type;		/* VIRTIO_NUMA_CMD_* */
	__le16 flags;		/* per type; unknown bits are invalid */
	__le32 len;		/* bytes of payload after this header */
};

struct virtio_numa_cmd_report_interval {
	__le32 interval_ms;	/* 0: no periodic reports */
	__le32 reserved;
};

#define VIRTIO_NUMA_REPORT_INTERVAL_MIN_MS	100
#define VIRTIO_NUMA_REPORT_INTERVAL_MAX_MS	3600000

/*
 * NODE_ADD flags.  PRESENT: the device mapped the memory before this
 * driver was ready (an earlier driver may have added it and left it in
 * use): take it over if the guest has it, add it otherwise.
 */
#define VIRTIO_NUMA_NODE_ADD_F_PRESENT		_BITUL(0)

struct virtio_numa_cmd_node_add {
	__le32 node;
	__le32 reserved;
	__le64 addr;		/* inside the device region, block aligned */
	__le64 size;		/* multiple of block_size */
};

struct virtio_numa_cmd_node_remove {
	__le32 node;
	__le32 reserved;
};

struct virtio_numa_range {
	__le64 addr;		/* guest-physical, block aligned */
	__le64 size;		/* multiple of block_size */
	__le32 node;		/* target host node id */
	__le32 reserved;
};

/* RELAYOUT flags */
#define VIRTIO_NUMA_RELAYOUT_F_MIGRATE		_BITUL(0)	/* migrate allocated pages now */

struct virtio_numa_cmd_relayout {
	__le32 nr_ranges;
	__le32 reserved;
	struct virtio_numa_range ranges[];
};

struct virtio_numa_cmd_cpu_assign {
	__le32 node;
	__le32 cpu;		/* ACPI processor UID */
};

struct virtio_numa_cmd_distance_set {
	__le32 from;
	__le32 to;
	__le32 distance;	/* 10 .. 254, ACPI SLIT units */
	__le32 reserved;
};

/* The largest command: a RELAYOUT with the most ranges a driver accepts. */
#define VIRTIO_NUMA_MAX_RANGES			64
#define VIRTIO_NUMA_CMD_MAX_SIZE					\
	(sizeof(struct virtio_numa_cmd_hdr) +				\
	 sizeof(struct virtio_numa_cmd_relayout) +			\
	 VIRTIO_NUMA_MAX_RANGES * sizeof(struct virtio_numa_range))

/* Event types (eventq, driver to device) */
#define VIRTIO_NUMA_EVENT_COMPLETION		1
#define VIRTIO_NUMA_EVENT_REPORT		2	/* unsolicited */
#define VIRTIO_NUMA_EVENT_PROGRESS		3	/* of the command in flight */

/* Completion status */
#define VIRTIO_NUMA_S_OK			0
#define VIRTIO_NUMA_S_INVALID			1	/* malformed: see field */
#define VIRTIO_NUMA_S_UNSUPPORTED		2	/* type or feature not supported */
#define VIRTIO_NUMA_S_BUSY			3	/* try again later */
#define VIRTIO_NUMA_S_PARTIAL			4	/* done in part: see records */
#define VIRTIO_NUMA_S_FAILED			5	/* nothing done: see detail */

/* Which field of a command was invalid */
#define VIRTIO_NUMA_FIELD_NONE			0
#define VIRTIO_NUMA_FIELD_LEN			1
#define VIRTIO_NUMA_FIELD_TYPE			2
#define VIRTIO_NUMA_FIELD_FLAGS			3
#define VIRTIO_NUMA_FIELD_ID			4
#define VIRTIO_NUMA_FIELD_NODE			5
#define VIRTIO_NUMA_FIELD_ADDR			6
#define VIRTIO_NUMA_FIELD_SIZE			7
#define VIRTIO_NUMA_FIELD_NR_RANGES		8
#define VIRTIO_NUMA_FIELD_RESERVED		9
#define VIRTIO_NUMA_FIELD_INTERVAL		10
#define VIRTIO_NUMA_FIELD_CPU			11
#define VIRTIO_NUMA_FIELD_DISTANCE		12

/* Accounting record tags */
#define VIRTIO_NUMA_R_STATE			1	/* VIRTIO_NUMA_NODE_* bits */
#define VIRTIO_NUMA_R_GUEST_NODE		2	/* the guest's node id */
#define VIRTIO_NUMA_R_PRESENT_PAGES		3
#define VIRTIO_NUMA_R_MANAGED_PAGES		4	/* node meminfo MemTotal */
#define VIRTIO_NUMA_R_FREE_PAGES		5	/* node meminfo MemFree */
#define VIRTIO_NUMA_R_PENDING_PAGES		6	/* awaiting transplant */
#define VIRTIO_NUMA_R_TRANSPLANTED_PAGES	7	/* moved here by relayouts */
#define VIRTIO_NUMA_R_CPUS			8	/* online CPUs of the node */
/* Of the pending pages, those that cannot migrate: they move when freed. */
#define VIRTIO_NUMA_R_PENDING_SLAB		9	/* slab */
#define VIRTIO_NUMA_R_PENDING_PGTABLE		10	/* page tables */
#define VIRTIO_NUMA_R_PENDING_OTHER		11	/* other kernel memory */
/* PROGRESS events carry these two, for node 0, and no others. */
#define VIRTIO_NUMA_R_PROGRESS_DONE		12	/* pages gone through */
#define VIRTIO_NUMA_R_PROGRESS_TOTAL		13	/* pages to go through */
/*
 * Reports and completions carry these two, for node 0: the guest's own
 * units, in bytes (powers of two).  RELAYOUT ranges must be whole
 * RELAYOUT_UNITs and NODE_ADD ranges whole ADD_UNITs, besides whole
 * blocks (Linux: a memory section, and a memory block, which is larger
 * on large guests).
 */
#define VIRTIO_NUMA_R_RELAYOUT_UNIT		14
#define VIRTIO_NUMA_R_ADD_UNIT			15

/* VIRTIO_NUMA_R_STATE bits */
#define VIRTIO_NUMA_NODE_POSSIBLE		_BITUL(0)
#define VIRTIO_NUMA_NODE_ONLINE			_BITUL(1)
#define VIRTIO_NUMA_NODE_HAS_MEMORY		_BITUL(2)
#define VIRTIO_NUMA_NODE_HAS_CPU		_BITUL(3)
#define VIRTIO_NUMA_NODE_ADDED			_BITUL(4)	/* by NODE_ADD */

struct virtio_numa_record {
	__le16 tag;		/* VIRTIO_NUMA_R_*; unknown tags are skipped */
	__le16 reserved;
	__le32 node;		/* host node id */
	__le64 value;
};

struct virtio_numa_event {
	__le64 id;		/* command id; 0 for an unsolicited report */
	__le16 type;		/* VIRTIO_NUMA_EVENT_* */
	__le16 status;		/* VIRTIO_NUMA_S_*; OK for a report */
	__le16 field;		/* VIRTIO_NUMA_FIELD_* for S_INVALID */
	__le16 page_shift;	/* page counts are in 2^page_shift bytes */
	__le32 detail;		/* positive errno, 0 if none */
	__le16 nr_node_ids;	/* guest node ids are 0 .. nr_node_ids - 1 */
	__le16 nr_records;
	__le64 seq;		/* increases by one per event */
	struct virtio_numa_record records[];
};

/* The most records an event may carry. */
#define VIRTIO_NUMA_MAX_RECORDS			4096

#endif /* _LINUX_VIRTIO_NUMA_H */
