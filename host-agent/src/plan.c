// SPDX-License-Identifier: GPL-2.0
/*
 * The binding rule of plan.h, and the host's memory per NUMA node.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "plan.h"

/* --- query-memdev --- */

static const char *const policy_names[] = {
	[VN_POL_DEFAULT] = "default",
	[VN_POL_PREFERRED] = "preferred",
	[VN_POL_BIND] = "bind",
	[VN_POL_INTERLEAVE] = "interleave",
};

static int decode_memdev(struct json_object *o, struct vn_memdev *m,
			 struct vn_err *err)
{
	struct json_object *nodes;
	const char *id, *policy;
	uint64_t v;
	size_t i, n;

	if (jx_opt_str(o, "id", &id, err) ||
	    jx_u64(o, "size", UINT64_MAX, &m->size, err) ||
	    jx_str(o, "policy", &policy, err) ||
	    jx_array(o, "host-nodes", &nodes, err))
		return -1;
	if (id && strlen(id) >= sizeof(m->id))
		return vn_err_set(err, VN_ERR_IO, "id '%.80s' is too long",
				  id), -1;
	snprintf(m->id, sizeof(m->id), "%s", id ? id : "");
	for (i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
		if (!strcmp(policy, policy_names[i]))
			break;
	if (i == sizeof(policy_names) / sizeof(policy_names[0]))
		return vn_err_set(err, VN_ERR_IO, "unknown policy '%.40s'",
				  policy), -1;
	m->policy = i;
	n = json_object_array_length(nodes);
	for (i = 0; i < n; i++) {
		if (jx_value_u64(json_object_array_get_idx(nodes, i),
				 "host-nodes", VN_HOST_NODE_LIMIT - 1, &v, err))
			return -1;
		m->host_nodes[v / 64] |= 1ull << (v % 64);
	}
	return 0;
}

/* query-memdev's return value; free(*@out) even when this fails. */
int vn_decode_memdevs(struct json_object *list, struct vn_memdev **out,
		      size_t *nr, struct vn_err *err)
{
	size_t i, n;

	*out = NULL;
	*nr = 0;
	if (!json_object_is_type(list, json_type_array))
		return vn_err_set(err, VN_ERR_IO, "query-memdev did not return "
				  "an array"), -1;
	n = json_object_array_length(list);
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	for (i = 0; i < n; i++) {
		if (decode_memdev(json_object_array_get_idx(list, i),
				  &(*out)[i], err))
			return vn_err_prefix(err, "query-memdev: [%zu]: ", i),
			       -1;
		(*nr)++;
	}
	return 0;
}

/* --- the plan --- */

static bool set_empty(const uint64_t *set)
{
	size_t i;

	for (i = 0; i < VN_HOST_WORDS; i++)
		if (set[i])
			return false;
	return true;
}

const char *vn_host_set_str(const uint64_t *set, char *buf, size_t len)
{
	size_t used = 0;
	int i, start = -1;

	buf[0] = '\0';
	for (i = 0; i <= VN_HOST_NODE_LIMIT && used < len; i++) {
		bool in = i < VN_HOST_NODE_LIMIT &&
			  (set[i / 64] >> (i % 64) & 1);

		if (in && start < 0)
			start = i;
		if (in || start < 0)
			continue;
		if (start == i - 1)
			used += snprintf(buf + used, len - used, "%s%d",
					 used ? "," : "", start);
		else
			used += snprintf(buf + used, len - used, "%s%d-%d",
					 used ? "," : "", start, i - 1);
		start = -1;
	}
	if (!buf[0])
		snprintf(buf, len, "-");
	return buf;
}

static struct vn_plan_node *plan_node(struct vn_plan *p, uint32_t node,
				      struct vn_err *err)
{
	size_t i;

	for (i = 0; i < p->nr_nodes; i++)
		if (p->nodes[i].node == node)
			return &p->nodes[i];
	if (p->nr_nodes == VN_PLAN_NODES) {
		vn_err_set(err, VN_ERR_IO, "more than %d nodes",
			   VN_PLAN_NODES);
		return NULL;
	}
	p->nodes[p->nr_nodes].node = node;
	return &p->nodes[p->nr_nodes++];
}

const struct vn_memdev *vn_find_memdev(const struct vn_memdev *md,
				       size_t nr, const char *id)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (!strcmp(md[i].id, id))
			return &md[i];
	return NULL;
}

