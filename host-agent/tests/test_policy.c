// SPDX-License-Identifier: GPL-2.0
/*
 * The free-memory rebalance policy: what one pass decides, and over
 * many passes of a simulated host, that it settles and never moves
 * memory back and forth.
 */
#include <stdio.h>
#include <stdlib.h>

#include "policy.h"
#include "runner.h"

#define MiB	(1ull << 20)
#define GiB	(1ull << 30)
#define BS	(128 * MiB)

/*
 * A guest of two 4 GiB nodes: node 0 at [0, 2G) and [4G, 6G) of
 * backend ram-node0, node 1 at [6G, 10G) of ram-node1.
 */
struct guest {
	struct vn_info info;
	struct vn_node nodes[3];
	struct vn_ram ram[3];
	struct vn_memdev md[2];
	struct vn_pol_moved moved[VN_POL_MAX_MOVED];
};

static void guest_init(struct guest *g, int home0, int home1)
{
	int homes[2] = { home0, home1 };
	size_t i;

	memset(g, 0, sizeof(*g));
	g->info.block_size = BS;
	g->info.has_page_size = true;
	g->info.page_size = 4096;
	g->info.nr_nodes = 3;
	g->info.nodes = g->nodes;
	for (i = 0; i < 3; i++) {
		g->nodes[i].node = i;
		g->nodes[i].possible = true;
		g->nodes[i].online = i < 2;
		g->nodes[i].present_pages = i < 2 ? 4 * GiB / 4096 : 0;
	}
	g->info.nr_ram = 3;
	g->info.ram = g->ram;
	g->ram[0] = (struct vn_ram){ 0, 2 * GiB, "ram-node0", true, 0 };
	g->ram[1] = (struct vn_ram){ 4 * GiB, 2 * GiB, "ram-node0", true, 0 };
	g->ram[2] = (struct vn_ram){ 6 * GiB, 4 * GiB, "ram-node1", true, 1 };
	for (i = 0; i < 2; i++) {
		snprintf(g->md[i].id, sizeof(g->md[i].id), "ram-node%zu", i);
		g->md[i].size = 4 * GiB;
		g->md[i].policy = homes[i] < 0 ? VN_POL_DEFAULT :
				  i ? VN_POL_PREFERRED : VN_POL_BIND;
		if (homes[i] >= 0)
			g->md[i].host_nodes[0] = 1ull << homes[i];
	}
}

static struct vn_pol_guest pol_guest(struct guest *g, const char *name,
				     size_t nr_moved, long long last)
{
	return (struct vn_pol_guest){
		.name = name, .info = &g->info, .md = g->md, .nr_md = 2,
		.moved = g->moved, .nr_moved = nr_moved, .last_move_s = last,
	};
}

static const struct vn_pol_params params = {
	.low_pct = 10, .high_pct = 20, .max_bytes = 1 * GiB,
	.cooldown_s = 300,
};

/* Two host nodes of 16 GiB with @free0 and @free1 free. */
static void hosts(struct vn_host_node *hn, uint64_t free0, uint64_t free1)
{
	hn[0] = (struct vn_host_node){ 0, 16 * GiB, free0 };
	hn[1] = (struct vn_host_node){ 1, 16 * GiB, free1 };
}

static char *decide(const struct vn_pol_params *p,
		    const struct vn_host_node *hn, size_t nr_hn,
		    const struct vn_pol_guest *g, size_t nr_g, long long now,
		    struct vn_pol_result *res)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct vn_err err;

	CHECK(!vn_policy_decide(p, hn, nr_hn, g, nr_g, now, res, f, &err));
	fclose(f);
	return text;
}

