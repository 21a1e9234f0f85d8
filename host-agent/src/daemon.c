// SPDX-License-Identifier: GPL-2.0
/*
 * vnumad's state and work; see daemon.h for the threading rule.
 *
 * Nothing a VM or a client sends is trusted: QEMU's answers go through
 * the same checked decoders as vnumactl's, a request on the control
 * socket is bounded in size and checked member by member, and one VM
 * that does not answer costs at most monitor_timeout per attempt.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "conn_libvirt.h"
#include "ctl.h"
#include "daemon.h"
#include "jsonx.h"
#include "log.h"
#include "plan.h"
#include "qmp.h"
#include "vnuma.h"

#define RECONNECT_MS		2000
#define TICK_MS			1000
#define RELAYOUT_WAIT_MS	60000
#define RELAYOUT_TRIES		5
#define KEEPALIVE_INTERVAL_S	5
#define KEEPALIVE_COUNT		3
#define MAX_HOST_NODES		64

struct vnd_client {
	struct vnd_client *next;
	struct vnd *d;
	int fd;
	int watch;
	unsigned int uid;
	size_t len;
	char buf[VN_CTL_MAX_LINE];
	struct json_object *req;	/* deferred to vnd_work() */
};

static long long wall_s(void)
{
	return time(NULL);
}

static const char *lv_err(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

/* --- domains --- */

static struct vnd_domain *dom_find(struct vnd *d, const char *uuid)
{
	struct vnd_domain *dm;

	for (dm = d->domains; dm; dm = dm->next)
		if (!strcmp(dm->uuid, uuid))
			return dm;
	return NULL;
}

static struct vnd_domain *dom_find_name(struct vnd *d, const char *name)
{
	struct vnd_domain *dm;

	for (dm = d->domains; dm; dm = dm->next)
		if (!strcmp(dm->name, name))
			return dm;
	return NULL;
}

static void dom_free(struct vnd_domain *dm)
{
	if (dm->dom)
		virDomainFree(dm->dom);
	vn_info_free(&dm->info);
	free(dm);
}

/* The entry of @dom, made if new: it is (re)checked on the next pass. */
static struct vnd_domain *dom_get(struct vnd *d, virDomainPtr dom)
{
	char uuid[VIR_UUID_STRING_BUFLEN];
	struct vnd_domain *dm;
	const char *name;

	if (virDomainGetUUIDString(dom, uuid) < 0)
		return NULL;
	dm = dom_find(d, uuid);
	if (!dm) {
		dm = calloc(1, sizeof(*dm));
		if (!dm) {
			vn_log(LOG_ERR, "out of memory");
			return NULL;
		}
		snprintf(dm->uuid, sizeof(dm->uuid), "%s", uuid);
		dm->next = d->domains;
		d->domains = dm;
	}
	name = virDomainGetName(dom);
	snprintf(dm->name, sizeof(dm->name), "%s", name ? name : uuid);
	if (!dm->dom) {
		virDomainRef(dom);
		dm->dom = dom;
	}
	return dm;
}

static void dom_remove(struct vnd *d, struct vnd_domain *dm)
{
	struct vnd_domain **p;

	for (p = &d->domains; *p; p = &(*p)->next)
		if (*p == dm) {
			*p = dm->next;
			break;
		}
	dom_free(dm);
	d->export_due = true;
}

/* Take an announced incoming migration of @name, if there is one. */
static bool expected_take(struct vnd *d, const char *name)
{
	long long now = vn_now_ms();
	bool found = false;
	size_t i = 0;

	while (i < d->nr_expected) {
		struct vnd_expected *e = &d->expected[i];
		bool expired = now - e->at_ms > VND_EXPECT_TTL_MS;

		if (!expired && strcmp(e->name, name)) {
			i++;
			continue;
		}
		if (!expired)
			found = true;
		*e = d->expected[--d->nr_expected];
	}
	return found;
}

static int expected_add(struct vnd *d, const char *name)
{
	size_t i;

	expected_take(d, name);
	if (d->nr_expected == VND_MAX_EXPECTED) {
		/* Drop the oldest. */
		for (i = 1; i < d->nr_expected; i++)
			d->expected[i - 1] = d->expected[i];
		d->nr_expected--;
	}
	snprintf(d->expected[d->nr_expected].name,
		 sizeof(d->expected[0].name), "%s", name);
	d->expected[d->nr_expected++].at_ms = vn_now_ms();
	return 0;
}

/* --- libvirt callbacks: record, never talk to QEMU --- */

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			int detail, void *opaque)
{
	struct vnd *d = opaque;
	struct vnd_domain *dm;
	char uuid[VIR_UUID_STRING_BUFLEN];

	(void)conn;
	if (event == VIR_DOMAIN_EVENT_STOPPED) {
		if (virDomainGetUUIDString(dom, uuid) < 0)
			return 0;
		dm = dom_find(d, uuid);
		if (dm) {
			/* vnd_work() may be in the middle of it: it frees. */
			vn_log(LOG_INFO, "%s: stopped: %s", dm->name,
			       conn_libvirt_stop_reason(detail));
			dm->gone = true;
			if (dm->op)
				conn_shared_stopped(dm->op, detail);
		}
		return 0;
	}
	if (event != VIR_DOMAIN_EVENT_STARTED &&
	    event != VIR_DOMAIN_EVENT_RESUMED)
		return 0;
	dm = dom_get(d, dom);
	if (!dm)
		return 0;
	if (event == VIR_DOMAIN_EVENT_STARTED) {
		dm->checked = false;
		return 0;
	}
	/*
	 * Resumed by the migration (detail MIGRATED), or later by hand
	 * after a migration with --suspend (UNPAUSED).
	 */
	if (expected_take(d, dm->name)) {
		vn_log(LOG_NOTICE, "%s: migrated in and resumed", dm->name);
		dm->relayout_due = d->cfg.migration_relayout;
		dm->relayout_tries = 0;
		dm->checked = false;
	}
	return 0;
}

