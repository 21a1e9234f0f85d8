// SPDX-License-Identifier: GPL-2.0
/*
 * The free-memory rebalance policy; its rules are in policy.h.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "size.h"

/* A host node during a pass: free memory as the planned moves leave it. */
struct pol_host {
	uint32_t node;
	uint64_t total;
	uint64_t free;
	uint64_t low;		/* bytes: short below */
	uint64_t high;		/* bytes: helped up to, receivers kept at */
};

/* A guest node that may give memory away. */
struct pol_source {
	size_t guest;
	uint32_t node;
	uint32_t host;
	uint64_t bytes;		/* movable, still at home */
};

int vn_policy_check_params(const struct vn_pol_params *p, struct vn_err *err)
{
	if (p->low_pct >= p->high_pct || p->high_pct > 90)
		return vn_err_set(err, VN_ERR_USAGE, "the free-memory "
				  "watermarks must be low < high <= 90 "
				  "(percent), not %u and %u", p->low_pct,
				  p->high_pct), -1;
	if (!p->max_bytes)
		return vn_err_set(err, VN_ERR_USAGE, "the bytes a pass may "
				  "move must not be 0"), -1;
	return 0;
}

static struct pol_host *host_of(struct pol_host *h, size_t nr, uint32_t node)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (h[i].node == node)
			return &h[i];
	return NULL;
}

/*
 * The one host node guest node @node lives on, or -1: the what-if
 * input if there is one, else its memory backend's binding.
 */
static int64_t guest_home(const struct vn_pol_guest *g, uint32_t node)
{
	const struct vn_memdev *m;
	int64_t home = -1;
	size_t i, w;

	if (g->homes)
		return node < g->nr_homes ? g->homes[node] : -1;
	for (i = 0; i < g->info->nr_ram; i++)
		if (g->info->ram[i].has_node && g->info->ram[i].node == node)
			break;
	if (i == g->info->nr_ram)
		return -1;
	m = vn_find_memdev(g->md, g->nr_md, g->info->ram[i].memdev);
	if (!m || (m->policy != VN_POL_BIND && m->policy != VN_POL_PREFERRED))
		return -1;
	for (w = 0; w < VN_HOST_WORDS; w++) {
		uint64_t bits = m->host_nodes[w];

		if (!bits)
			continue;
		if (home >= 0 || (bits & (bits - 1)))
			return -1;	/* more than one host node */
		home = w * 64 + __builtin_ctzll(bits);
	}
	return home;
}

static bool block_moved(const struct vn_pol_guest *g, uint64_t addr)
{
	size_t i;

	for (i = 0; i < g->nr_moved; i++)
		if (addr >= g->moved[i].addr &&
		    addr - g->moved[i].addr < g->moved[i].size)
			return true;
	return false;
}

/*
 * Walk the blocks of guest node @node's own memory that may move, from
 * the top down: not a firmware block, not moved away before.  @fn
 * returns false to stop.  Returns the bytes walked.
 */
static uint64_t walk_blocks(const struct vn_pol_guest *g, uint32_t node,
			    bool (*fn)(void *arg, uint64_t addr), void *arg)
{
	const struct vn_info *info = g->info;
	uint64_t bs = vn_relayout_unit(info), fw_lo, fw_hi, a, start, end;
	uint64_t bytes = 0;
	size_t i;

	vn_firmware_blocks(info, &fw_lo, &fw_hi);
	for (i = info->nr_ram; i-- > 0;) {
		const struct vn_ram *r = &info->ram[i];

		if (!r->has_node || r->node != node)
			continue;
		start = (r->addr + bs - 1) / bs * bs;
		end = (r->addr + r->size) / bs * bs;
		for (a = end; a > start;) {
			a -= bs;
			if (a == fw_lo || a == fw_hi || block_moved(g, a))
				continue;
			bytes += bs;
			if (fn && !fn(arg, a))
				return bytes;
		}
	}
	return bytes;
}

struct take {
	struct vn_pol_move *m;
	uint64_t bs;
	uint64_t want;
};

/* Take the block at @addr into the move, merged with the one above. */
static bool take_block(void *arg, uint64_t addr)
{
	struct take *t = arg;
	struct vn_pol_move *m = t->m;
	struct vn_range *last = m->nr ? &m->ranges[m->nr - 1] : NULL;

	if (last && addr + t->bs == last->addr) {
		last->addr = addr;
		last->size += t->bs;
	} else {
		if (m->nr == VN_MAX_RANGES)
			return false;
		m->ranges[m->nr++] = (struct vn_range){
			addr, t->bs, m->to_node
		};
	}
	m->bytes += t->bs;
	return m->bytes < t->want;
}

