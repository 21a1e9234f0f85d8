// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-numa QMP arguments and replies.  Decoders check every member
 * they use, so a reply that does not match the schema is an error that
 * names the member, never a crash or a made-up value.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "qmpproto.h"
#include "vnproto.h"

static struct json_object *new_u64(uint64_t v)
{
	return json_object_new_uint64(v);
}

static void add_str(struct json_object *obj, const char *key, const char *s)
{
	json_object_object_add(obj, key, json_object_new_string(s));
}

/* {"id": ID}: virtio-numa-report. */
struct json_object *vn_args_id(const char *id)
{
	struct json_object *args = json_object_new_object();

	add_str(args, "id", id);
	return args;
}

static struct json_object *u32_array(const uint32_t *v, size_t nr)
{
	struct json_object *a = json_object_new_array_ext(nr);
	size_t i;

	for (i = 0; i < nr; i++)
		json_object_array_add(a, new_u64(v[i]));
	return a;
}

struct json_object *vn_args_node_add(const char *id, uint32_t node,
				     const char *memdev,
				     const uint32_t *cpus, size_t nr_cpus,
				     const struct vn_distance *dist,
				     size_t nr_dist)
{
	struct json_object *args = vn_args_id(id), *a;
	size_t i;

	json_object_object_add(args, "node", new_u64(node));
	add_str(args, "memdev", memdev);
	if (nr_cpus)
		json_object_object_add(args, "cpus", u32_array(cpus, nr_cpus));
	if (nr_dist) {
		a = json_object_new_array_ext(nr_dist);
		for (i = 0; i < nr_dist; i++) {
			struct json_object *d = json_object_new_object();

			json_object_object_add(d, "node",
					       new_u64(dist[i].node));
			json_object_object_add(d, "distance",
					       new_u64(dist[i].distance));
			json_object_array_add(a, d);
		}
		json_object_object_add(args, "distances", a);
	}
	return args;
}

struct json_object *vn_args_node_remove(const char *id, uint32_t node)
{
	struct json_object *args = vn_args_id(id);

	json_object_object_add(args, "node", new_u64(node));
	return args;
}

/* With @host_node, QEMU moves the ranges' host memory there first. */
struct json_object *vn_args_relayout(const char *id,
				     const struct vn_range *ranges, size_t nr,
				     bool migrate, const uint32_t *host_node)
{
	struct json_object *args = vn_args_id(id);
	struct json_object *a = json_object_new_array_ext(nr);
	size_t i;

	for (i = 0; i < nr; i++) {
		struct json_object *r = json_object_new_object();

		json_object_object_add(r, "addr", new_u64(ranges[i].addr));
		json_object_object_add(r, "size", new_u64(ranges[i].size));
		json_object_object_add(r, "node", new_u64(ranges[i].node));
		if (host_node)
			json_object_object_add(r, "host-nodes",
					       u32_array(host_node, 1));
		json_object_array_add(a, r);
	}
	json_object_object_add(args, "ranges", a);
	if (migrate)
		json_object_object_add(args, "migrate",
				       json_object_new_boolean(1));
	return args;
}

/* object-add of a RAM backend, bound to @host_nodes if there are any. */
struct json_object *vn_args_backend_add(const char *name, uint64_t size,
					const uint32_t *host_nodes,
					size_t nr)
{
	struct json_object *args = json_object_new_object();

	add_str(args, "qom-type", "memory-backend-ram");
	add_str(args, "id", name);
	json_object_object_add(args, "size", new_u64(size));
	if (nr) {
		json_object_object_add(args, "host-nodes",
				       u32_array(host_nodes, nr));
		add_str(args, "policy", "bind");
	}
	return args;
}

struct json_object *vn_args_object_del(const char *name)
{
	return vn_args_id(name);
}

struct json_object *vn_args_qom_list(const char *path)
{
	struct json_object *args = json_object_new_object();

	add_str(args, "path", path);
	return args;
}

/* VirtioNumaCommandId */
int vn_decode_command_id(struct json_object *ret, uint64_t *id,
			 struct vn_err *err)
{
	return jx_u64(ret, "command-id", UINT64_MAX, id, err);
}

static int decode_id_array(struct json_object *ret, const char *key,
			   size_t nr, uint64_t *ids, struct vn_err *err)
{
	struct json_object *a;
	size_t i;

	if (!nr)
		return 0;
	if (jx_array(ret, key, &a, err))
		return -1;
	if (json_object_array_length(a) != nr)
		return vn_err_set(err, VN_ERR_IO, "'%s' has %zu ids, not %zu",
				  key, json_object_array_length(a), nr), -1;
	for (i = 0; i < nr; i++)
		if (jx_value_u64(json_object_array_get_idx(a, i), key,
				 UINT64_MAX, &ids[i], err))
			return -1;
	return 0;
}