static void on_monitor_event(virConnectPtr conn, virDomainPtr dom,
			     const char *event, long long seconds,
			     unsigned int micros, const char *details,
			     void *opaque)
{
	struct vnd *d = opaque;
	struct vnd_domain *dm;

	(void)conn;
	if (strcmp(event, VN_EV_REPORT) && strcmp(event, VN_EV_COMPLETION))
		return;
	dm = dom_get(d, dom);
	if (!dm)
		return;
	dm->refresh = true;
	if (dm->op)
		conn_shared_event(dm->op, event, seconds, micros, details);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct vnd *d = opaque;

	(void)conn;
	if (!d->lost)
		vn_log(LOG_WARNING, "lost the connection to %s (reason %d); "
		       "reconnecting", d->conn_uri, reason);
	d->lost = true;
}

/* --- the libvirt connection --- */

static void vnd_disconnect(struct vnd *d)
{
	struct vnd_domain *dm;

	if (!d->conn)
		return;
	if (d->mon_cb >= 0)
		virConnectDomainQemuMonitorEventDeregister(d->conn, d->mon_cb);
	if (d->life_cb >= 0)
		virConnectDomainEventDeregisterAny(d->conn, d->life_cb);
	virConnectUnregisterCloseCallback(d->conn, on_close);
	d->mon_cb = d->life_cb = -1;
	/* Keep what the domains reported; forget libvirt's handles. */
	for (dm = d->domains; dm; dm = dm->next) {
		if (dm->dom)
			virDomainFree(dm->dom);
		dm->dom = NULL;
	}
	virConnectClose(d->conn);
	d->conn = NULL;
}

/* Every running domain: known ones keep their report until requeried. */
static void vnd_enumerate(struct vnd *d)
{
	struct vnd_domain *dm, *next;
	virDomainPtr *doms = NULL;
	int i, n;

	n = virConnectListAllDomains(d->conn, &doms,
				     VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		vn_log(LOG_WARNING, "cannot list the domains: %s", lv_err());
		return;
	}
	for (i = 0; i < n; i++) {
		dm = dom_get(d, doms[i]);
		if (dm)
			dm->checked = false;
		virDomainFree(doms[i]);
	}
	free(doms);
	for (dm = d->domains; dm; dm = next) {
		next = dm->next;
		if (!dm->dom)
			dom_remove(d, dm);
	}
	d->export_due = true;
}

static int vnd_connect(struct vnd *d)
{
	d->next_connect_ms = vn_now_ms() + RECONNECT_MS;
	d->conn = virConnectOpen(d->cfg.uri);
	if (!d->conn) {
		vn_log(LOG_DEBUG, "cannot connect to %s: %s", d->cfg.uri,
		       lv_err());
		return -1;
	}
	snprintf(d->conn_uri, sizeof(d->conn_uri), "%s", d->cfg.uri);
	d->lost = false;
	virConnectRegisterCloseCallback(d->conn, on_close, d, NULL);
	virConnectSetKeepAlive(d->conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT);
	d->life_cb = virConnectDomainEventRegisterAny(d->conn, NULL,
				VIR_DOMAIN_EVENT_ID_LIFECYCLE,
				VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), d,
				NULL);
	d->mon_cb = virConnectDomainQemuMonitorEventRegister(d->conn, NULL,
				NULL, on_monitor_event, d, NULL, 0);
	if (d->life_cb < 0 || d->mon_cb < 0) {
		vn_log(LOG_ERR, "cannot listen to domain events at %s: %s",
		       d->cfg.uri, lv_err());
		vnd_disconnect(d);
		return -1;
	}
	vn_log(LOG_NOTICE, "connected to %s", d->cfg.uri);
	vnd_enumerate(d);
	return 0;
}

