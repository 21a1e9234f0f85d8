/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio-numa QMP commands and events (qemu-device/qapi/
 * virtio-numa.json) as C: argument builders and checked decoders.
 * Pure functions, unit-tested.
 */
#ifndef VN_VNPROTO_H
#define VN_VNPROTO_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "size.h"
#include "status.h"

#define VN_EV_COMPLETION	"VIRTIO_NUMA_COMPLETION"
#define VN_EV_REPORT		"VIRTIO_NUMA_REPORT"

#define VN_MAX_RANGES		64	/* per relayout */
#define VN_MAX_CPUS		1024	/* per node-add, this program's cap */
#define VN_HOST_NODE_LIMIT	1024	/* host NUMA node ids, Linux's cap */

/* VirtioNumaNodeInfo */
struct vn_node {
	uint32_t node;
	uint32_t guest_node;
	bool possible;
	bool online;
	bool with_memory;
	bool with_cpus;
	bool added;
	uint64_t present_pages;
	uint64_t managed_pages;
	uint64_t free_pages;
	uint64_t pending_pages;
	uint64_t transplanted_pages;
	/* Of the pending pages, those that cannot migrate (0 if unknown). */
	uint64_t pending_slab_pages;
	uint64_t pending_pagetable_pages;
	uint64_t pending_other_pages;
	uint64_t cpus;
};

/* VirtioNumaCommandInfo */
struct vn_cmd_info {
	uint64_t command_id;
	char type[24];
	char state[8];
	bool has_status;
	enum vn_status status;
	char field[24];
	bool has_detail;
	uint32_t detail;
};

/* VirtioNumaInfo */
/* Guest RAM a memory backend gives, by guest-physical range. */
struct vn_ram {
	uint64_t addr;
	uint64_t size;
	char memdev[64];
	bool has_node;
	uint32_t node;		/* the node whose memory it is */
};

struct vn_info {
	char *id;
	char *qom_path;
	uint64_t block_size;
	uint32_t max_nodes;
	bool driver_ready;
	uint32_t report_interval;
	uint64_t reports;
	uint64_t bogus_events;
	bool has_guest_nr_node_ids;
	uint64_t guest_nr_node_ids;
	bool has_page_size;
	uint64_t page_size;
	bool has_report_seq;
	uint64_t report_seq;
	/* The guest's own units (powers of 2), once it has said them. */
	bool has_guest_relayout_unit;
	uint64_t guest_relayout_unit;
	bool has_guest_add_unit;
	uint64_t guest_add_unit;
	size_t nr_nodes;
	struct vn_node *nodes;
	size_t nr_commands;
	struct vn_cmd_info *commands;
	size_t nr_ram;		/* 0 from a QEMU that does not say */
	struct vn_ram *ram;
};

/*
 * What a relayout range and a node's memory must be whole units of: the
 * device's block size and the guest's unit, whichever is larger (both
 * are powers of 2).
 */
static inline uint64_t vn_relayout_unit(const struct vn_info *info)
{
	return info->has_guest_relayout_unit &&
	       info->guest_relayout_unit > info->block_size ?
	       info->guest_relayout_unit : info->block_size;
}

static inline uint64_t vn_add_unit(const struct vn_info *info)
{
	return info->has_guest_add_unit &&
	       info->guest_add_unit > info->block_size ?
	       info->guest_add_unit : info->block_size;
}

/* VIRTIO_NUMA_COMPLETION data; strings point into the event. */
struct vn_completion {
	const char *id;
	uint64_t command_id;
	const char *type;
	enum vn_status status;
	const char *status_name;
	const char *field;
	uint32_t detail;
};

/* VirtioNumaDistance */
struct vn_distance {
	uint32_t node;
	uint8_t distance;
};

struct json_object *vn_args_id(const char *id);
struct json_object *vn_args_node_add(const char *id, uint32_t node,
				     const char *memdev,
				     const uint32_t *cpus, size_t nr_cpus,
				     const struct vn_distance *dist,
				     size_t nr_dist);
struct json_object *vn_args_node_remove(const char *id, uint32_t node);
struct json_object *vn_args_relayout(const char *id,
				     const struct vn_range *ranges, size_t nr,
				     bool migrate, const uint32_t *host_node);
struct json_object *vn_args_backend_add(const char *name, uint64_t size,
					const uint32_t *host_nodes,
					size_t nr);
struct json_object *vn_args_object_del(const char *name);
struct json_object *vn_args_qom_list(const char *path);

int vn_decode_command_id(struct json_object *ret, uint64_t *id,
			 struct vn_err *err);
int vn_decode_node_add_ids(struct json_object *ret, size_t nr_cpus,
			   size_t nr_dist, uint64_t *ids, struct vn_err *err);
int vn_decode_info(struct json_object *obj, struct vn_info *info,
		   struct vn_err *err);
int vn_decode_ram(struct json_object *list, struct vn_info *info,
		  struct vn_err *err);
int vn_decode_query(struct json_object *list, const char *id,
		    struct vn_info *info, struct vn_err *err);
void vn_info_free(struct vn_info *info);
int vn_decode_completion(struct json_object *ev, struct vn_completion *c,
			 struct vn_err *err);
int vn_decode_report_event(struct json_object *ev, const char **id,
			   uint64_t *seq, struct vn_err *err);
int vn_decode_qom_has(struct json_object *ret, const char *name,
		      bool *found, struct vn_err *err);

const struct vn_node *vn_info_node(const struct vn_info *info,
				   uint32_t node);
uint64_t vn_pages_bytes(const struct vn_info *info, uint64_t pages);
uint64_t vn_info_pending(const struct vn_info *info);
struct json_object *vn_info_to_json(const struct vn_info *info,
				    const char *domain);

#endif /* VN_VNPROTO_H */