/*
 * VirtioNumaNodeAddResult into @ids: the NODE_ADD id, then one per CPU,
 * then two per distance, as QEMU queued them.
 */
int vn_decode_node_add_ids(struct json_object *ret, size_t nr_cpus,
			   size_t nr_dist, uint64_t *ids, struct vn_err *err)
{
	if (vn_decode_command_id(ret, &ids[0], err) ||
	    decode_id_array(ret, "cpu-command-ids", nr_cpus, ids + 1, err) ||
	    decode_id_array(ret, "distance-command-ids", 2 * nr_dist,
			    ids + 1 + nr_cpus, err))
		return -1;
	return 0;
}

static int decode_node(struct json_object *o, struct vn_node *n,
		       struct vn_err *err)
{
	bool has;

	if (jx_u32(o, "node", &n->node, err) ||
	    jx_u32(o, "guest-node", &n->guest_node, err) ||
	    jx_bool(o, "possible", &n->possible, err) ||
	    jx_bool(o, "online", &n->online, err) ||
	    jx_bool(o, "with-memory", &n->with_memory, err) ||
	    jx_bool(o, "with-cpus", &n->with_cpus, err) ||
	    jx_bool(o, "added", &n->added, err) ||
	    jx_u64(o, "present-pages", UINT64_MAX, &n->present_pages, err) ||
	    jx_u64(o, "managed-pages", UINT64_MAX, &n->managed_pages, err) ||
	    jx_u64(o, "free-pages", UINT64_MAX, &n->free_pages, err) ||
	    jx_u64(o, "pending-pages", UINT64_MAX, &n->pending_pages, err) ||
	    jx_u64(o, "transplanted-pages", UINT64_MAX,
		   &n->transplanted_pages, err) ||
	    /* Not in reports of devices older than the three. */
	    jx_opt_u64(o, "pending-slab-pages", n->pending_pages, &has,
		       &n->pending_slab_pages, err) ||
	    jx_opt_u64(o, "pending-pagetable-pages", n->pending_pages, &has,
		       &n->pending_pagetable_pages, err) ||
	    jx_opt_u64(o, "pending-other-pages", n->pending_pages, &has,
		       &n->pending_other_pages, err) ||
	    jx_u64(o, "cpus", UINT64_MAX, &n->cpus, err))
		return -1;
	return 0;
}

