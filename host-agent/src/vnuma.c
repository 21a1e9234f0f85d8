// SPDX-License-Identifier: GPL-2.0
/*
 * Operations on a virtio-numa device.  Each one queries the device
 * first (it must exist; its block size and max-nodes check the input),
 * then runs its QMP commands, waits for each command's completion and
 * ends with a fresh query for the caller to print.
 *
 * node-add creates the memory backend it hands to the device, named
 * vnuma-<domain>-node<N>; whenever the node does not come up, it
 * deletes it again.  node-remove deletes a backend of that name once
 * the guest let the node go.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "qmp.h"
#include "lvtyped.h"
#include "vnuma.h"

/* Context in front of an error: "vm1/vnuma0: node 2: ". */
static enum vn_result fail(struct vn_dev *d, long node, struct vn_err *err)
{
	if (node >= 0)
		return vn_err_prefix(err, "%s/%s: node %ld: ", d->domain,
				     d->id, node);
	return vn_err_prefix(err, "%s/%s: ", d->domain, d->id);
}

/* The backend node-add creates: "vnuma-<label>-node<N>", a QOM id. */
void vn_backend_name(char *buf, size_t len, const char *label,
		     uint32_t node)
{
	char safe[64];
	size_t i;

	for (i = 0; label[i] && i < sizeof(safe) - 1; i++)
		safe[i] = isalnum((unsigned char)label[i]) ||
			  strchr("-._", label[i]) ? label[i] : '_';
	safe[i] = '\0';
	snprintf(buf, len, "vnuma-%s-node%" PRIu32, safe, node);
}

static void errno_text(uint32_t detail, char *buf, size_t len)
{
	const char *name = detail < 4096 ? strerrorname_np(detail) : NULL;

	if (name)
		snprintf(buf, len, "%s, %s", name, strerror(detail));
	else
		snprintf(buf, len, "errno %" PRIu32, detail);
}

/* The outcome of a completion, and for any but "ok" why, in @err. */
enum vn_result vn_completion_result(const struct vn_completion *c,
				    struct vn_err *err)
{
	enum vn_result res = vn_status_result(c->status);
	char why[128];

	if (res == VN_OK)
		return VN_OK;
	vn_err_set(err, res, "the guest answered %s (command %" PRIu64
		   ") with '%s', %s", c->type, c->command_id, c->status_name,
		   vn_status_meaning(c->status));
	if (c->status == VN_S_INVALID && c->field && strcmp(c->field, "none"))
		vn_err_append(err, ": field '%s'", c->field);
	if (c->detail) {
		errno_text(c->detail, why, sizeof(why));
		vn_err_append(err, ": %s", why);
	}
	return res;
}

/*
 * Whole units (vn_relayout_unit()), in RAM's node range, 1 to 64 of
 * them, no overlap.
 */
int vn_check_ranges(const struct vn_info *info, const struct vn_range *r,
		    size_t nr, struct vn_err *err)
{
	const uint64_t unit = vn_relayout_unit(info);
	char bs[VN_SIZE_BUF];
	size_t i, j;

	if (!nr || nr > VN_MAX_RANGES)
		return vn_err_set(err, VN_ERR_USAGE, "a relayout takes 1 to "
				  "%d ranges, not %zu", VN_MAX_RANGES, nr), -1;
	format_size(unit, bs, sizeof(bs));
	for (i = 0; i < nr; i++) {
		if (r[i].addr % unit || r[i].size % unit)
			return vn_err_set(err, VN_ERR_USAGE, "range %zu (0x%"
					  PRIx64 ", 0x%" PRIx64 " bytes) is "
					  "not aligned to the %s size %s",
					  i + 1, r[i].addr, r[i].size,
					  unit == info->block_size ? "block" :
					  "guest's relayout unit", bs), -1;
		if (!r[i].size || r[i].addr + r[i].size < r[i].addr)
			return vn_err_set(err, VN_ERR_USAGE, "range %zu is "
					  "empty or wraps around", i + 1), -1;
		if (r[i].node >= info->max_nodes)
			return vn_err_set(err, VN_ERR_USAGE, "range %zu names "
					  "node %" PRIu32 ", not below the "
					  "device's max-nodes %" PRIu32, i + 1,
					  r[i].node, info->max_nodes), -1;
		for (j = 0; j < i; j++)
			if (r[i].addr < r[j].addr + r[j].size &&
			    r[j].addr < r[i].addr + r[i].size)
				return vn_err_set(err, VN_ERR_USAGE, "ranges "
						  "%zu and %zu overlap", j + 1,
						  i + 1), -1;
	}
	return 0;
}

