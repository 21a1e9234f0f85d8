/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The free-memory rebalance policy: when a host NUMA node runs short
 * of free memory, decide which guest moves how much of its memory from
 * the guest node that lives there to another of its guest nodes that
 * lives on a host node with room.  The move is one relayout with
 * host-nodes: QEMU moves the host memory, the guest moves its pages in
 * place, and the guest's view stays true (its node N is still on host
 * node H).  Pure: vnumad gathers the figures and carries the moves out,
 * the unit tests run it over many passes.
 *
 * The rules (Documentation/admin-guide/host-agent.rst says them for
 * users):
 *  - a guest node's home is the one host node its memory backend is
 *    bound to (policy bind or preferred); a guest node without one is
 *    never a source nor a destination;
 *  - a host node is short when its free memory is below low_pct of its
 *    total; a pass moves memory away from it until the figures say it
 *    reaches high_pct (hysteresis: low_pct < high_pct);
 *  - a host node receives only what keeps its free memory at or above
 *    high_pct: a move never makes the receiver short, so memory never
 *    flows back and forth;
 *  - a pass moves at most max_bytes in all, and at most one move per
 *    guest; a guest that moved less than cooldown_s ago is left alone,
 *    so that the host figures show the last move before the next;
 *  - a source guest node keeps at least one block, and the firmware
 *    blocks (plan.h) never move;
 *  - sources go largest first (what they hold on the short node), as
 *    numad moves the largest processes first;
 *  - a block moved counts as freeing all its size on the short node:
 *    an upper bound (pages the guest never touched hold no host
 *    memory), which the next pass corrects with fresh figures.
 */
#ifndef VN_POLICY_H
#define VN_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

#include "plan.h"
#include "vnproto.h"

#define VN_POL_MAX_GUESTS	256
#define VN_POL_MAX_MOVES	64	/* per pass */
#define VN_POL_MAX_MOVED	256	/* ranges remembered per guest */

struct vn_pol_params {
	unsigned int low_pct;
	unsigned int high_pct;
	uint64_t max_bytes;
	unsigned int cooldown_s;
};

/* A range vnumad moved: where its memory is now, guest and host side. */
struct vn_pol_moved {
	uint64_t addr;
	uint64_t size;
	uint32_t node;
	uint32_t host;
};

/* One guest as the policy sees it. */
struct vn_pol_guest {
	const char *name;
	const struct vn_info *info;	/* with its RAM map */
	const struct vn_memdev *md;
	size_t nr_md;
	/* Test and what-if input: guest node -> home, overriding md. */
	const int *homes;		/* -1: none given; NULL: use md */
	size_t nr_homes;
	const struct vn_pol_moved *moved;
	size_t nr_moved;
	long long last_move_s;		/* 0: never */
};

struct vn_pol_move {
	size_t guest;			/* index into the guests given */
	uint32_t from_node;		/* guest nodes */
	uint32_t to_node;
	uint32_t from_host;
	uint32_t to_host;
	uint64_t bytes;
	size_t nr;
	struct vn_range ranges[VN_MAX_RANGES];	/* node: to_node */
};

struct vn_pol_result {
	size_t nr;
	struct vn_pol_move moves[VN_POL_MAX_MOVES];
	size_t nr_short;		/* host nodes found short */
};

int vn_policy_check_params(const struct vn_pol_params *p,
			   struct vn_err *err);
int vn_policy_decide(const struct vn_pol_params *p,
		     const struct vn_host_node *hn, size_t nr_hn,
		     const struct vn_pol_guest *g, size_t nr_g, long long now_s,
		     struct vn_pol_result *res, FILE *why, struct vn_err *err);
struct json_object *vn_policy_move_json(const struct vn_pol_move *m,
					const char *guest);

#endif /* VN_POLICY_H */