static void copy_str(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static int decode_cmd(struct json_object *o, struct vn_cmd_info *c,
		      struct vn_err *err)
{
	const char *type, *state, *status, *field;
	uint64_t detail;

	if (jx_u64(o, "command-id", UINT64_MAX, &c->command_id, err) ||
	    jx_str(o, "type", &type, err) ||
	    jx_str(o, "state", &state, err) ||
	    jx_opt_str(o, "status", &status, err) ||
	    jx_opt_str(o, "field", &field, err) ||
	    jx_opt_u64(o, "detail", UINT32_MAX, &c->has_detail, &detail,
		       err))
		return -1;
	copy_str(c->type, sizeof(c->type), type);
	copy_str(c->state, sizeof(c->state), state);
	copy_str(c->field, sizeof(c->field), field);
	c->has_status = status;
	c->status = vn_status_parse(status);
	c->detail = detail;
	return 0;
}

static int decode_nodes(struct json_object *a, struct vn_info *info,
			struct vn_err *err)
{
	size_t i, j, nr = json_object_array_length(a);

	info->nodes = calloc(nr ? nr : 1, sizeof(*info->nodes));
	if (!info->nodes)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	for (i = 0; i < nr; i++) {
		struct vn_node *n = &info->nodes[i];

		if (decode_node(json_object_array_get_idx(a, i), n, err))
			return vn_err_prefix(err, "nodes[%zu]: ", i), -1;
		if (n->node >= info->max_nodes)
			return vn_err_set(err, VN_ERR_IO, "nodes[%zu]: node %"
					  PRIu32 " is not below max-nodes %"
					  PRIu32, i, n->node,
					  info->max_nodes), -1;
		for (j = 0; j < i; j++)
			if (info->nodes[j].node == n->node)
				return vn_err_set(err, VN_ERR_IO, "nodes[%zu]: "
						  "node %" PRIu32 " listed "
						  "twice", i, n->node), -1;
		info->nr_nodes++;
	}
	return 0;
}

static int decode_cmds(struct json_object *a, struct vn_info *info,
		       struct vn_err *err)
{
	size_t i, nr = json_object_array_length(a);

	info->commands = calloc(nr ? nr : 1, sizeof(*info->commands));
	if (!info->commands)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	for (i = 0; i < nr; i++) {
		if (decode_cmd(json_object_array_get_idx(a, i),
			       &info->commands[i], err))
			return vn_err_prefix(err, "commands[%zu]: ", i), -1;
		info->nr_commands++;
	}
	return 0;
}

static int decode_ram_range(struct json_object *o, struct vn_ram *r,
			    struct vn_err *err)
{
	const char *memdev;
	uint64_t node;

	if (jx_u64(o, "addr", UINT64_MAX, &r->addr, err) ||
	    jx_u64(o, "size", UINT64_MAX, &r->size, err) ||
	    jx_str(o, "memdev", &memdev, err) ||
	    jx_opt_u64(o, "node", UINT32_MAX, &r->has_node, &node, err))
		return -1;
	if (!r->size || r->addr + r->size < r->addr)
		return vn_err_set(err, VN_ERR_IO, "empty or wrapping range 0x%"
				  PRIx64 "+0x%" PRIx64, r->addr, r->size), -1;
	if (strlen(memdev) >= sizeof(r->memdev))
		return vn_err_set(err, VN_ERR_IO, "memdev id '%.80s' is too "
				  "long", memdev), -1;
	copy_str(r->memdev, sizeof(r->memdev), memdev);
	r->node = node;
	return 0;
}

/*
 * The query-virtio-numa-ram return value into @info: ascending and not
 * overlapping, or QEMU is broken.
 */
int vn_decode_ram(struct json_object *a, struct vn_info *info,
		  struct vn_err *err)
{
	size_t i, nr;

	free(info->ram);
	info->ram = NULL;
	info->nr_ram = 0;
	if (!json_object_is_type(a, json_type_array))
		return vn_err_set(err, VN_ERR_IO, "query-virtio-numa-ram did "
				  "not return an array"), -1;
	nr = json_object_array_length(a);
	info->ram = calloc(nr ? nr : 1, sizeof(*info->ram));
	if (!info->ram)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	for (i = 0; i < nr; i++) {
		struct vn_ram *r = &info->ram[i];

		if (decode_ram_range(json_object_array_get_idx(a, i), r, err))
			return vn_err_prefix(err, "ram[%zu]: ", i), -1;
		if (i && r->addr < r[-1].addr + r[-1].size)
			return vn_err_set(err, VN_ERR_IO, "ram[%zu]: 0x%" PRIx64
					  " overlaps or precedes the range "
					  "before it", i, r->addr), -1;
		info->nr_ram++;
	}
	return 0;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* An optional member that must be a power of 2 when present. */
static int check_opt_pow2(const char *key, bool has, uint64_t v,
			  struct vn_err *err)
{
	if (has && !is_pow2(v))
		return vn_err_set(err, VN_ERR_IO, "'%s' %" PRIu64 " is not a "
				  "power of 2", key, v), -1;
	return 0;
}

static int decode_info_scalars(struct json_object *o, struct vn_info *info,
			       struct vn_err *err)
{
	const char *id, *path;

	if (jx_str(o, "id", &id, err) ||
	    jx_str(o, "qom-path", &path, err) ||
	    jx_u64(o, "block-size", UINT64_MAX, &info->block_size, err) ||
	    jx_u32(o, "max-nodes", &info->max_nodes, err) ||
	    jx_bool(o, "driver-ready", &info->driver_ready, err) ||
	    jx_u32(o, "report-interval", &info->report_interval, err) ||
	    jx_u64(o, "reports", UINT64_MAX, &info->reports, err) ||
	    jx_u64(o, "bogus-events", UINT64_MAX, &info->bogus_events, err) ||
	    jx_opt_u64(o, "guest-nr-node-ids", UINT32_MAX,
		       &info->has_guest_nr_node_ids, &info->guest_nr_node_ids,
		       err) ||
	    jx_opt_u64(o, "page-size", UINT64_MAX, &info->has_page_size,
		       &info->page_size, err) ||
	    jx_opt_u64(o, "report-seq", UINT64_MAX, &info->has_report_seq,
		       &info->report_seq, err) ||
	    jx_opt_u64(o, "guest-relayout-unit", UINT64_MAX,
		       &info->has_guest_relayout_unit,
		       &info->guest_relayout_unit, err) ||
	    jx_opt_u64(o, "guest-add-unit", UINT64_MAX,
		       &info->has_guest_add_unit, &info->guest_add_unit, err))
		return -1;
	info->id = strdup(id);
	info->qom_path = strdup(path);
	if (!info->id || !info->qom_path)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	if (!info->block_size)
		return vn_err_set(err, VN_ERR_IO, "'block-size' is 0"), -1;
	if (check_opt_pow2("page-size", info->has_page_size,
			   info->page_size, err) ||
	    check_opt_pow2("guest-relayout-unit",
			   info->has_guest_relayout_unit,
			   info->guest_relayout_unit, err) ||
	    check_opt_pow2("guest-add-unit", info->has_guest_add_unit,
			   info->guest_add_unit, err))
		return -1;
	return 0;
}

/* One VirtioNumaInfo; vn_info_free() it even when this fails. */
int vn_decode_info(struct json_object *o, struct vn_info *info,
		   struct vn_err *err)
{
	struct json_object *nodes, *cmds;

	memset(info, 0, sizeof(*info));
	if (decode_info_scalars(o, info, err) ||
	    jx_array(o, "nodes", &nodes, err) ||
	    jx_array(o, "commands", &cmds, err) ||
	    decode_nodes(nodes, info, err) ||
	    decode_cmds(cmds, info, err))
		return -1;
	if (info->nr_nodes && !info->has_page_size)
		return vn_err_set(err, VN_ERR_IO, "'page-size' is missing but "
				  "there are nodes"), -1;
	return 0;
}

void vn_info_free(struct vn_info *info)
{
	free(info->id);
	free(info->qom_path);
	free(info->nodes);
	free(info->commands);
	free(info->ram);
	memset(info, 0, sizeof(*info));
}

/* The ids of the devices in @list, "a, b", into @buf. */
static void list_ids(struct json_object *list, char *buf, size_t len)
{
	size_t i, n = json_object_array_length(list), used = 0;
	struct json_object *o, *v;

	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++) {
		o = json_object_array_get_idx(list, i);
		if (!json_object_object_get_ex(o, "id", &v) ||
		    !json_object_is_type(v, json_type_string))
			continue;
		used += snprintf(buf + used, len - used, "%s%s",
				 used ? ", " : "", json_object_get_string(v));
	}
}

/* The entry for device @id in a query-virtio-numa return value. */
int vn_decode_query(struct json_object *list, const char *id,
		    struct vn_info *info, struct vn_err *err)
{
	size_t i, n;
	char ids[256];

	memset(info, 0, sizeof(*info));
	if (!json_object_is_type(list, json_type_array))
		return vn_err_set(err, VN_ERR_IO, "query-virtio-numa did not "
				  "return an array"), -1;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(list, i);
		const char *oid;

		if (jx_str(o, "id", &oid, err))
			return vn_err_prefix(err, "query-virtio-numa: [%zu]: ",
					     i), -1;
		if (strcmp(oid, id))
			continue;
		if (vn_decode_info(o, info, err))
			return vn_err_prefix(err, "query-virtio-numa: "), -1;
		return 0;
	}
	list_ids(list, ids, sizeof(ids));
	return vn_err_set(err, VN_ERR_USAGE, "the VM has no virtio-numa "
			  "device '%s' (it has %s)", id,
			  n ? ids : "none"), -1;
}