static int query(struct vn_dev *d, struct vn_info *info, struct vn_err *err)
{
	struct json_object *ret;
	int r;

	vn_info_free(info);
	if (conn_execute(d->conn, "query-virtio-numa", NULL, &ret, err))
		return -1;
	r = vn_decode_query(ret, d->id, info, err);
	json_object_put(ret);
	if (r)
		vn_info_free(info);
	return r;
}

/* --- through libvirt's typed API: libvirt checks and waits --- */

static enum vn_result typed_done(struct vn_dev *d, long node,
				 enum vn_result res, struct vn_info *info,
				 struct vn_err *err)
{
	struct vn_err qerr;

	if (res == VN_OK && lvt_query(d->typed, info, &qerr) != VN_OK) {
		*err = qerr;
		res = err->res;
	}
	if (res != VN_OK) {
		vn_info_free(info);
		if (node >= 0)
			vn_err_prefix(err, "%s: node %ld: ", d->domain, node);
		else
			vn_err_prefix(err, "%s: ", d->domain);
	}
	return res;
}

/* Until no page is pending, polling libvirt's figures. */
static enum vn_result typed_settle(struct vn_dev *d, struct vn_err *err)
{
	long long deadline = vn_deadline(d->timeout_ms);
	struct timespec nap = { 0, 200 * 1000 * 1000 };
	struct vn_info info;

	for (;;) {
		if (lvt_query(d->typed, &info, err) != VN_OK)
			return err->res;
		if (d->progress)
			d->progress(&info, d->progress_arg);
		if (!vn_info_pending(&info)) {
			vn_info_free(&info);
			return VN_OK;
		}
		vn_info_free(&info);
		if (!vn_left_ms(deadline))
			return vn_err_set(err, VN_ERR_IO, "pages still "
					  "pending after the timeout"),
			       VN_ERR_IO;
		nanosleep(&nap, NULL);
	}
}

static enum vn_result typed_relayout(struct vn_dev *d,
				     const struct vn_relayout_req *req,
				     struct vn_info *info, struct vn_err *err)
{
	enum vn_result res = VN_OK;
	size_t i;

	if (req->has_host_node)
		return vn_err_set(err, VN_ERR_USAGE, "host nodes per range "
				  "are not for libvirt's relayout"),
		       typed_done(d, -1, VN_ERR_USAGE, info, err);
	/* libvirt relays out one range at a time and waits for each. */
	for (i = 0; i < req->nr && res == VN_OK; i++)
		res = lvt_relayout(d->typed, &req->ranges[i], req->migrate,
				   err);
	if (res == VN_OK && req->settle)
		res = typed_settle(d, err);
	return typed_done(d, -1, res, info, err);
}

enum vn_result vn_query(struct vn_dev *d, struct vn_info *info,
			struct vn_err *err)
{
	memset(info, 0, sizeof(*info));
	if (d->typed)
		return typed_done(d, -1, VN_OK, info, err);
	if (query(d, info, err))
		return fail(d, -1, err);
	return VN_OK;
}

/* What a wait is for: a completion, and maybe the device's reports. */
struct wait_ctx {
	const char *id;
	uint64_t cid;
	bool reports;
	struct vn_err bad;	/* the last malformed event passed over */
};

