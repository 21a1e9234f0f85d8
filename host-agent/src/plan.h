/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The layout a guest should have, given where the host keeps its
 * memory.  Pure functions over what QEMU and sysfs say, so that the
 * policy is unit-tested without a VM.
 *
 * The rule (Documentation/admin-guide/host-agent.rst says it for users):
 * every guest node has the memory backend of its boot or added memory;
 * a backend bound to host nodes (policy bind or preferred) gives its
 * node a "home", that set of host nodes.  Each range of guest RAM then
 * belongs to the lowest-numbered node whose home is the home of the
 * range's own backend; a range whose backend is not bound stays with
 * its own node.  So two guest nodes the host now keeps on the same
 * host node become one, and they part again when their backends are
 * bound apart - after a live migration, that is the destination's
 * binding.
 */
#ifndef VN_PLAN_H
#define VN_PLAN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

#include "vnproto.h"

#define VN_PLAN_NODES		128	/* QEMU's MAX_NODES */
#define VN_HOST_WORDS		(VN_HOST_NODE_LIMIT / 64)

enum vn_mempolicy {
	VN_POL_DEFAULT,
	VN_POL_PREFERRED,
	VN_POL_BIND,
	VN_POL_INTERLEAVE,
};

/* One memory backend as query-memdev gives it. */
struct vn_memdev {
	char id[64];
	uint64_t size;
	enum vn_mempolicy policy;
	uint64_t host_nodes[VN_HOST_WORDS];
};

struct vn_plan_node {
	uint32_t node;
	bool bound;		/* its backend has a home */
	uint64_t home[VN_HOST_WORDS];
	uint64_t has;		/* bytes present, as the guest reported */
	uint64_t want;		/* bytes the binding gives it */
};

struct vn_plan {
	bool in_place;		/* the guest's layout already matches */
	size_t nr_nodes;
	struct vn_plan_node nodes[VN_PLAN_NODES];
	size_t nr;		/* the whole target layout, block-aligned */
	struct vn_range ranges[VN_MAX_RANGES];
	uint64_t skipped;	/* bytes in partial and firmware blocks */
};

int vn_decode_memdevs(struct json_object *list, struct vn_memdev **out,
		      size_t *nr, struct vn_err *err);
const struct vn_memdev *vn_find_memdev(const struct vn_memdev *md,
				       size_t nr, const char *id);
/* The two blocks whose memory the firmware reserved: they never move. */
void vn_firmware_blocks(const struct vn_info *info, uint64_t *lo,
			uint64_t *hi);
int vn_plan_binding(const struct vn_info *info, const struct vn_memdev *md,
		    size_t nr_md, struct vn_plan *plan, struct vn_err *err);

/* "0-1,4" for a host node set; "-" when empty. */
const char *vn_host_set_str(const uint64_t *set, char *buf, size_t len);
void vn_plan_print(FILE *f, const char *domain, const struct vn_plan *plan);
struct json_object *vn_plan_to_json(const char *domain,
				    const struct vn_plan *plan);
struct json_object *vn_ranges_json(const struct vn_range *r, size_t nr);

/* Host memory per host NUMA node, from sysfs nodeN/meminfo. */
struct vn_host_node {
	uint32_t node;
	uint64_t total;		/* bytes */
	uint64_t free;
};

int vn_parse_node_meminfo(const char *text, uint32_t node,
			  struct vn_host_node *hn, struct vn_err *err);
int vn_read_host_nodes(const char *dir, struct vn_host_node *hn, size_t cap,
		       size_t *nr, struct vn_err *err);

#endif /* VN_PLAN_H */