/* VIRTIO_NUMA_COMPLETION */
int vn_decode_completion(struct json_object *ev, struct vn_completion *c,
			 struct vn_err *err)
{
	struct json_object *data = qmp_event_data(ev);

	memset(c, 0, sizeof(*c));
	if (!data)
		return vn_err_set(err, VN_ERR_IO, VN_EV_COMPLETION " event "
				  "without data"), -1;
	if (jx_str(data, "id", &c->id, err) ||
	    jx_u64(data, "command-id", UINT64_MAX, &c->command_id, err) ||
	    jx_str(data, "type", &c->type, err) ||
	    jx_str(data, "status", &c->status_name, err) ||
	    jx_str(data, "field", &c->field, err) ||
	    jx_u32(data, "detail", &c->detail, err))
		return vn_err_prefix(err, VN_EV_COMPLETION ": "), -1;
	c->status = vn_status_parse(c->status_name);
	return 0;
}

/* VIRTIO_NUMA_REPORT */
int vn_decode_report_event(struct json_object *ev, const char **id,
			   uint64_t *seq, struct vn_err *err)
{
	struct json_object *data = qmp_event_data(ev);

	if (!data)
		return vn_err_set(err, VN_ERR_IO, VN_EV_REPORT " event "
				  "without data"), -1;
	if (jx_str(data, "id", id, err) ||
	    jx_u64(data, "report-seq", UINT64_MAX, seq, err))
		return vn_err_prefix(err, VN_EV_REPORT ": "), -1;
	return 0;
}