static void test_policy_nothing_short(void)
{
	struct vn_host_node hn[2];
	struct vn_pol_result *res = malloc(sizeof(*res));
	struct guest *g = malloc(sizeof(*g));
	struct vn_pol_guest pg;
	char *why;

	guest_init(g, 0, 1);
	pg = pol_guest(g, "vm1", 0, 0);
	/* 10 % is not below 10 %. */
	hosts(hn, 16 * GiB / 100 * 10, 8 * GiB);
	why = decide(&params, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 0);
	CHECK_U64(res->nr_short, 0);
	CHECK_HAS(why, "no host node is short (below 10 % free)");
	free(why);
	free(res);
	free(g);
}

static void test_policy_moves_to_the_node_with_room(void)
{
	struct vn_host_node hn[2];
	struct vn_pol_result *res = malloc(sizeof(*res));
	struct guest *g = malloc(sizeof(*g));
	const struct vn_pol_move *m = &res->moves[0];
	struct vn_pol_guest pg;
	char *why;

	guest_init(g, 0, 1);
	pg = pol_guest(g, "vm1", 0, 0);
	hosts(hn, 800 * MiB, 10 * GiB);
	why = decide(&params, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr_short, 1);
	CHECK_U64(res->nr, 1);
	CHECK_U64(m->guest, 0);
	CHECK_U64(m->from_node, 0);
	CHECK_U64(m->to_node, 1);
	CHECK_U64(m->from_host, 0);
	CHECK_U64(m->to_host, 1);
	/* The pass's limit; from the top of node 0's memory down. */
	CHECK_U64(m->bytes, 1 * GiB);
	CHECK_U64(m->nr, 1);
	CHECK_U64(m->ranges[0].addr, 5 * GiB);
	CHECK_U64(m->ranges[0].size, 1 * GiB);
	CHECK_U64(m->ranges[0].node, 1);
	CHECK_HAS(why, "host node 0 is short: 800 MiB free of 16 GiB");
	CHECK_HAS(why, "vm1: move 1 GiB of guest node 0 (host node 0) to "
		  "guest node 1 (host node 1), 1 range");
	CHECK_HAS(why, "this pass moved its limit of 1 GiB");
	CHECK_HAS(why, "host node 0 stays short after this pass");
	free(why);
	free(res);
	free(g);
}

/* Enough to reach high, and never the receiver below its own high. */
static void test_policy_limits(void)
{
	struct vn_pol_params big = params;
	struct vn_host_node hn[2];
	struct vn_pol_result *res = malloc(sizeof(*res));
	struct guest *g = malloc(sizeof(*g));
	struct vn_pol_guest pg;
	char *why;

	big.max_bytes = 64 * GiB;
	guest_init(g, 0, 1);
	pg = pol_guest(g, "vm1", 0, 0);
	/* Needs 3.2 GiB - 1.5 GiB; node 1 has 3.5 GiB of room. */
	hosts(hn, 1536 * MiB, 16 * GiB / 100 * 20 + 3584 * MiB);
	why = decide(&big, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 1);
	CHECK_U64(res->moves[0].bytes,
		  (16 * GiB / 100 * 20 - 1536 * MiB) / BS * BS);
	free(why);
	/* Little room on node 1: only that much, in whole blocks. */
	hosts(hn, 800 * MiB, 16 * GiB / 100 * 20 + 300 * MiB);
	why = decide(&big, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 1);
	CHECK_U64(res->moves[0].bytes, 256 * MiB);
	free(why);
	/* No room at all. */
	hosts(hn, 800 * MiB, 16 * GiB / 100 * 20);
	why = decide(&big, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 0);
	CHECK_HAS(why, "no other node of it lives on a host node with room");
	free(why);
	/* No room above 90 %. */
	hosts(hn, 0, 16 * GiB / 100 * 90);
	big.high_pct = 90;
	why = decide(&big, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 0);
	free(why);
	/*
	 * All of node 0 that may move but one block: 30 blocks less the
	 * one kept, from the top down; never the firmware blocks at 0
	 * and at 2 GiB - 128 MiB.
	 */
	big.high_pct = 30;
	hosts(hn, 0, 16 * GiB);
	why = decide(&big, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 1);
	CHECK_U64(res->moves[0].bytes, 29 * BS);
	CHECK_U64(res->moves[0].nr, 2);
	CHECK_U64(res->moves[0].ranges[0].addr, 4 * GiB);
	CHECK_U64(res->moves[0].ranges[0].size, 2 * GiB);
	CHECK_U64(res->moves[0].ranges[1].addr, 2 * BS);
	CHECK_U64(res->moves[0].ranges[1].size, 13 * BS);
	free(why);
	free(res);
	free(g);
}