/* Each node's home, from the backend of its (first) range. */
static int plan_homes(const struct vn_info *info, const struct vn_memdev *md,
		      size_t nr_md, struct vn_plan *p, struct vn_err *err)
{
	const struct vn_memdev *m;
	struct vn_plan_node *pn;
	bool seen[VN_PLAN_NODES] = { false };
	size_t i;

	for (i = 0; i < info->nr_ram; i++) {
		const struct vn_ram *r = &info->ram[i];

		if (!r->has_node)
			continue;
		pn = plan_node(p, r->node, err);
		if (!pn)
			return -1;
		if (seen[pn - p->nodes])
			continue;
		seen[pn - p->nodes] = true;
		m = vn_find_memdev(md, nr_md, r->memdev);
		if (!m)
			return vn_err_set(err, VN_ERR_IO, "node %" PRIu32 "'s "
					  "memory backend '%s' is not in "
					  "query-memdev", r->node, r->memdev),
			       -1;
		pn->bound = (m->policy == VN_POL_BIND ||
			     m->policy == VN_POL_PREFERRED) &&
			    !set_empty(m->host_nodes);
		if (pn->bound)
			memcpy(pn->home, m->host_nodes, sizeof(pn->home));
	}
	return 0;
}

/* The node range @r belongs to under the binding rule. */
static uint32_t plan_target(const struct vn_plan *p, const struct vn_ram *r)
{
	const struct vn_plan_node *own = NULL;
	uint32_t best = r->node;
	size_t i;

	for (i = 0; i < p->nr_nodes; i++)
		if (p->nodes[i].node == r->node)
			own = &p->nodes[i];
	if (!own || !own->bound)
		return r->node;
	for (i = 0; i < p->nr_nodes; i++)
		if (p->nodes[i].bound && p->nodes[i].node < best &&
		    !memcmp(p->nodes[i].home, own->home, sizeof(own->home)))
			best = p->nodes[i].node;
	return best;
}

/* Add [start, end) for @node, merged with the range before if adjacent. */
static int plan_add(struct vn_plan *p, uint64_t start, uint64_t end,
		    uint32_t node, struct vn_err *err)
{
	struct vn_range *last = p->nr ? &p->ranges[p->nr - 1] : NULL;

	if (last && last->node == node && last->addr + last->size == start) {
		last->size += end - start;
		return 0;
	}
	if (p->nr == VN_MAX_RANGES)
		return vn_err_set(err, VN_ERR_IO, "the layout needs more than "
				  "%d ranges", VN_MAX_RANGES), -1;
	p->ranges[p->nr++] = (struct vn_range){ start, end - start, node };
	return 0;
}

/*
 * The block at 0 (real-mode memory, the BIOS area) and the last block
 * of RAM below 4 GiB (firmware tables) hold memory the guest reserved:
 * its relayout takes only blocks that are all usable RAM, so these stay
 * with their node.  The host cannot see the guest's memory map; x86
 * firmware puts its reservations there.
 */
void vn_firmware_blocks(const struct vn_info *info, uint64_t *lo,
			uint64_t *hi)
{
	uint64_t bs = vn_relayout_unit(info), top = 0;
	size_t i;

	for (i = 0; i < info->nr_ram; i++) {
		uint64_t end = info->ram[i].addr + info->ram[i].size;

		if (end <= (4ull << 30) && end > top)
			top = end;
	}
	*lo = 0;
	*hi = top >= bs ? (top - 1) / bs * bs : 0;
}

/*
 * The layout the binding in @md gives the guest of @info, and whether
 * the guest's last report already shows it.  Every movable block of a
 * node's RAM is in @plan->ranges, also those that stay: sending them
 * all makes the guest's layout the plan whatever it was before.
 */