static int source_cmp(const void *a, const void *b)
{
	const struct pol_source *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->guest != y->guest)
		return x->guest < y->guest ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

/* The other node of @g with the most room on its home, or NULL. */
static const struct vn_node *receiver(const struct vn_pol_guest *g,
				      const struct pol_source *s,
				      struct pol_host *h, size_t nr_h,
				      struct pol_host **to)
{
	const struct vn_node *best = NULL;
	struct pol_host *ph;
	uint64_t room, best_room = 0;
	int64_t home;
	size_t i;

	for (i = 0; i < g->info->nr_nodes; i++) {
		const struct vn_node *n = &g->info->nodes[i];

		if (n->node == s->node || !n->online)
			continue;
		home = guest_home(g, n->node);
		if (home < 0 || home == s->host)
			continue;
		ph = host_of(h, nr_h, home);
		if (!ph || ph->free <= ph->high)
			continue;
		room = ph->free - ph->high;
		if (room > best_room) {
			best = n;
			best_room = room;
			*to = ph;
		}
	}
	return best;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Plan the move of source @s, if a receiver has room: 1 if planned. */
static int plan_source(const struct vn_pol_guest *g,
		       const struct pol_source *s,
		       struct pol_host *h, size_t nr_h, uint64_t *budget,
		       struct vn_pol_move *m, FILE *why)
{
	char b1[VN_SIZE_BUF], b2[VN_SIZE_BUF];
	struct pol_host *from = host_of(h, nr_h, s->host), *to = NULL;
	uint64_t bs = vn_relayout_unit(g->info), want;
	const struct vn_node *rn;
	struct take t;

	if (from->free >= from->high)
		return 0;	/* helped enough by the moves before */
	rn = receiver(g, s, h, nr_h, &to);
	if (!rn) {
		fprintf(why, "%s: guest node %" PRIu32 " (host node %" PRIu32
			") could give %s, but no other node of it lives on a "
			"host node with room\n", g->name, s->node, s->host,
			format_size(s->bytes, b1, sizeof(b1)));
		return 0;
	}
	/* Keep one block; never past the receiver's high watermark. */
	want = min_u64(from->high - from->free, to->free - to->high);
	want = min_u64(want, min_u64(*budget, s->bytes - bs));
	want = want / bs * bs;
	if (!want) {
		fprintf(why, "%s: guest node %" PRIu32 " (host node %" PRIu32
			"): less than a block (%s) may move now\n", g->name,
			s->node, s->host, format_size(bs, b1, sizeof(b1)));
		return 0;
	}
	memset(m, 0, sizeof(*m));
	m->guest = s->guest;
	m->from_node = s->node;
	m->to_node = rn->node;
	m->from_host = s->host;
	m->to_host = to->node;
	t = (struct take){ .m = m, .bs = bs, .want = want };
	walk_blocks(g, s->node, take_block, &t);
	from->free += m->bytes;
	to->free -= m->bytes;
	*budget -= m->bytes;
	fprintf(why, "%s: move %s of guest node %" PRIu32 " (host node %"
		PRIu32 ") to guest node %" PRIu32 " (host node %" PRIu32
		"), %zu range%s; host node %" PRIu32 " then has about %s "
		"free\n", g->name, format_size(m->bytes, b1, sizeof(b1)),
		m->from_node, m->from_host, m->to_node, m->to_host, m->nr,
		m->nr == 1 ? "" : "s", from->node,
		format_size(from->free, b2, sizeof(b2)));
	return 1;
}

/* The guest nodes living on short host nodes, largest first. */
static size_t find_sources(const struct vn_pol_params *p,
			   const struct vn_pol_guest *g, size_t nr_g,
			   long long now_s, struct pol_host *h, size_t nr_h,
			   struct pol_source *src, size_t cap, FILE *why)
{
	struct pol_host *ph;
	size_t i, j, nr = 0;
	uint64_t bytes;
	int64_t home;