/* Guests largest first, one move each, within the pass's budget. */
static void test_policy_order_and_budget(void)
{
	struct vn_pol_params p = params;
	struct vn_host_node hn[2];
	struct vn_pol_result *res = malloc(sizeof(*res));
	struct guest *g = malloc(2 * sizeof(*g));
	struct vn_pol_guest pg[2];
	char *why;

	guest_init(&g[0], 0, 1);
	guest_init(&g[1], 0, 1);
	/* vm1 has only [0, 2G) on node 0: 14 movable blocks. */
	g[0].info.nr_ram = 3;
	g[0].ram[1] = (struct vn_ram){ 4 * GiB, 0, "ram-node0", true, 0 };
	pg[0] = pol_guest(&g[0], "vm1", 0, 0);
	pg[1] = pol_guest(&g[1], "vm2", 0, 0);
	p.high_pct = 40;
	p.max_bytes = 5 * GiB;
	hosts(hn, 0, 16 * GiB);
	why = decide(&p, hn, 2, pg, 2, 1000, res);
	CHECK_U64(res->nr, 2);
	/* vm2 first: 30 blocks; it keeps one. */
	CHECK_U64(res->moves[0].guest, 1);
	CHECK_U64(res->moves[0].bytes, 29 * BS);
	/* Then vm1, with what is left of the pass's 5 GiB. */
	CHECK_U64(res->moves[1].guest, 0);
	CHECK_U64(res->moves[1].bytes, 5 * GiB - 29 * BS);
	CHECK_HAS(why, "this pass moved its limit of 5 GiB");
	free(why);
	p.max_bytes = 1 * GiB;
	why = decide(&p, hn, 2, pg, 2, 1000, res);
	CHECK_U64(res->nr, 1);
	CHECK_U64(res->moves[0].guest, 1);
	CHECK_U64(res->moves[0].bytes, 1 * GiB);
	free(why);
	free(res);
	free(g);
}

static void test_policy_cooldown_and_homes(void)
{
	struct vn_host_node hn[2];
	struct vn_pol_result *res = malloc(sizeof(*res));
	struct guest *g = malloc(sizeof(*g));
	int homes[3] = { 1, 0, -1 };
	struct vn_pol_guest pg;
	char *why;

	guest_init(g, 0, 1);
	hosts(hn, 800 * MiB, 10 * GiB);
	pg = pol_guest(g, "vm1", 0, 900);
	why = decide(&params, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 0);
	CHECK_HAS(why, "vm1: moved 100s ago; left alone for 300s after a "
		  "move");
	free(why);
	pg.last_move_s = 600;
	why = decide(&params, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 1);
	free(why);
	/* Unbound: neither source nor receiver. */
	guest_init(g, -1, 1);
	pg = pol_guest(g, "vm1", 0, 0);
	why = decide(&params, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 0);
	CHECK_HAS(why, "no guest node that may give memory lives on a short "
		  "host node");
	free(why);
	guest_init(g, 0, -1);
	pg = pol_guest(g, "vm1", 0, 0);
	why = decide(&params, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 0);
	free(why);
	/* Bound to two host nodes: no home either. */
	guest_init(g, 0, 1);
	g->md[1].host_nodes[0] = 3;
	pg = pol_guest(g, "vm1", 0, 0);
	why = decide(&params, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 0);
	free(why);
	/* What-if homes win over the binding: node 1 lives on host 0. */
	pg.homes = homes;
	pg.nr_homes = 3;
	hosts(hn, 10 * GiB, 800 * MiB);
	why = decide(&params, hn, 2, &pg, 1, 1000, res);
	CHECK_U64(res->nr, 1);
	CHECK_U64(res->moves[0].from_node, 0);
	CHECK_U64(res->moves[0].from_host, 1);
	CHECK_U64(res->moves[0].to_node, 1);
	CHECK_U64(res->moves[0].to_host, 0);
	free(why);
	free(res);
	free(g);
}