/* --- work on one VM (vnd_work() only) --- */

static int dev_open(struct vnd *d, struct vnd_domain *dm, struct vn_dev *dev,
		    int wait_ms, struct vn_err *err)
{
	memset(dev, 0, sizeof(*dev));
	dev->domain = dm->name;
	dev->id = dm->device;
	dev->timeout_ms = wait_ms;
	if (conn_open_shared(&dev->conn, d->conn, dm->dom, d->conn_uri,
			     d->cfg.monitor_timeout_s * 1000, err))
		return -1;
	dm->op = dev->conn;
	return 0;
}

static void dev_close(struct vnd_domain *dm, struct vn_dev *dev)
{
	if (!dev->conn)
		return;
	dm->op = NULL;
	conn_close(dev->conn);
	dev->conn = NULL;
}

static void dom_error(struct vnd_domain *dm, int level, struct vn_err *err)
{
	if (strcmp(dm->last_error, err->msg))
		vn_log(level, "%s", err->msg);
	snprintf(dm->last_error, sizeof(dm->last_error), "%s", err->msg);
}

/* Keep @info (taken) as the VM's latest accounting. */
static void dom_keep_info(struct vnd *d, struct vnd_domain *dm,
			  struct vn_info *info)
{
	vn_info_free(&dm->info);
	dm->info = *info;
	memset(info, 0, sizeof(*info));
	dm->has_info = true;
	dm->updated = wall_s();
	d->export_due = true;
}

/*
 * Does the domain's definition show a virtio-numa device: libvirt's own
 * memory model, or (stock libvirt) the device on QEMU's command line?
 * Asked before any QMP: libvirt marks a domain that gets a monitor
 * command behind its back as tainted (custom-monitor), so a domain
 * without the device must never get one.
 */
static bool dom_shows_device(struct vnd_domain *dm)
{
	char *xml = virDomainGetXMLDesc(dm->dom, 0);
	bool shows;

	if (!xml) {
		vn_log(LOG_WARNING, "%s: cannot read its definition: %s",
		       dm->name, lv_err());
		return false;
	}
	shows = strstr(xml, "<memory model='virtio-numa'") ||
		strstr(xml, "virtio-numa-pci");
	free(xml);
	return shows;
}

/*
 * Does the VM have a virtio-numa device?  The first one is used, and
 * the same answer is its first accounting.
 */
static void dom_check(struct vnd *d, struct vnd_domain *dm)
{
	struct json_object *ret, *first, *id;
	struct vn_info info;
	struct vn_err err;
	struct vn_dev dev;

	if (!dom_shows_device(dm)) {
		dm->checked = true;
		dm->device[0] = '\0';
		vn_log(LOG_INFO, "%s: no virtio-numa device in its definition",
		       dm->name);
		return;
	}
	if (dev_open(d, dm, &dev, 0, &err)) {
		dom_error(dm, LOG_WARNING, &err);
		return;
	}
	dm->checked = true;
	dm->device[0] = '\0';
	if (conn_execute(dev.conn, "query-virtio-numa", NULL, &ret, &err)) {
		/* A QEMU without our device does not know the command. */
		vn_log(LOG_INFO, "%s: no virtio-numa device: %s", dm->name,
		       err.msg);
		dev_close(dm, &dev);
		return;
	}
	first = json_object_is_type(ret, json_type_array) &&
		json_object_array_length(ret) ?
		json_object_array_get_idx(ret, 0) : NULL;
	if (first && json_object_object_get_ex(first, "id", &id) &&
	    json_object_is_type(id, json_type_string) &&
	    json_object_get_string_len(id) < (int)sizeof(dm->device))
		snprintf(dm->device, sizeof(dm->device), "%s",
			 json_object_get_string(id));
	vn_log(LOG_INFO, "%s: %s%s", dm->name, *dm->device ?
	       "virtio-numa device " : "no virtio-numa device", dm->device);
	if (*dm->device) {
		if (!vn_decode_info(first, &info, &err)) {
			dom_keep_info(d, dm, &info);
		} else {
			vn_err_prefix(&err, "%s/%s: query-virtio-numa: ",
				      dm->name, dm->device);
			dom_error(dm, LOG_WARNING, &err);
		}
		vn_info_free(&info);
	}
	json_object_put(ret);
	dev_close(dm, &dev);
}