static bool match_wait(struct json_object *ev, void *arg)
{
	struct wait_ctx *w = arg;
	const char *name = qmp_event_name(ev), *id;
	struct vn_completion c;
	uint64_t seq;

	if (!strcmp(name, VN_EV_COMPLETION)) {
		if (vn_decode_completion(ev, &c, &w->bad))
			return false;
		return !strcmp(c.id, w->id) && c.command_id == w->cid;
	}
	if (w->reports && !strcmp(name, VN_EV_REPORT)) {
		if (vn_decode_report_event(ev, &id, &seq, &w->bad))
			return false;
		return !strcmp(id, w->id);
	}
	return false;
}

/* Query again and tell the progress callback. */
static int refresh(struct vn_dev *d, struct vn_info *info,
		   struct vn_err *err)
{
	if (query(d, info, err))
		return -1;
	if (d->progress)
		d->progress(info, d->progress_arg);
	return 0;
}

static int wait_timed_out(struct vn_dev *d, const char *what, uint64_t cid,
			  const struct vn_info *info, const struct wait_ctx *w,
			  struct vn_err *err)
{
	vn_err_set(err, VN_ERR_IO, "no answer from the guest to %s (command %"
		   PRIu64 ") within %g s", what, cid, d->timeout_ms / 1000.0);
	if (!info->driver_ready)
		vn_err_append(err, "; the guest driver is not running");
	if (w->bad.msg[0])
		vn_err_append(err, "; ignored a bad event: %s", w->bad.msg);
	return -1;
}

/*
 * Wait for the completion of command @cid (@what, in messages) and
 * decode it into @c, whose strings live in *@evp.  With @reports, the
 * device's REPORT events meanwhile refresh @info.
 */
static int wait_done(struct vn_dev *d, const char *what, uint64_t cid,
		     bool reports, struct vn_info *info,
		     struct json_object **evp, struct vn_completion *c,
		     struct vn_err *err)
{
	struct wait_ctx w = { .id = d->id, .cid = cid, .reports = reports };
	long long deadline = vn_deadline(d->timeout_ms);
	struct json_object *ev;
	int r;

	for (;;) {
		r = conn_wait_event(d->conn, NULL, match_wait, &w,
				    vn_left_ms(deadline), &ev, err);
		if (r < 0)
			return -1;
		if (!r)
			return wait_timed_out(d, what, cid, info, &w, err);
		if (strcmp(qmp_event_name(ev), VN_EV_REPORT))
			break;
		json_object_put(ev);
		if (refresh(d, info, err))
			return -1;
	}
	if (vn_decode_completion(ev, c, err)) {
		json_object_put(ev);
		return -1;
	}
	*evp = ev;
	return 0;
}

/* Wait for command @cid and return its outcome, why in @err. */
static enum vn_result wait_result(struct vn_dev *d, const char *what,
				  uint64_t cid, bool reports,
				  struct vn_info *info, struct vn_err *err)
{
	struct vn_completion c;
	struct json_object *ev;
	enum vn_result res;

	if (wait_done(d, what, cid, reports, info, &ev, &c, err))
		return err->res;
	res = vn_completion_result(&c, err);
	json_object_put(ev);
	return res;
}

/* Queue a command that returns a VirtioNumaCommandId. */
static int queue_cmd(struct vn_dev *d, const char *name,
		     struct json_object *args, uint64_t *cid,
		     struct vn_err *err)
{
	struct json_object *ret;
	int r;

	if (conn_execute(d->conn, name, args, &ret, err))
		return -1;
	r = vn_decode_command_id(ret, cid, err);
	json_object_put(ret);
	if (r)
		vn_err_prefix(err, "%s: ", name);
	return r;
}

/*
 * The query that ends an operation.  If the operation failed already,
 * its error stays and a failed query is only a warning.
 */
static enum vn_result finish(struct vn_dev *d, long node, enum vn_result res,
			     struct vn_info *info, struct vn_err *err)
{
	struct vn_err qerr;