static void test_policy_bad_params(void)
{
	struct vn_pol_params p = params;
	struct vn_err err;

	p.low_pct = 20;
	CHECK(vn_policy_check_params(&p, &err));
	CHECK_HAS(err.msg, "low < high <= 90");
	p = params;
	p.high_pct = 95;
	CHECK(vn_policy_check_params(&p, &err));
	p = params;
	p.max_bytes = 0;
	CHECK(vn_policy_check_params(&p, &err));
	CHECK(!vn_policy_check_params(&params, &err));
}

/*
 * A host of two nodes under load, simulated over 40 passes a minute
 * apart: a process on host node 0 keeps taking memory until it stops.
 * Two guests live across both nodes.  Each move frees on node 0 what
 * it moves (the guests touched all their memory) and takes it on node
 * 1.  The policy must bring node 0 back above its low watermark,
 * never take node 1 below its high one, never move anything from node
 * 1 to node 0, and stop moving once the figures are calm.
 */
static void test_policy_settles(void)
{
	struct vn_host_node hn[2];
	struct vn_pol_result *res = malloc(sizeof(*res));
	struct guest *g = malloc(2 * sizeof(*g));
	struct vn_pol_guest pg[2];
	size_t nr_moved[2] = { 0, 0 };
	long long last[2] = { 0, 0 };
	uint64_t eater = 0, moved_total = 0;
	unsigned int pass, calm_moves = 0;
	size_t i, k;
	char *why;

	guest_init(&g[0], 0, 1);
	guest_init(&g[1], 0, 1);
	hosts(hn, 3 * GiB, 9 * GiB);
	for (pass = 0; pass < 40; pass++) {
		long long now = 1000 + pass * 60;

		/* The process eats 256 MiB a minute for 10 minutes. */
		if (pass < 10) {
			hn[0].free -= 256 * MiB;
			eater += 256 * MiB;
		}
		for (i = 0; i < 2; i++)
			pg[i] = pol_guest(&g[i], i ? "vm2" : "vm1",
					  nr_moved[i], last[i]);
		why = decide(&params, hn, 2, pg, 2, now, res);
		free(why);
		for (k = 0; k < res->nr; k++) {
			const struct vn_pol_move *m = &res->moves[k];
			size_t r;

			CHECK_U64(m->from_host, 0);
			CHECK_U64(m->to_host, 1);
			for (r = 0; r < m->nr; r++)
				g[m->guest].moved[nr_moved[m->guest]++] =
					(struct vn_pol_moved){
						m->ranges[r].addr,
						m->ranges[r].size,
						m->to_node, m->to_host };
			last[m->guest] = now;
			hn[0].free += m->bytes;
			hn[1].free -= m->bytes;
			moved_total += m->bytes;
			if (pass >= 20)
				calm_moves++;
		}
		CHECK(hn[1].free >= hn[1].total / 100 * params.high_pct);
	}
	CHECK(hn[0].free >= hn[0].total / 100 * params.low_pct);
	CHECK(moved_total <= eater + 3 * GiB);
	CHECK_U64(calm_moves, 0);
	free(res);
	free(g);
}

const struct test policy_tests[] = {
	TEST(test_policy_nothing_short),
	TEST(test_policy_moves_to_the_node_with_room),
	TEST(test_policy_limits),
	TEST(test_policy_order_and_budget),
	TEST(test_policy_cooldown_and_homes),
	TEST(test_policy_bad_params),
	TEST(test_policy_settles),
	{ NULL, NULL },
};