static void dom_refresh(struct vnd *d, struct vnd_domain *dm)
{
	struct vn_info info;
	struct vn_err err;
	struct vn_dev dev;

	dm->refresh = false;
	if (dev_open(d, dm, &dev, 0, &err)) {
		dom_error(dm, LOG_WARNING, &err);
		return;
	}
	if (vn_query(&dev, &info, &err) == VN_OK) {
		dom_keep_info(d, dm, &info);
		dm->last_error[0] = '\0';
	} else {
		dom_error(dm, LOG_WARNING, &err);
	}
	dev_close(dm, &dev);
}

/* The binding plan of one VM, with a fresh query of it. */
static int dom_plan(struct vnd *d, struct vnd_domain *dm, struct vn_dev *dev,
		    struct vn_plan *plan, struct vn_err *err)
{
	struct vn_memdev *md = NULL;
	struct json_object *ret;
	struct vn_info info;
	size_t nr_md;
	int r;

	if (vn_query(dev, &info, err) != VN_OK)
		return -1;
	if (conn_execute(dev->conn, "query-virtio-numa-ram", NULL, &ret,
			 err)) {
		vn_info_free(&info);
		return vn_err_prefix(err, "%s: ", dm->name), -1;
	}
	r = vn_decode_ram(ret, &info, err);
	json_object_put(ret);
	if (r) {
		vn_info_free(&info);
		return vn_err_prefix(err, "%s/%s: ", dm->name, dm->device), -1;
	}
	dom_keep_info(d, dm, &info);
	if (conn_execute(dev->conn, "query-memdev", NULL, &ret, err))
		return vn_err_prefix(err, "%s: ", dm->name), -1;
	r = vn_decode_memdevs(ret, &md, &nr_md, err);
	json_object_put(ret);
	if (!r)
		r = vn_plan_binding(&dm->info, md, nr_md, plan, err);
	free(md);
	if (r)
		return vn_err_prefix(err, "%s/%s: ", dm->name, dm->device), -1;
	return 0;
}

static enum vn_result dom_apply(struct vnd *d, struct vnd_domain *dm,
				struct vn_dev *dev,
				const struct vn_plan *plan, struct vn_err *err)
{
	struct vn_relayout_req req = {
		.ranges = plan->ranges, .nr = plan->nr, .wait = true,
	};
	struct vn_info info = { 0 };
	enum vn_result res;
	uint64_t cid;

	if (!plan->nr) {
		vn_log(LOG_NOTICE, "%s: no block of it can move", dm->name);
		return VN_OK;
	}
	res = vn_relayout(dev, &req, &cid, &info, err);
	if (info.nr_nodes)
		dom_keep_info(d, dm, &info);
	vn_info_free(&info);
	dm->relayouts++;
	if (res == VN_OK)
		vn_log(LOG_NOTICE, "%s/%s: relayout %" PRIu64 " done: %zu "
		       "ranges", dm->name, dm->device, cid, plan->nr);
	return res;
}

/* Log @text line by line, each after @prefix; @text is cut up. */
static void log_lines(int level, const char *prefix, char *text)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		vn_log(level, "%s%s", prefix, line);
}

static void log_plan(int level, const char *domain, const struct vn_plan *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	vn_plan_print(f, domain, p);
	fclose(f);
	log_lines(level, "", text);
	free(text);
}

/* After a migration in: make the layout the destination's binding. */
static void dom_migrated(struct vnd *d, struct vnd_domain *dm)
{
	struct vn_plan plan;
	struct vn_err err;
	struct vn_dev dev;

	if (!dm->has_info || !dm->info.driver_ready) {
		/* The guest's driver answers once it runs; try again. */
		if (++dm->relayout_tries > RELAYOUT_TRIES) {
			vn_log(LOG_WARNING, "%s: no guest driver to relay out "
			       "after the migration; gave up", dm->name);
			dm->relayout_due = false;
		}
		dm->refresh = true;
		return;
	}
	dm->relayout_due = false;
	if (dev_open(d, dm, &dev, RELAYOUT_WAIT_MS, &err)) {
		dom_error(dm, LOG_ERR, &err);
		return;
	}
	if (dom_plan(d, dm, &dev, &plan, &err)) {
		dom_error(dm, LOG_ERR, &err);
	} else if (plan.in_place) {
		vn_log(LOG_NOTICE, "%s: the layout already matches this "
		       "host's binding", dm->name);
	} else {
		log_plan(LOG_NOTICE, dm->name, &plan);
		if (dom_apply(d, dm, &dev, &plan, &err) != VN_OK)
			dom_error(dm, LOG_ERR, &err);
	}
	dev_close(dm, &dev);
	d->export_due = true;
}

/* --- the rebalance policy --- */