int vn_plan_binding(const struct vn_info *info, const struct vn_memdev *md,
		    size_t nr_md, struct vn_plan *p, struct vn_err *err)
{
	uint64_t bs = vn_relayout_unit(info), start, end, a, fw_lo, fw_hi;
	struct vn_plan_node *pn;
	size_t i;

	memset(p, 0, sizeof(*p));
	if (!bs)
		return vn_err_set(err, VN_ERR_IO, "the device gave no block "
				  "size"), -1;
	if (!info->nr_ram)
		return vn_err_set(err, VN_ERR_IO, "the device does not give "
				  "the guest's RAM map "
				  "(query-virtio-numa-ram)"), -1;
	if (plan_homes(info, md, nr_md, p, err))
		return -1;
	for (i = 0; i < info->nr_nodes; i++) {
		const struct vn_node *n = &info->nodes[i];

		if (!n->present_pages)
			continue;
		pn = plan_node(p, n->node, err);
		if (!pn)
			return -1;
		pn->has = vn_pages_bytes(info, n->present_pages);
	}
	vn_firmware_blocks(info, &fw_lo, &fw_hi);
	for (i = 0; i < info->nr_ram; i++) {
		const struct vn_ram *r = &info->ram[i];
		uint64_t moved = 0;
		uint32_t target;

		if (!r->has_node)
			continue;
		target = plan_target(p, r);
		start = (r->addr + bs - 1) / bs * bs;
		end = (r->addr + r->size) / bs * bs;
		for (a = start; a < end; a += bs) {
			if (a == fw_lo || a == fw_hi)
				continue;
			if (plan_add(p, a, a + bs, target, err))
				return -1;
			moved += bs;
		}
		/* What does not move stays with the range's own node. */
		plan_node(p, target, err)->want += moved;
		plan_node(p, r->node, err)->want += r->size - moved;
		p->skipped += r->size - moved;
	}
	/* Reserved pages and holes make up less than half a block. */
	p->in_place = info->has_page_size;
	for (i = 0; i < p->nr_nodes; i++) {
		pn = &p->nodes[i];
		if ((pn->has > pn->want ? pn->has - pn->want :
		     pn->want - pn->has) >= bs / 2)
			p->in_place = false;
	}
	return 0;
}

void vn_plan_print(FILE *f, const char *domain, const struct vn_plan *p)
{
	char has[VN_SIZE_BUF], want[VN_SIZE_BUF], size[VN_SIZE_BUF];
	char home[64];
	size_t i;

	fprintf(f, "%s: %s\n", domain, p->in_place ?
		"the layout matches the binding" :
		"the layout does not match the binding");
	fprintf(f, "  %-5s %-11s %10s %10s\n", "node", "host nodes", "has",
		"wants");
	for (i = 0; i < p->nr_nodes; i++) {
		const struct vn_plan_node *pn = &p->nodes[i];

		fprintf(f, "  %-5" PRIu32 " %-11s %10s %10s\n", pn->node,
			pn->bound ? vn_host_set_str(pn->home, home,
						    sizeof(home)) : "unbound",
			format_size(pn->has, has, sizeof(has)),
			format_size(pn->want, want, sizeof(want)));
	}
	if (p->in_place)
		return;
	for (i = 0; i < p->nr; i++)
		fprintf(f, "  relayout 0x%" PRIx64 ":%s:%" PRIu32 "\n",
			p->ranges[i].addr,
			format_size(p->ranges[i].size, size, sizeof(size)),
			p->ranges[i].node);
}

struct json_object *vn_plan_to_json(const char *domain,
				    const struct vn_plan *p)
{
	struct json_object *o = json_object_new_object();
	struct json_object *nodes = json_object_new_array();
	char home[64];
	size_t i;

	json_object_object_add(o, "domain", json_object_new_string(domain));
	json_object_object_add(o, "in-place",
			       json_object_new_boolean(p->in_place));
	for (i = 0; i < p->nr_nodes; i++) {
		const struct vn_plan_node *pn = &p->nodes[i];
		struct json_object *n = json_object_new_object();

		json_object_object_add(n, "node",
				       json_object_new_int64(pn->node));
		json_object_object_add(n, "host-nodes", pn->bound ?
			json_object_new_string(vn_host_set_str(pn->home, home,
							       sizeof(home))) :
			NULL);
		json_object_object_add(n, "has",
				       json_object_new_uint64(pn->has));
		json_object_object_add(n, "wants",
				       json_object_new_uint64(pn->want));
		json_object_array_add(nodes, n);
	}
	json_object_object_add(o, "nodes", nodes);
	json_object_object_add(o, "ranges", vn_ranges_json(p->ranges, p->nr));
	return o;
}