	for (i = 0; i < nr_g; i++) {
		const struct vn_info *info = g[i].info;

		if (g[i].last_move_s &&
		    now_s - g[i].last_move_s < (long long)p->cooldown_s) {
			fprintf(why, "%s: moved %llds ago; left alone for %us "
				"after a move\n", g[i].name,
				now_s - g[i].last_move_s, p->cooldown_s);
			continue;
		}
		if (!info->nr_ram || !info->block_size)
			continue;
		for (j = 0; j < info->nr_nodes && nr < cap; j++) {
			if (!info->nodes[j].present_pages)
				continue;
			home = guest_home(&g[i], info->nodes[j].node);
			ph = home < 0 ? NULL : host_of(h, nr_h, home);
			if (!ph || ph->free >= ph->low)
				continue;
			bytes = walk_blocks(&g[i], info->nodes[j].node, NULL,
					    NULL);
			if (bytes < 2 * vn_relayout_unit(info))
				continue;
			src[nr++] = (struct pol_source){
				i, info->nodes[j].node, ph->node, bytes
			};
		}
	}
	qsort(src, nr, sizeof(*src), source_cmp);
	return nr;
}

/*
 * One pass: the moves that bring the short host nodes of @hn back to
 * high_pct free, as far as the rules allow, in @res; why, in @why.
 */
int vn_policy_decide(const struct vn_pol_params *p,
		     const struct vn_host_node *hn, size_t nr_hn,
		     const struct vn_pol_guest *g, size_t nr_g, long long now_s,
		     struct vn_pol_result *res, FILE *why, struct vn_err *err)
{
	char b1[VN_SIZE_BUF], b2[VN_SIZE_BUF];
	struct pol_source *src = NULL;
	struct pol_host *h;
	bool moved[VN_POL_MAX_GUESTS] = { false };
	uint64_t budget = p->max_bytes;
	size_t i, nr_src;

	memset(res, 0, sizeof(*res));
	if (vn_policy_check_params(p, err))
		return -1;
	if (nr_g > VN_POL_MAX_GUESTS)
		return vn_err_set(err, VN_ERR_USAGE, "more than %d guests",
				  VN_POL_MAX_GUESTS), -1;
	h = calloc(nr_hn ? nr_hn : 1, sizeof(*h));
	if (!h)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	for (i = 0; i < nr_hn; i++) {
		h[i] = (struct pol_host){
			.node = hn[i].node, .total = hn[i].total,
			.free = hn[i].free,
			.low = hn[i].total / 100 * p->low_pct,
			.high = hn[i].total / 100 * p->high_pct,
		};
		if (h[i].free >= h[i].low)
			continue;
		res->nr_short++;
		fprintf(why, "host node %" PRIu32 " is short: %s free of %s "
			"(below %u %%); moving memory away until %u %% are "
			"free\n", h[i].node, format_size(h[i].free, b1,
							sizeof(b1)),
			format_size(h[i].total, b2, sizeof(b2)), p->low_pct,
			p->high_pct);
	}
	if (!res->nr_short) {
		fprintf(why, "no host node is short (below %u %% free)\n",
			p->low_pct);
		goto out;
	}
	src = calloc(VN_POL_MAX_MOVES * 4, sizeof(*src));
	if (!src) {
		free(h);
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	}
	nr_src = find_sources(p, g, nr_g, now_s, h, nr_hn, src,
			      VN_POL_MAX_MOVES * 4, why);
	if (!nr_src)
		fprintf(why, "no guest node that may give memory lives on a "
			"short host node\n");
	for (i = 0; i < nr_src && budget && res->nr < VN_POL_MAX_MOVES; i++) {
		if (moved[src[i].guest])
			continue;
		if (plan_source(&g[src[i].guest], &src[i], h, nr_hn,
				&budget, &res->moves[res->nr], why) > 0) {
			moved[src[i].guest] = true;
			res->nr++;
		}
	}
	if (!budget)
		fprintf(why, "this pass moved its limit of %s\n",
			format_size(p->max_bytes, b1, sizeof(b1)));
	for (i = 0; i < nr_hn; i++)
		if (hn[i].free < h[i].low && h[i].free < h[i].high)
			fprintf(why, "host node %" PRIu32 " stays short after "
				"this pass: about %s free\n", h[i].node,
				format_size(h[i].free, b1, sizeof(b1)));
out:
	free(src);
	free(h);
	return 0;
}

struct json_object *vn_policy_move_json(const struct vn_pol_move *m,
					const char *guest)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "domain", json_object_new_string(guest));
	json_object_object_add(o, "from-node",
			       json_object_new_int64(m->from_node));
	json_object_object_add(o, "to-node", json_object_new_int64(m->to_node));
	json_object_object_add(o, "from-host-node",
			       json_object_new_int64(m->from_host));
	json_object_object_add(o, "to-host-node",
			       json_object_new_int64(m->to_host));
	json_object_object_add(o, "bytes", json_object_new_uint64(m->bytes));
	json_object_object_add(o, "ranges", vn_ranges_json(m->ranges, m->nr));
	return o;
}