static struct json_object *host_nodes_json(struct vnd *d, FILE *text)
{
	struct vn_host_node hn[MAX_HOST_NODES];
	struct json_object *a = json_object_new_array(), *o;
	char fr[VN_SIZE_BUF], tot[VN_SIZE_BUF];
	struct vn_err err;
	size_t i, nr;

	if (vn_read_host_nodes(d->cfg.host_nodes_dir, hn, MAX_HOST_NODES, &nr,
			       &err)) {
		vn_log(LOG_WARNING, "host nodes: %s", err.msg);
		fprintf(text, "host nodes: %s\n", err.msg);
		return a;
	}
	for (i = 0; i < nr; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "node",
				       json_object_new_int64(hn[i].node));
		json_object_object_add(o, "total",
				       json_object_new_uint64(hn[i].total));
		json_object_object_add(o, "free",
				       json_object_new_uint64(hn[i].free));
		json_object_array_add(a, o);
		fprintf(text, "host node %" PRIu32 ": %s free of %s\n",
			hn[i].node, format_size(hn[i].free, fr, sizeof(fr)),
			format_size(hn[i].total, tot, sizeof(tot)));
	}
	return a;
}

/*
 * Plan (and with @apply, carry out) the binding layout of every VM
 * with a device, or only of @only.  Returns what was planned and done
 * as JSON, with the human text in "text".
 */
static struct json_object *vnd_rebalance(struct vnd *d, const char *only,
					 bool apply)
{
	struct json_object *out = json_object_new_object();
	struct json_object *plans = json_object_new_array(), *pj;
	struct vnd_domain *dm;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct vn_plan *plan = malloc(sizeof(*plan));
	struct vn_err err;
	struct vn_dev dev;

	if (!f || !plan) {
		if (f)
			fclose(f);
		free(text);
		free(plan);
		json_object_put(plans);
		json_object_object_add(out, "error",
				       json_object_new_string("out of memory"));
		return out;
	}
	json_object_object_add(out, "host-nodes", host_nodes_json(d, f));
	for (dm = d->domains; dm; dm = dm->next) {
		if (!dm->dom || dm->gone || !*dm->device ||
		    (only && strcmp(only, dm->name)))
			continue;
		if (dev_open(d, dm, &dev, RELAYOUT_WAIT_MS, &err) ||
		    dom_plan(d, dm, &dev, plan, &err)) {
			fprintf(f, "%s: %s\n", dm->name, err.msg);
			pj = json_object_new_object();
			json_object_object_add(pj, "domain",
					json_object_new_string(dm->name));
			json_object_object_add(pj, "error",
					json_object_new_string(err.msg));
		} else {
			vn_plan_print(f, dm->name, plan);
			pj = vn_plan_to_json(dm->name, plan);
			if (apply && !plan->in_place) {
				enum vn_result res = dom_apply(d, dm, &dev, plan,
							       &err);

				fprintf(f, "  applied: %s%s%s\n",
					vn_result_name(res),
					res == VN_OK ? "" : ": ",
					res == VN_OK ? "" : err.msg);
				json_object_object_add(pj, "applied",
					json_object_new_string(
						vn_result_name(res)));
				if (res != VN_OK)
					json_object_object_add(pj, "error",
						json_object_new_string(
							err.msg));
			}
		}
		dev_close(dm, &dev);
		json_object_array_add(plans, pj);
	}
	fclose(f);
	json_object_object_add(out, "domains", plans);
	json_object_object_add(out, "text", json_object_new_string(text));
	free(text);
	free(plan);
	d->export_due = true;
	return out;
}

static void vnd_rebalance_timed(struct vnd *d)
{
	struct json_object *out, *text;
	char *copy;

	if (d->cfg.rebalance == VND_REBALANCE_OFF ||
	    vn_now_ms() < d->next_rebalance_ms || !d->conn)
		return;
	d->next_rebalance_ms = vn_now_ms() +
			       d->cfg.rebalance_interval_s * 1000LL;
	out = vnd_rebalance(d, NULL,
			    d->cfg.rebalance == VND_REBALANCE_APPLY);
	if (json_object_object_get_ex(out, "text", &text)) {
		copy = strdup(json_object_get_string(text));
		if (copy)
			log_lines(LOG_INFO, "rebalance: ", copy);
		free(copy);
	}
	json_object_put(out);
}

/* --- export --- */

static struct json_object *dom_json(const struct vnd_domain *dm)
{
	struct json_object *o = dm->has_info ?
				vn_info_to_json(&dm->info, dm->name) :
				json_object_new_object();