/* Does the qom-list return value @ret have a child @name? */
int vn_decode_qom_has(struct json_object *ret, const char *name,
		      bool *found, struct vn_err *err)
{
	size_t i, n;
	const char *child;

	*found = false;
	if (!json_object_is_type(ret, json_type_array))
		return vn_err_set(err, VN_ERR_IO, "qom-list did not return "
				  "an array"), -1;
	n = json_object_array_length(ret);
	for (i = 0; i < n; i++) {
		if (jx_str(json_object_array_get_idx(ret, i), "name", &child,
			   err))
			return vn_err_prefix(err, "qom-list: [%zu]: ", i), -1;
		if (!strcmp(child, name)) {
			*found = true;
			break;
		}
	}
	return 0;
}

const struct vn_node *vn_info_node(const struct vn_info *info,
				   uint32_t node)
{
	size_t i;

	for (i = 0; i < info->nr_nodes; i++)
		if (info->nodes[i].node == node)
			return &info->nodes[i];
	return NULL;
}

/* @pages in bytes, saturating; 0 before the guest gave a page size. */
uint64_t vn_pages_bytes(const struct vn_info *info, uint64_t pages)
{
	if (!info->has_page_size || !info->page_size)
		return 0;
	if (pages > UINT64_MAX / info->page_size)
		return UINT64_MAX;
	return pages * info->page_size;
}

/* Pages still pending on all nodes. */
uint64_t vn_info_pending(const struct vn_info *info)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < info->nr_nodes; i++) {
		if (sum > UINT64_MAX - info->nodes[i].pending_pages)
			return UINT64_MAX;
		sum += info->nodes[i].pending_pages;
	}
	return sum;
}

static struct json_object *node_to_json(const struct vn_node *n)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "node", new_u64(n->node));
	json_object_object_add(o, "guest-node", new_u64(n->guest_node));
	json_object_object_add(o, "possible",
			       json_object_new_boolean(n->possible));
	json_object_object_add(o, "online",
			       json_object_new_boolean(n->online));
	json_object_object_add(o, "with-memory",
			       json_object_new_boolean(n->with_memory));
	json_object_object_add(o, "with-cpus",
			       json_object_new_boolean(n->with_cpus));
	json_object_object_add(o, "added", json_object_new_boolean(n->added));
	json_object_object_add(o, "present-pages", new_u64(n->present_pages));
	json_object_object_add(o, "managed-pages", new_u64(n->managed_pages));
	json_object_object_add(o, "free-pages", new_u64(n->free_pages));
	json_object_object_add(o, "pending-pages", new_u64(n->pending_pages));
	json_object_object_add(o, "transplanted-pages",
			       new_u64(n->transplanted_pages));
	json_object_object_add(o, "pending-slab-pages",
			       new_u64(n->pending_slab_pages));
	json_object_object_add(o, "pending-pagetable-pages",
			       new_u64(n->pending_pagetable_pages));
	json_object_object_add(o, "pending-other-pages",
			       new_u64(n->pending_other_pages));
	json_object_object_add(o, "cpus", new_u64(n->cpus));
	return o;
}

/* What "nodes --json" prints: the device and its decoded nodes. */
struct json_object *vn_info_to_json(const struct vn_info *info,
				    const char *domain)
{
	struct json_object *o = json_object_new_object();
	struct json_object *a = json_object_new_array_ext(info->nr_nodes);
	size_t i;

	add_str(o, "domain", domain);
	add_str(o, "id", info->id ? info->id : "");
	json_object_object_add(o, "block-size", new_u64(info->block_size));
	json_object_object_add(o, "max-nodes", new_u64(info->max_nodes));
	json_object_object_add(o, "driver-ready",
			       json_object_new_boolean(info->driver_ready));
	if (info->has_page_size)
		json_object_object_add(o, "page-size",
				       new_u64(info->page_size));
	if (info->has_report_seq)
		json_object_object_add(o, "report-seq",
				       new_u64(info->report_seq));
	if (info->has_guest_relayout_unit)
		json_object_object_add(o, "guest-relayout-unit",
				       new_u64(info->guest_relayout_unit));
	if (info->has_guest_add_unit)
		json_object_object_add(o, "guest-add-unit",
				       new_u64(info->guest_add_unit));
	for (i = 0; i < info->nr_nodes; i++)
		json_object_array_add(a, node_to_json(&info->nodes[i]));
	json_object_object_add(o, "nodes", a);
	return o;
}