/* [{"addr": ..., "size": ..., "node": ...}, ...] */
struct json_object *vn_ranges_json(const struct vn_range *r, size_t nr)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < nr; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "addr",
				       json_object_new_uint64(r[i].addr));
		json_object_object_add(o, "size",
				       json_object_new_uint64(r[i].size));
		json_object_object_add(o, "node",
				       json_object_new_int64(r[i].node));
		json_object_array_add(a, o);
	}
	return a;
}

/* --- the host --- */

/* One sysfs nodeN/meminfo: "Node 0 MemTotal:  9661036 kB" lines. */
int vn_parse_node_meminfo(const char *text, uint32_t node,
			  struct vn_host_node *hn, struct vn_err *err)
{
	bool total = false, free_ = false;
	const char *line;
	unsigned long long kb;
	unsigned int n;
	char key[32];

	memset(hn, 0, sizeof(*hn));
	hn->node = node;
	for (line = text; line && *line; line = strchr(line, '\n'),
	     line = line ? line + 1 : NULL) {
		if (sscanf(line, "Node %u %31[^:]: %llu kB", &n, key,
			   &kb) != 3 || n != node)
			continue;
		if (kb > UINT64_MAX / 1024)
			return vn_err_set(err, VN_ERR_IO, "node %" PRIu32 ": "
					  "%s is too large", node, key), -1;
		if (!strcmp(key, "MemTotal")) {
			hn->total = kb * 1024;
			total = true;
		} else if (!strcmp(key, "MemFree")) {
			hn->free = kb * 1024;
			free_ = true;
		}
	}
	if (!total || !free_)
		return vn_err_set(err, VN_ERR_IO, "node %" PRIu32 ": no %s "
				  "line", node, total ? "MemFree" : "MemTotal"),
		       -1;
	return 0;
}

static int host_node_cmp(const void *a, const void *b)
{
	const struct vn_host_node *x = a, *y = b;

	return x->node < y->node ? -1 : x->node > y->node;
}

static int read_small_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

/* The nodeN entries of @dir (/sys/devices/system/node), by node id. */
int vn_read_host_nodes(const char *dir, struct vn_host_node *hn, size_t cap,
		       size_t *nr, struct vn_err *err)
{
	struct dirent *de;
	char path[4096], text[8192], *end;
	unsigned long node;
	DIR *d = opendir(dir);
	int r = 0;

	*nr = 0;
	if (!d)
		return vn_err_set(err, VN_ERR_IO, "cannot read %s: %s", dir,
				  strerror(errno)), -1;
	while (!r && (de = readdir(d))) {
		if (strncmp(de->d_name, "node", 4) || !de->d_name[4])
			continue;
		errno = 0;
		node = strtoul(de->d_name + 4, &end, 10);
		if (*end || errno || node >= VN_HOST_NODE_LIMIT)
			continue;
		snprintf(path, sizeof(path), "%s/%s/meminfo", dir, de->d_name);
		if (read_small_file(path, text, sizeof(text))) {
			r = vn_err_set(err, VN_ERR_IO, "cannot read %s: %s",
				       path, strerror(errno));
			break;
		}
		if (*nr == cap) {
			r = vn_err_set(err, VN_ERR_IO, "more than %zu host "
				       "nodes in %s", cap, dir);
			break;
		}
		r = vn_parse_node_meminfo(text, node, &hn[*nr], err);
		if (!r)
			(*nr)++;
	}
	closedir(d);
	if (r)
		return -1;
	qsort(hn, *nr, sizeof(*hn), host_node_cmp);
	return 0;
}