	if (!dm->has_info)
		json_object_object_add(o, "domain",
				       json_object_new_string(dm->name));
	json_object_object_add(o, "uuid", json_object_new_string(dm->uuid));
	json_object_object_add(o, "updated",
			       json_object_new_int64(dm->updated));
	json_object_object_add(o, "relayouts",
			       json_object_new_int64(dm->relayouts));
	if (*dm->last_error)
		json_object_object_add(o, "last-error",
				json_object_new_string(dm->last_error));
	return o;
}

static struct json_object *domains_json(struct vnd *d, const char *only)
{
	struct json_object *a = json_object_new_array();
	struct vnd_domain *dm;

	for (dm = d->domains; dm; dm = dm->next)
		if (*dm->device && (!only || !strcmp(only, dm->name)))
			json_object_array_add(a, dom_json(dm));
	return a;
}

/* Write the export file whole, or leave the old one. */
static void vnd_export(struct vnd *d)
{
	struct json_object *o;
	char tmp[sizeof(d->cfg.export_path) + 8];
	const char *s;
	FILE *f;
	int ok;

	d->export_due = false;
	if (!*d->cfg.export_path)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "updated", json_object_new_int64(wall_s()));
	json_object_object_add(o, "domains", domains_json(d, NULL));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->cfg.export_path);
	f = fopen(tmp, "w");
	ok = f && fputs(s, f) >= 0 && fputc('\n', f) != EOF;
	if (f) {
		ok = ok && !fchmod(fileno(f), 0644);
		ok = !fclose(f) && ok;
	}
	if (!ok || rename(tmp, d->cfg.export_path)) {
		vn_log(LOG_WARNING, "cannot write %s: %s", d->cfg.export_path,
		       strerror(errno));
		unlink(tmp);
	}
	json_object_put(o);
}

/* --- the control socket --- */

static void client_free(void *opaque)
{
	struct vnd_client *c = opaque;

	close(c->fd);
	json_object_put(c->req);
	free(c);
}