	if (res != VN_OK && res != VN_ERR_PARTIAL) {
		vn_info_free(info);
		return fail(d, node, err);
	}
	if (query(d, info, &qerr)) {
		if (res == VN_OK) {
			*err = qerr;
			return fail(d, node, err);
		}
		vn_log(LOG_WARNING, "%s/%s: %s", d->domain, d->id, qerr.msg);
	}
	if (res != VN_OK)
		return fail(d, node, err);
	return VN_OK;
}

enum vn_result vn_report(struct vn_dev *d, struct vn_info *info,
			 struct vn_err *err)
{
	enum vn_result res;
	uint64_t cid;

	memset(info, 0, sizeof(*info));
	/* libvirt keeps the guest's last report: the guest sends one on
	 * every change. */
	if (d->typed)
		return typed_done(d, -1, VN_OK, info, err);
	if (query(d, info, err) ||
	    queue_cmd(d, "virtio-numa-report", vn_args_id(d->id), &cid, err))
		return finish(d, -1, err->res, info, err);
	res = wait_result(d, "report", cid, false, info, err);
	return finish(d, -1, res, info, err);
}

/* Delete the backend this operation made; if that fails, say so. */
static void drop_backend(struct vn_dev *d, uint32_t node, const char *name,
			 struct vn_err *err)
{
	struct json_object *ret;
	struct vn_err e;

	if (conn_execute(d->conn, "object-del", vn_args_object_del(name),
			 &ret, &e)) {
		vn_err_append(err, "; memory backend %s is left behind: %s",
			      name, e.msg);
		return;
	}
	json_object_put(ret);
	vn_log(LOG_INFO, "%s/%s: node %" PRIu32 ": deleted memory backend %s",
	       d->domain, d->id, node, name);
}

static int check_node_add(const struct vn_info *info,
			  const struct vn_node_add_req *req,
			  struct vn_err *err)
{
	const uint64_t unit = vn_add_unit(info);
	char sz[VN_SIZE_BUF], bs[VN_SIZE_BUF];

	if (req->node >= info->max_nodes)
		return vn_err_set(err, VN_ERR_USAGE, "not below the device's "
				  "max-nodes %" PRIu32, info->max_nodes), -1;
	if (!req->size || req->size % unit)
		return vn_err_set(err, VN_ERR_USAGE, "size %" PRIu64 " (%s) "
				  "is not a non-zero multiple of the %s size "
				  "%s", req->size,
				  format_size(req->size, sz, sizeof(sz)),
				  unit == info->block_size ? "block" :
				  "guest's memory block",
				  format_size(unit, bs, sizeof(bs))), -1;
	return 0;
}

/* "vCPU 3 did not move": what command @i of a node-add was for. */
static void add_step(const struct vn_node_add_req *req, size_t i,
		     char *buf, size_t len)
{
	size_t k;

	if (i <= req->nr_cpus) {
		snprintf(buf, len, "vCPU %" PRIu32 " did not move",
			 req->cpus[i - 1]);
		return;
	}
	k = (i - 1 - req->nr_cpus) / 2;
	snprintf(buf, len, "the distance %s node %" PRIu32 " was not set",
		 (i - 1 - req->nr_cpus) % 2 ? "from" : "to",
		 req->dist[k].node);
}

/* The CPU and distance commands after a NODE_ADD the guest took. */
static enum vn_result wait_add_steps(struct vn_dev *d,
				     const struct vn_node_add_req *req,
				     const uint64_t *ids, struct vn_info *info,
				     struct vn_err *err)
{
	size_t i, nr = 1 + req->nr_cpus + 2 * req->nr_dist;
	enum vn_result res = VN_OK, r;
	char step[96];
	struct vn_err e;

	for (i = 1; i < nr; i++) {
		add_step(req, i, step, sizeof(step));
		r = wait_result(d, i <= req->nr_cpus ? "cpu-assign" :
				"distance-set", ids[i], false, info, &e);
		if (r == VN_ERR_IO || r == VN_ERR_INTR) {
			*err = e;
			return vn_err_prefix(err, "the node is up, but: ");
		}
		if (r != VN_OK && res == VN_OK)
			res = vn_err_set(err, VN_ERR_PARTIAL, "the node is up, "
					 "but %s: %s", step, e.msg);
	}
	return res;
}

static enum vn_result add_and_wait(struct vn_dev *d,
				   const struct vn_node_add_req *req,
				   const char *name, uint64_t *ids,
				   struct vn_info *info, struct vn_err *err)
{
	struct json_object *ret;
	enum vn_result res;
	int r;

	if (conn_execute(d->conn, "virtio-numa-node-add",
			 vn_args_node_add(d->id, req->node, name, req->cpus,
					  req->nr_cpus, req->dist,
					  req->nr_dist), &ret, err)) {
		drop_backend(d, req->node, name, err);
		return err->res;
	}
	r = vn_decode_node_add_ids(ret, req->nr_cpus, req->nr_dist, ids, err);
	json_object_put(ret);
	if (r) {
		vn_err_prefix(err, "virtio-numa-node-add: ");
		return vn_err_append(err, "; memory backend %s may stay "
				     "mapped", name);
	}
	res = wait_result(d, "node-add", ids[0], false, info, err);
	if (res == VN_ERR_IO || res == VN_ERR_INTR)
		return vn_err_append(err, "; memory backend %s stays mapped "
				     "until the guest answers", name);
	if (res != VN_OK) {
		/* QEMU unmapped the backend when the guest did not take it. */
		drop_backend(d, req->node, name, err);
		return res;
	}
	return wait_add_steps(d, req, ids, info, err);
}

enum vn_result vn_node_add(struct vn_dev *d, const struct vn_node_add_req *req,
			   struct vn_info *info, struct vn_err *err)
{
	size_t nr_ids = 1 + req->nr_cpus + 2 * req->nr_dist;
	struct json_object *ret;
	enum vn_result res;
	uint64_t *ids;
	char name[128];

	memset(info, 0, sizeof(*info));
	if (d->typed && req->nr_dist)
		return vn_err_set(err, VN_ERR_USAGE, "libvirt's node add "
				  "takes no distances"),
		       typed_done(d, req->node, VN_ERR_USAGE, info, err);
	if (d->typed)
		return typed_done(d, req->node,
				  lvt_node_add(d->typed, req, err), info, err);
	if (query(d, info, err) || check_node_add(info, req, err))
		return finish(d, req->node, err->res, info, err);
	ids = calloc(nr_ids, sizeof(*ids));
	if (!ids) {
		vn_err_set(err, VN_ERR_IO, "out of memory");
		return finish(d, req->node, VN_ERR_IO, info, err);
	}
	vn_backend_name(name, sizeof(name), d->domain, req->node);
	if (conn_execute(d->conn, "object-add",
			 vn_args_backend_add(name, req->size, req->host_nodes,
					     req->nr_host_nodes), &ret, err)) {
		vn_err_prefix(err, "cannot create memory backend %s: ", name);
		res = err->res;
	} else {
		json_object_put(ret);
		res = add_and_wait(d, req, name, ids, info, err);
	}
	free(ids);
	return finish(d, req->node, res, info, err);
}

static int backend_exists(struct vn_dev *d, const char *name, bool *found,
			  struct vn_err *err)
{
	struct json_object *ret;
	int r;

	if (conn_execute(d->conn, "qom-list", vn_args_qom_list("/objects"),
			 &ret, err))
		return -1;
	r = vn_decode_qom_has(ret, name, found, err);
	json_object_put(ret);
	return r;
}

/* After the guest let node @node go: delete our backend for it. */
static enum vn_result remove_backend(struct vn_dev *d, uint32_t node,
				     struct vn_err *err)
{
	struct json_object *ret;
	char name[128];
	bool found;