static void client_done(struct vnd_client *c, char *reply)
{
	struct vnd_client **p;
	struct timeval tv = { 2, 0 };
	size_t off = 0, len = reply ? strlen(reply) : 0;
	ssize_t n;
	int fl;

	/* A line; a client too slow to take it in 2 s loses it. */
	fl = fcntl(c->fd, F_GETFL);
	fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (off < len) {
		n = send(c->fd, reply + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += n;
	}
	free(reply);
	for (p = &c->d->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	virEventRemoveHandle(c->watch);
}

static const char *arg_str(struct json_object *args, const char *key,
			   bool *bad)
{
	struct json_object *v;

	if (!args || !json_object_object_get_ex(args, key, &v))
		return NULL;
	if (!json_object_is_type(v, json_type_string)) {
		*bad = true;
		return NULL;
	}
	return json_object_get_string(v);
}

static struct json_object *status_json(struct vnd *d)
{
	struct json_object *o = json_object_new_object();
	struct json_object *exp = json_object_new_array();
	size_t i;

	json_object_object_add(o, "uri", json_object_new_string(d->cfg.uri));
	json_object_object_add(o, "connected",
			       json_object_new_boolean(d->conn && !d->lost));
	json_object_object_add(o, "rebalance", json_object_new_string(
				config_rebalance_name(d->cfg.rebalance)));
	json_object_object_add(o, "migration-relayout",
			json_object_new_boolean(d->cfg.migration_relayout));
	for (i = 0; i < d->nr_expected; i++)
		json_object_array_add(exp,
			json_object_new_string(d->expected[i].name));
	json_object_object_add(o, "expected-migrations", exp);
	json_object_object_add(o, "domains", domains_json(d, NULL));
	return o;
}

/* Is @name a running domain with the device?  If not, say why. */
static bool dom_usable(struct vnd *d, const char *name, char *why,
		      size_t len)
{
	struct vnd_domain *dm = dom_find_name(d, name);

	if (!dm)
		snprintf(why, len, "no such running domain");
	else if (!dm->checked)
		snprintf(why, len, "%.256s: not looked at yet; try again",
			 name);
	else if (!*dm->device)
		snprintf(why, len, "%.256s has no virtio-numa device", name);
	return dm && dm->checked && *dm->device;
}

/* Answer what needs no VM now; 1 when the request waits for vnd_work(). */
static int client_request(struct vnd_client *c, char **reply)
{
	struct vnd *d = c->d;
	struct json_object *args;
	const char *name, *dom;
	struct vn_err err;
	bool bad = false;

	if (ctl_parse_request(c->buf, &c->req, &name, &args, &err)) {
		*reply = ctl_reply_error(err.msg);
		return 0;
	}
	dom = arg_str(args, "domain", &bad);
	if (bad) {
		*reply = ctl_reply_error("'domain' is not a string");
		return 0;
	}
	vn_log(LOG_DEBUG, "control: uid %u: %s", c->uid, name);
	if (!strcmp(name, "status")) {
		*reply = ctl_reply_ok(status_json(d));
	} else if (!strcmp(name, "nodes")) {
		if (dom && !dom_usable(d, dom, err.msg, sizeof(err.msg)))
			*reply = ctl_reply_error(err.msg);
		else
			*reply = ctl_reply_ok(domains_json(d, dom));
	} else if (!strcmp(name, "expect-migration")) {
		if (!dom || !*dom || strlen(dom) >= sizeof(d->expected[0].name))
			*reply = ctl_reply_error("'domain' is missing, empty "
						 "or too long");
		else {
			expected_add(d, dom);
			vn_log(LOG_NOTICE, "%s: migration announced; %s", dom,
			       d->cfg.migration_relayout ?
			       "relayout when it resumes" :
			       "migration_relayout is off");
			*reply = ctl_reply_ok(NULL);
		}
	} else if (!strcmp(name, "reload")) {
		d->reload = true;
		*reply = ctl_reply_ok(NULL);
	} else if (!strcmp(name, "rebalance")) {
		return 1;
	} else {
		snprintf(err.msg, sizeof(err.msg), "unknown request '%.64s' "
			 "(status, nodes, expect-migration, rebalance, "
			 "reload)", name);
		*reply = ctl_reply_error(err.msg);
	}
	return 0;
}

/* A deferred request, now that the VMs may be asked. */
static void client_deferred(struct vnd *d, struct vnd_client *c)
{
	struct json_object *args = NULL, *v;
	const char *dom = NULL;
	bool apply = false;
	char *reply, msg[512];

	json_object_object_get_ex(c->req, "arguments", &args);
	if (args && json_object_object_get_ex(args, "apply", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			client_done(c, ctl_reply_error("'apply' is not a "
						       "boolean"));
			return;
		}
		apply = json_object_get_boolean(v);
	}
	if (args && json_object_object_get_ex(args, "domain", &v))
		dom = json_object_get_string(v);
	if (!d->conn)
		reply = ctl_reply_error("not connected to libvirt");
	else if (dom && !dom_usable(d, dom, msg, sizeof(msg)))
		reply = ctl_reply_error(msg);
	else
		reply = ctl_reply_ok(vnd_rebalance(d, dom, apply));
	client_done(c, reply);
}

static void on_client(int watch, int fd, int events, void *opaque)
{
	struct vnd_client *c = opaque;
	char *reply = NULL;
	ssize_t n;

	(void)watch;
	if (c->req)		/* waits for vnd_work() */
		return;
	n = recv(fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	(void)events;
	if (n <= 0) {
		client_done(c, NULL);
		return;
	}
	c->len += n;
	c->buf[c->len] = '\0';
	if (!strchr(c->buf, '\n')) {
		if (c->len == sizeof(c->buf) - 1)
			client_done(c, ctl_reply_error("request too long"));
		return;
	}
	*strchr(c->buf, '\n') = '\0';
	if (client_request(c, &reply) == 1) {
		/* Stop reading it until the answer. */
		virEventUpdateHandle(c->watch, 0);
		return;
	}
	client_done(c, reply);
}

static void on_accept(int watch, int fd, int events, void *opaque)
{
	struct vnd *d = opaque;
	struct vnd_client *c;
	unsigned int uid = 0;
	int cfd;

	(void)watch;
	(void)events;
	cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (cfd < 0)
		return;
	if (!ctl_peer_allowed(cfd, &uid)) {
		vn_log(LOG_WARNING, "control: refused uid %u", uid);
		close(cfd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return;
	}
	c->d = d;
	c->fd = cfd;
	c->uid = uid;
	c->watch = virEventAddHandle(cfd, VIR_EVENT_HANDLE_READABLE,
				     on_client, c, client_free);
	if (c->watch < 0) {
		client_free(c);
		return;
	}
	c->next = d->clients;
	d->clients = c;
}

/* --- signals and the loop --- */

static void on_signal(int watch, int fd, int events, void *opaque)
{
	struct vnd *d = opaque;
	struct signalfd_siginfo si;

	(void)watch;
	(void)events;
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			d->reload = true;
		} else {
			vn_log(LOG_NOTICE, "signal %u: shutting down",
			       si.ssi_signo);
			d->quit = true;
		}
	}
}

static void on_tick(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

static void vnd_reload(struct vnd *d)
{
	struct vnd_config next = d->cfg;
	struct vn_err err;

	d->reload = false;
	config_defaults(&next);
	if (config_load(d->config_path, &next, false, &err)) {
		vn_log(LOG_ERR, "reload: %s; keeping the old configuration",
		       err.msg);
		return;
	}
	if (strcmp(next.socket, d->cfg.socket)) {
		vn_log(LOG_WARNING, "reload: the socket moves only on a "
		       "restart; staying on %s", d->cfg.socket);
		snprintf(next.socket, sizeof(next.socket), "%s",
			 d->cfg.socket);
	}
	if (d->foreground && log_level > next.log_level)
		next.log_level = log_level;	/* -v on the command line */
	log_set_level(next.log_level);
	if (strcmp(next.uri, d->cfg.uri)) {
		vnd_disconnect(d);
		d->next_connect_ms = 0;
	}
	d->cfg = next;
	d->next_rebalance_ms = 0;
	d->export_due = true;
	vn_log(LOG_NOTICE, "reloaded %s", d->config_path);
}

/* Everything that talks to a VM, between two runs of the event loop. */
static void vnd_work(struct vnd *d)
{
	struct vnd_domain *dm, *dnext;
	struct vnd_client *c;

	if (d->reload)
		vnd_reload(d);
	if (d->lost)
		vnd_disconnect(d);
	if (!d->conn && vn_now_ms() >= d->next_connect_ms)
		vnd_connect(d);
	for (dm = d->domains; dm && d->conn && !d->lost && !d->quit;
	     dm = dm->next) {
		if (!dm->dom || dm->gone)
			continue;
		if (!dm->checked)
			dom_check(d, dm);
		if (*dm->device && dm->refresh)
			dom_refresh(d, dm);
		if (*dm->device && dm->relayout_due)
			dom_migrated(d, dm);
	}
	/*
	 * From the head each time: while one is answered the event loop
	 * runs, and other clients may come and go.
	 */
	for (;;) {
		for (c = d->clients; c && !c->req; c = c->next)
			;
		if (!c)
			break;
		client_deferred(d, c);
	}
	vnd_rebalance_timed(d);
	for (dm = d->domains; dm; dm = dnext) {
		dnext = dm->next;
		if (dm->gone)
			dom_remove(d, dm);
	}
	if (d->export_due)
		vnd_export(d);
}

int vnd_start(struct vnd *d)
{
	struct vn_err err;
	sigset_t set;

	d->life_cb = d->mon_cb = -1;
	d->listen_fd = d->signal_fd = -1;
	d->listen_watch = d->signal_watch = d->tick = -1;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) ||
	    (d->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		vn_log(LOG_ERR, "signalfd: %s", strerror(errno));
		return -1;
	}
	if (lv_global_init(&err)) {
		vn_log(LOG_ERR, "%s", err.msg);
		return -1;
	}
	d->listen_fd = ctl_listen(d->cfg.socket, &err);
	if (d->listen_fd < 0) {
		vn_log(LOG_ERR, "%s", err.msg);
		return -1;
	}
	d->listen_watch = virEventAddHandle(d->listen_fd,
					    VIR_EVENT_HANDLE_READABLE,
					    on_accept, d, NULL);
	d->signal_watch = virEventAddHandle(d->signal_fd,
					    VIR_EVENT_HANDLE_READABLE,
					    on_signal, d, NULL);
	d->tick = virEventAddTimeout(TICK_MS, on_tick, d, NULL);
	if (d->listen_watch < 0 || d->signal_watch < 0 || d->tick < 0) {
		vn_log(LOG_ERR, "cannot watch the sockets: %s", lv_err());
		return -1;
	}
	d->export_due = true;
	vn_log(LOG_NOTICE, "listening on %s; libvirt at %s", d->cfg.socket,
	       d->cfg.uri);
	return 0;
}

void vnd_run(struct vnd *d)
{
	vnd_work(d);
	while (!d->quit) {
		if (virEventRunDefaultImpl() < 0) {
			vn_log(LOG_ERR, "libvirt's event loop failed: %s",
			       lv_err());
			break;
		}
		vnd_work(d);
	}
}

void vnd_stop(struct vnd *d)
{
	struct vnd_domain *dm;

	while (d->clients)
		client_done(d->clients,
			    ctl_reply_error("vnumad is shutting down"));
	if (d->listen_watch >= 0)
		virEventRemoveHandle(d->listen_watch);
	if (d->signal_watch >= 0)
		virEventRemoveHandle(d->signal_watch);
	if (d->tick >= 0)
		virEventRemoveTimeout(d->tick);
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		unlink(d->cfg.socket);
	}
	if (d->signal_fd >= 0)
		close(d->signal_fd);
	/* Stale figures would look current to whoever scrapes them. */
	if (*d->cfg.export_path)
		unlink(d->cfg.export_path);
	vnd_disconnect(d);
	while ((dm = d->domains)) {
		d->domains = dm->next;
		dom_free(dm);
	}
	vn_log(LOG_NOTICE, "stopped");
}