	vn_backend_name(name, sizeof(name), d->domain, node);
	if (backend_exists(d, name, &found, err))
		return vn_err_prefix(err, "the node is removed, but looking "
				     "for memory backend %s failed: ", name);
	if (!found)
		return VN_OK;
	if (conn_execute(d->conn, "object-del", vn_args_object_del(name),
			 &ret, err))
		return vn_err_prefix(err, "the node is removed, but memory "
				     "backend %s is left behind: ", name);
	json_object_put(ret);
	vn_log(LOG_INFO, "%s/%s: node %" PRIu32 ": deleted memory backend %s",
	       d->domain, d->id, node, name);
	return VN_OK;
}

enum vn_result vn_node_remove(struct vn_dev *d, uint32_t node,
			      struct vn_info *info, struct vn_err *err)
{
	enum vn_result res;
	uint64_t cid;

	memset(info, 0, sizeof(*info));
	if (d->typed)
		return typed_done(d, node, lvt_node_remove(d->typed, node, err),
				  info, err);
	if (query(d, info, err))
		return finish(d, node, err->res, info, err);
	if (node >= info->max_nodes) {
		vn_err_set(err, VN_ERR_USAGE, "not below the device's "
			   "max-nodes %" PRIu32, info->max_nodes);
		return finish(d, node, VN_ERR_USAGE, info, err);
	}
	if (queue_cmd(d, "virtio-numa-node-remove",
		      vn_args_node_remove(d->id, node), &cid, err))
		return finish(d, node, err->res, info, err);
	/* The guest's reports meanwhile show the node emptying. */
	res = wait_result(d, "node-remove", cid, true, info, err);
	if (res == VN_OK)
		res = remove_backend(d, node, err);
	else if (res == VN_ERR_PARTIAL)
		vn_err_append(err, "; the node keeps its memory backend: run "
			      "node-remove again once its memory can move");
	return finish(d, node, res, info, err);
}

/* After a relayout: wait for the REPORT events until none is pending. */
static enum vn_result drain(struct vn_dev *d, struct vn_info *info,
			    struct vn_err *err)
{
	struct wait_ctx w = { .id = d->id, .cid = UINT64_MAX,
			      .reports = true };
	long long deadline = vn_deadline(d->timeout_ms);
	struct json_object *ev;
	char sz[VN_SIZE_BUF];
	uint64_t pending;
	int r;

	if (refresh(d, info, err))
		return err->res;
	while ((pending = vn_info_pending(info))) {
		r = conn_wait_event(d->conn, VN_EV_REPORT, match_wait, &w,
				    vn_left_ms(deadline), &ev, err);
		if (r < 0)
			return err->res;
		if (!r) {
			format_size(vn_pages_bytes(info, pending), sz,
				    sizeof(sz));
			return vn_err_set(err, VN_ERR_IO, "%" PRIu64 " pages "
					  "(%s) are still pending after %g s; "
					  "they move when the guest frees "
					  "them (--migrate moves them now)",
					  pending, sz, d->timeout_ms / 1000.0);
		}
		json_object_put(ev);
		if (refresh(d, info, err))
			return err->res;
	}
	return VN_OK;
}

enum vn_result vn_relayout(struct vn_dev *d, const struct vn_relayout_req *req,
			   uint64_t *cmd_id, struct vn_info *info,
			   struct vn_err *err)
{
	enum vn_result res;

	memset(info, 0, sizeof(*info));
	*cmd_id = 0;
	if (d->typed)
		return typed_relayout(d, req, info, err);
	if (query(d, info, err) ||
	    vn_check_ranges(info, req->ranges, req->nr, err) ||
	    queue_cmd(d, "virtio-numa-relayout",
		      vn_args_relayout(d->id, req->ranges, req->nr,
				       req->migrate, req->has_host_node ?
				       &req->host_node : NULL), cmd_id, err))
		return finish(d, -1, err->res, info, err);
	if (!req->wait && !req->settle)
		return VN_OK;
	res = wait_result(d, "relayout", *cmd_id, true, info, err);
	if (res == VN_OK && req->settle)
		res = drain(d, info, err);
	return finish(d, -1, res, info, err);
}
