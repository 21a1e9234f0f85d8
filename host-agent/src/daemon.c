// SPDX-License-Identifier: GPL-2.0
/*
 * vnumad's state and work; see daemon.h for the threading rule.
 *
 * Nothing a VM or a client sends is trusted: QEMU's answers go through
 * the same checked decoders as vnumactl's, a request on the control
 * socket is bounded in size and checked member by member, and one VM
 * that does not answer costs at most monitor_timeout per attempt.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
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
#include "lvtyped.h"
#include "log.h"
#include "lock.h"
#include "metrics.h"
#include "plan.h"
#include "policy.h"
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
	bool started;			/* its rebalance runs */
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

/*
 * d->lock protects the domain list, every entry's fields and the rest
 * of struct vnd.  The main thread holds it except while it waits in
 * libvirt's event loop, so its callbacks take it; a job thread takes
 * it only to read or change its own domain's entry.
 */
static void vnd_lock(struct vnd *d)
{
	vn_mutex_lock(&d->lock);
}

static void vnd_unlock(struct vnd *d)
{
	vn_mutex_unlock(&d->lock);
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
	free(dm->md);
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
	/* Set once: a job reads it without the lock. */
	name = virDomainGetName(dom);
	if (!*dm->name)
		snprintf(dm->name, sizeof(dm->name), "%s", name ? name : uuid);
	if (!dm->dom) {
		virDomainRef(dom);
		dm->dom = dom;
	}
	return dm;
}

/* Forget @dm; a busy one only once its job is done.  d->lock held. */
static void dom_remove(struct vnd *d, struct vnd_domain *dm)
{
	struct vnd_domain **p;

	vn_assert_held(&d->lock);
	if (dm->busy) {
		dm->gone = true;
		return;
	}

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

/* The free-memory policy's moves of a guest that started anew. */
static void dom_forget_moves(struct vnd_domain *dm)
{
	dm->nr_moved = 0;
	dm->last_move_s = 0;
}

/* --- libvirt callbacks: record, never talk to QEMU --- */

static void on_lifecycle_locked(struct vnd *d, virDomainPtr dom, int event,
				int detail)
{
	struct vnd_domain *dm;
	char uuid[VIR_UUID_STRING_BUFLEN];

	if (event == VIR_DOMAIN_EVENT_STOPPED) {
		if (virDomainGetUUIDString(dom, uuid) < 0)
			return;
		dm = dom_find(d, uuid);
		if (dm) {
			/* A job may be at work on it: vnd_work() frees. */
			vn_log(LOG_INFO, "%s: stopped: %s", dm->name,
			       conn_libvirt_stop_reason(detail));
			dm->gone = true;
			if (dm->op)
				conn_shared_stopped(dm->op, detail);
		}
		return;
	}
	if (event != VIR_DOMAIN_EVENT_STARTED &&
	    event != VIR_DOMAIN_EVENT_RESUMED)
		return;
	dm = dom_get(d, dom);
	if (!dm)
		return;
	if (event == VIR_DOMAIN_EVENT_STARTED) {
		dom_forget_moves(dm);
		dm->checked = false;
		return;
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
		/* Its memory is where this host's binding puts it. */
		dom_forget_moves(dm);
	}
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			int detail, void *opaque)
{
	struct vnd *d = opaque;

	(void)conn;
	vnd_lock(d);
	on_lifecycle_locked(d, dom, event, detail);
	vnd_unlock(d);
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
	vnd_lock(d);
	dm = dom_get(d, dom);
	if (dm) {
		dm->refresh = true;
		/* A job waits for it, perhaps. */
		if (dm->op)
			conn_shared_event(dm->op, event, seconds, micros,
					  details);
	}
	vnd_unlock(d);
}

static void on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct vnd *d = opaque;

	(void)conn;
	vnd_lock(d);
	if (!d->lost)
		vn_log(LOG_WARNING, "lost the connection to %s (reason %d); "
		       "reconnecting", d->conn_uri, reason);
	d->lost = true;
	vnd_unlock(d);
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

/* --- work on one VM, in a job thread of its own --- */

/*
 * One VM's work runs in a thread of its own (struct vnd_job), so that
 * a QEMU that does not answer holds up only its own VM: the main
 * thread goes on running the event loop, answering the control socket
 * and working on the other VMs.  A domain has at most one job at a
 * time (vnd_domain.busy); the job holds its own references to the
 * connection and the domain, and the main thread frees a domain only
 * once its job is done.  A job takes d->lock only to read or change
 * its domain's entry, never while it waits for QEMU or libvirt.
 */
struct vnd_run;
static void client_done(struct vnd_client *c, char *reply);

enum vnd_job_kind {
	JOB_WORK,	/* what vnd_work() found due */
	JOB_PLAN,	/* binding policy: plan, and apply if asked */
	JOB_GATHER,	/* free-memory policy: the figures of one VM */
	JOB_MOVE,	/* free-memory policy: one move */
};

struct vnd_job {
	struct vnd_job *next;		/* on d->done, once done */
	struct vnd *d;
	struct vnd_domain *dm;
	enum vnd_job_kind kind;
	virConnectPtr conn;		/* the job's own references */
	virDomainPtr dom;
	char uri[256];
	int timeout_ms;			/* per reply of QEMU */
	bool migration_relayout;
	/* JOB_WORK: what is due */
	bool check, refresh, migrated;
	/* the rebalance it is part of, and what it found */
	struct vnd_run *run;
	const struct vn_pol_move *move;		/* JOB_MOVE */
	bool ok;
	enum vn_result res;
	struct vn_err err;
	struct vn_memdev *md;			/* JOB_GATHER */
	size_t nr_md;
	struct json_object *result;
	char *text;
};

/*
 * A rebalance over one or all VMs, answered when its last job is done.
 * The binding policy plans each VM on its own.  The free-memory policy
 * decides over all of them: it gathers every VM's figures, decides,
 * then moves; the VMs it gathered stay held (busy) until it is done,
 * so that no other job changes them in between.
 */
struct vnd_run {
	struct vnd_client *client;	/* who asked; NULL when timed */
	bool apply;
	enum vnd_policy policy;
	struct json_object *homes;	/* what-if homes, or NULL */
	bool decided;
	unsigned int pending;		/* jobs not done yet */
	struct json_object *out;
	struct json_object *plans;	/* per VM (binding) or per move */
	struct vn_pol_result *res;
	char *text;
	size_t len;
	FILE *f;
};

/*
 * Open the VM for @job.  A domain whose device libvirt manages is
 * queried through libvirt's API (no monitor command, no taint) where
 * @typed_ok; what needs QEMU's RAM map and backends (relayout plans,
 * the free-memory policy) goes to the monitor, and says so once.
 */
static int dev_open_as(struct vnd_job *job, struct vn_dev *dev, int wait_ms,
		       bool typed_ok, struct vn_err *err)
{
	struct vnd_domain *dm = job->dm;

	memset(dev, 0, sizeof(*dev));
	dev->domain = dm->name;
	dev->id = dm->device;
	dev->timeout_ms = wait_ms;
	if (dm->typed && typed_ok)
		dev->typed = job->dom;
	else if (dm->typed && !dm->told_passthrough) {
		dm->told_passthrough = true;
		vn_log(LOG_NOTICE, "%s: plans need QEMU's RAM map, which "
		       "libvirt's API does not give: QMP passthrough (libvirt "
		       "marks the domain tainted)", dm->name);
	}
	if (conn_open_shared(&dev->conn, job->conn, job->dom, job->uri,
			     job->timeout_ms, err))
		return -1;
	/* From now on the main thread passes the domain's events on. */
	vnd_lock(job->d);
	dm->op = dev->conn;
	vnd_unlock(job->d);
	return 0;
}

static int dev_open(struct vnd_job *job, struct vn_dev *dev, int wait_ms,
		    struct vn_err *err)
{
	return dev_open_as(job, dev, wait_ms, false, err);
}

static void dev_close(struct vnd_job *job, struct vn_dev *dev)
{
	if (!dev->conn)
		return;
	vnd_lock(job->d);
	job->dm->op = NULL;
	vnd_unlock(job->d);
	conn_close(dev->conn);
	dev->conn = NULL;
}

/* d->lock held. */
static void dom_error_locked(struct vnd *d, struct vnd_domain *dm,
			     int level, struct vn_err *err)
{
	vn_assert_held(&d->lock);
	if (strcmp(dm->last_error, err->msg))
		vn_log(level, "%s", err->msg);
	snprintf(dm->last_error, sizeof(dm->last_error), "%s", err->msg);
}

static void dom_error(struct vnd_job *job, int level, struct vn_err *err)
{
	vnd_lock(job->d);
	dom_error_locked(job->d, job->dm, level, err);
	vnd_unlock(job->d);
}

/* Keep @info (taken) as the VM's latest accounting. */
static void dom_keep_info(struct vnd_job *job, struct vn_info *info)
{
	struct vnd_domain *dm = job->dm;

	vnd_lock(job->d);
	vn_info_free(&dm->info);
	dm->info = *info;
	memset(info, 0, sizeof(*info));
	dm->has_info = true;
	dm->updated = wall_s();
	job->d->export_due = true;
	vnd_unlock(job->d);
}

/*
 * The domain's definition if it shows a virtio-numa device (libvirt's
 * own memory model, or with stock libvirt the device on QEMU's command
 * line), else NULL.  Asked before any QMP: libvirt marks a domain that
 * gets a monitor command behind its back as tainted (custom-monitor),
 * so a domain without the device must never get one.
 */
static char *dom_device_xml(struct vnd_job *job)
{
	char *xml = virDomainGetXMLDesc(job->dom, 0);

	if (!xml) {
		vn_log(LOG_WARNING, "%s: cannot read its definition: %s",
		       job->dm->name, lv_err());
		return NULL;
	}
	if (strstr(xml, "<memory model='virtio-numa'") ||
	    strstr(xml, "virtio-numa-pci"))
		return xml;
	free(xml);
	return NULL;
}

static void dom_set_device(struct vnd_job *job, const char *id)
{
	vnd_lock(job->d);
	job->dm->checked = true;
	snprintf(job->dm->device, sizeof(job->dm->device), "%s", id);
	vnd_unlock(job->d);
}

static void dom_refresh(struct vnd_job *job)
{
	struct vn_info info;
	struct vn_err err;
	struct vn_dev dev;

	if (dev_open_as(job, &dev, 0, true, &err)) {
		dom_error(job, LOG_WARNING, &err);
		return;
	}
	if (vn_query(&dev, &info, &err) == VN_OK) {
		dom_keep_info(job, &info);
		vnd_lock(job->d);
		job->dm->last_error[0] = '\0';
		vnd_unlock(job->d);
	} else {
		dom_error(job, LOG_WARNING, &err);
	}
	dev_close(job, &dev);
}

/*
 * Does the VM have a virtio-numa device?  The first one is used, and
 * the same answer is its first accounting.
 */
static void dom_check(struct vnd_job *job)
{
	struct json_object *ret, *first, *id;
	struct vnd_domain *dm = job->dm;
	struct vn_info info;
	struct vn_err err;
	struct vn_dev dev;
	char *xml;
	bool typed;

	dm->typed = false;	/* written by the domain's job alone */
	xml = dom_device_xml(job);
	if (!xml) {
		dom_set_device(job, "");
		vn_log(LOG_INFO, "%s: no virtio-numa device in its definition",
		       dm->name);
		return;
	}
	typed = lvt_usable(job->dom, xml, err.msg, sizeof(err.msg));
	free(xml);
	if (typed) {
		/* libvirt's own device: its API, never the monitor. */
		dm->typed = true;
		dom_set_device(job, "virtio-numa");
		vn_log(LOG_INFO, "%s: libvirt's virtio-numa device; through "
		       "libvirt's API", dm->name);
		dom_refresh(job);
		return;
	}
	if (dev_open(job, &dev, 0, &err)) {
		dom_error(job, LOG_WARNING, &err);
		return;
	}
	if (conn_execute(dev.conn, "query-virtio-numa", NULL, &ret, &err)) {
		/* A QEMU without our device does not know the command. */
		dom_set_device(job, "");
		vn_log(LOG_INFO, "%s: no virtio-numa device: %s", dm->name,
		       err.msg);
		dev_close(job, &dev);
		return;
	}
	first = json_object_is_type(ret, json_type_array) &&
		json_object_array_length(ret) ?
		json_object_array_get_idx(ret, 0) : NULL;
	if (first && json_object_object_get_ex(first, "id", &id) &&
	    json_object_is_type(id, json_type_string) &&
	    json_object_get_string_len(id) < (int)sizeof(dm->device))
		dom_set_device(job, json_object_get_string(id));
	else
		dom_set_device(job, "");
	/* Only this job writes dm->device while the domain is busy. */
	vn_log(LOG_INFO, "%s: %s%s", dm->name, *dm->device ?
	       "virtio-numa device " : "no virtio-numa device", dm->device);
	if (*dm->device) {
		if (!vn_decode_info(first, &info, &err)) {
			dom_keep_info(job, &info);
		} else {
			vn_err_prefix(&err, "%s/%s: query-virtio-numa: ",
				      dm->name, dm->device);
			dom_error(job, LOG_WARNING, &err);
		}
		vn_info_free(&info);
	}
	json_object_put(ret);
	dev_close(job, &dev);
}

/*
 * The binding plan of one VM, with a fresh query of it; the info
 * queried is kept as the domain's and left in @info for the caller.
 */
static int dom_plan(struct vnd_job *job, struct vn_dev *dev,
		    struct vn_plan *plan, struct vn_err *err)
{
	struct vnd_domain *dm = job->dm;
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
	if (conn_execute(dev->conn, "query-memdev", NULL, &ret, err)) {
		vn_info_free(&info);
		return vn_err_prefix(err, "%s: ", dm->name), -1;
	}
	r = vn_decode_memdevs(ret, &md, &nr_md, err);
	json_object_put(ret);
	if (!r)
		r = vn_plan_binding(&info, md, nr_md, plan, err);
	free(md);
	dom_keep_info(job, &info);
	if (r)
		return vn_err_prefix(err, "%s/%s: ", dm->name, dm->device), -1;
	return 0;
}

/* A relayout sent at @start_ms ended with @res: count it. */
static void dom_count_relayout(struct vnd_job *job, enum vn_result res,
			       long long start_ms)
{
	struct vnd_domain *dm = job->dm;

	vnd_lock(job->d);
	dm->relayouts++;
	dm->relayout_ms += vn_now_ms() - start_ms;
	if (res != VN_OK)
		dm->relayout_failures++;
	job->d->export_due = true;
	vnd_unlock(job->d);
}

static enum vn_result dom_apply(struct vnd_job *job, struct vn_dev *dev,
				const struct vn_plan *plan, struct vn_err *err)
{
	struct vn_relayout_req req = {
		.ranges = plan->ranges, .nr = plan->nr, .wait = true,
	};
	struct vnd_domain *dm = job->dm;
	struct vn_info info = { 0 };
	enum vn_result res;
	long long t;
	uint64_t cid;

	if (!plan->nr) {
		vn_log(LOG_NOTICE, "%s: no block of it can move", dm->name);
		return VN_OK;
	}
	t = vn_now_ms();
	res = vn_relayout(dev, &req, &cid, &info, err);
	if (info.nr_nodes)
		dom_keep_info(job, &info);
	vn_info_free(&info);
	dom_count_relayout(job, res, t);
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
static void dom_migrated(struct vnd_job *job)
{
	struct vnd_domain *dm = job->dm;
	struct vn_plan *plan;
	struct vn_err err;
	struct vn_dev dev;
	bool ready;

	vnd_lock(job->d);
	ready = dm->has_info && dm->info.driver_ready;
	if (!ready) {
		/* The guest's driver answers once it runs; try again. */
		if (++dm->relayout_tries > RELAYOUT_TRIES) {
			vn_log(LOG_WARNING, "%s: no guest driver to relay out "
			       "after the migration; gave up", dm->name);
			dm->relayout_due = false;
		}
		dm->refresh = true;
	} else {
		dm->relayout_due = false;
	}
	vnd_unlock(job->d);
	if (!ready)
		return;
	plan = malloc(sizeof(*plan));
	if (!plan) {
		vn_log(LOG_ERR, "%s: out of memory", dm->name);
		return;
	}
	if (dev_open(job, &dev, RELAYOUT_WAIT_MS, &err)) {
		dom_error(job, LOG_ERR, &err);
		free(plan);
		return;
	}
	if (dom_plan(job, &dev, plan, &err)) {
		dom_error(job, LOG_ERR, &err);
	} else if (plan->in_place) {
		vn_log(LOG_NOTICE, "%s: the layout already matches this "
		       "host's binding", dm->name);
	} else {
		log_plan(LOG_NOTICE, dm->name, plan);
		if (dom_apply(job, &dev, plan, &err) != VN_OK)
			dom_error(job, LOG_ERR, &err);
	}
	dev_close(job, &dev);
	free(plan);
}

/* The periodic work on one VM that vnd_work() found due. */
static void job_work(struct vnd_job *job)
{
	if (job->check)
		dom_check(job);
	/* Only this job changes dm->device while the domain is busy. */
	if (!*job->dm->device)
		return;
	if (job->refresh)
		dom_refresh(job);
	if (job->migrated && job->migration_relayout)
		dom_migrated(job);
}

/* Where a job's plan, move or error goes: the run's JSON and text. */
static void job_fail(struct vnd_job *job, struct vn_err *err)
{
	struct json_object *pj = json_object_new_object();

	json_object_object_add(pj, "domain",
			       json_object_new_string(job->dm->name));
	json_object_object_add(pj, "error", json_object_new_string(err->msg));
	job->result = pj;
	if (asprintf(&job->text, "%s: %s\n", job->dm->name, err->msg) < 0)
		job->text = NULL;
}

/* Binding policy, one VM: its plan, applied if asked. */
static void job_plan(struct vnd_job *job)
{
	struct vnd_domain *dm = job->dm;
	struct vn_plan *plan = malloc(sizeof(*plan));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct json_object *pj;
	struct vn_err err;
	struct vn_dev dev;

	if (!plan || !f) {
		vn_err_set(&err, VN_ERR_IO, "%s: out of memory", dm->name);
		goto fail;
	}
	if (dev_open(job, &dev, RELAYOUT_WAIT_MS, &err))
		goto fail;
	if (dom_plan(job, &dev, plan, &err)) {
		dev_close(job, &dev);
		goto fail;
	}
	vn_plan_print(f, dm->name, plan);
	pj = vn_plan_to_json(dm->name, plan);
	if (job->run->apply && !plan->in_place) {
		enum vn_result res = dom_apply(job, &dev, plan, &err);

		fprintf(f, "  applied: %s%s%s\n", vn_result_name(res),
			res == VN_OK ? "" : ": ", res == VN_OK ? "" : err.msg);
		json_object_object_add(pj, "applied",
				json_object_new_string(vn_result_name(res)));
		if (res != VN_OK)
			json_object_object_add(pj, "error",
					json_object_new_string(err.msg));
	}
	dev_close(job, &dev);
	fclose(f);
	job->result = pj;
	job->text = text;
	free(plan);
	return;
fail:
	if (f)
		fclose(f);
	free(text);
	free(plan);
	job_fail(job, &err);
}

/* Free-memory policy, one VM: its accounting, RAM map and backends. */
static void job_gather(struct vnd_job *job)
{
	struct vnd_domain *dm = job->dm;
	struct json_object *ret;
	struct vn_info info;
	struct vn_err err;
	struct vn_dev dev;
	int r;

	if (dev_open(job, &dev, 0, &err))
		goto fail;
	if (vn_query(&dev, &info, &err) != VN_OK)
		goto close;
	r = conn_execute(dev.conn, "query-virtio-numa-ram", NULL, &ret, &err);
	if (!r) {
		r = vn_decode_ram(ret, &info, &err);
		json_object_put(ret);
	}
	if (!r)
		r = conn_execute(dev.conn, "query-memdev", NULL, &ret, &err);
	if (!r) {
		r = vn_decode_memdevs(ret, &job->md, &job->nr_md, &err);
		json_object_put(ret);
	}
	if (!r)
		dom_keep_info(job, &info);
	vn_info_free(&info);
	if (r) {
		vn_err_prefix(&err, "%s/%s: ", dm->name, dm->device);
		goto close;
	}
	dev_close(job, &dev);
	job->ok = true;
	return;
close:
	dev_close(job, &dev);
fail:
	job_fail(job, &err);
}

/* Free-memory policy: carry out one move, a relayout with host-nodes. */
static void job_move(struct vnd_job *job)
{
	const struct vn_pol_move *m = job->move;
	struct vn_relayout_req req = {
		.ranges = m->ranges, .nr = m->nr, .wait = true,
		.has_host_node = true, .host_node = m->to_host,
	};
	struct vnd_domain *dm = job->dm;
	struct vn_info info = { 0 };
	enum vn_result res;
	struct vn_err err;
	struct vn_dev dev;
	uint64_t cid = 0;
	long long t;

	if (dev_open(job, &dev, RELAYOUT_WAIT_MS, &err)) {
		res = err.res;
	} else {
		t = vn_now_ms();
		res = vn_relayout(&dev, &req, &cid, &info, &err);
		dom_count_relayout(job, res, t);
		if (info.nr_nodes)
			dom_keep_info(job, &info);
		vn_info_free(&info);
		dev_close(job, &dev);
	}
	job->res = res;
	job->ok = res == VN_OK;
	if (job->ok) {
		vn_log(LOG_NOTICE, "%s/%s: relayout %" PRIu64 " done: guest "
		       "node %" PRIu32 " -> %" PRIu32 ", host node %" PRIu32
		       " -> %" PRIu32, dm->name, dm->device, cid,
		       m->from_node, m->to_node, m->from_host, m->to_host);
		if (asprintf(&job->text, "  %s: moved\n", dm->name) < 0)
			job->text = NULL;
	} else {
		job->err = err;
		vn_log(LOG_ERR, "%s", err.msg);
		if (asprintf(&job->text, "  %s: the move failed: %s\n",
			     dm->name, err.msg) < 0)
			job->text = NULL;
	}
}

static void *job_thread(void *arg)
{
	struct vnd_job *job = arg;
	struct vnd *d = job->d;
	sigset_t all;
	char one = 1;

	/* Signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	switch (job->kind) {
	case JOB_WORK:
		job_work(job);
		break;
	case JOB_PLAN:
		job_plan(job);
		break;
	case JOB_GATHER:
		job_gather(job);
		break;
	case JOB_MOVE:
		job_move(job);
		break;
	}
	vnd_lock(d);
	job->next = d->done;
	d->done = job;
	vnd_unlock(d);
	/* Wake the main thread: on_job_done() takes it from there. */
	if (write(d->done_fd[1], &one, 1) < 0 && errno != EAGAIN)
		vn_log(LOG_ERR, "cannot wake the main thread: %s",
		       strerror(errno));
	return NULL;
}

/*
 * A job of @kind on @dm, to be filled in and started with job_run();
 * NULL if @dm is busy, unless @run holds it.  d->lock held.
 */
static struct vnd_job *job_new(struct vnd *d, struct vnd_domain *dm,
			       enum vnd_job_kind kind, struct vnd_run *run)
{
	struct vnd_job *job;

	vn_assert_held(&d->lock);
	if (!dm->dom || (dm->busy && !(run && dm->held == run)))
		return NULL;
	job = calloc(1, sizeof(*job));
	if (!job) {
		vn_log(LOG_ERR, "%s: out of memory", dm->name);
		return NULL;
	}
	job->d = d;
	job->dm = dm;
	job->kind = kind;
	job->run = run;
	job->migration_relayout = d->cfg.migration_relayout;
	job->timeout_ms = d->cfg.monitor_timeout_s * 1000;
	snprintf(job->uri, sizeof(job->uri), "%s", d->conn_uri);
	return job;
}

static void job_free(struct vnd_job *job)
{
	json_object_put(job->result);
	free(job->md);
	free(job->text);
	if (job->dom)
		virDomainFree(job->dom);
	if (job->conn)
		virConnectClose(job->conn);
	free(job);
}

/*
 * Start @job in a thread of its own: 0, or -1 and @job freed.  From
 * here on the job thread owns it until it is on d->done.  d->lock held.
 */
static int job_run(struct vnd *d, struct vnd_job *job)
{
	pthread_attr_t attr;
	pthread_t thread;
	int r;

	vn_assert_held(&d->lock);
	virConnectRef(d->conn);
	job->conn = d->conn;
	virDomainRef(job->dm->dom);
	job->dom = job->dm->dom;
	job->dm->busy = true;
	d->nr_jobs++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&thread, &attr, job_thread, job);
	pthread_attr_destroy(&attr);
	if (!r)
		return 0;
	vn_log(LOG_ERR, "%s: cannot start a thread: %s", job->dm->name,
	       strerror(r));
	if (!job->dm->held)
		job->dm->busy = false;
	d->nr_jobs--;
	job_free(job);
	return -1;
}

/* --- the rebalance policies --- */

static int read_host_nodes(struct vnd *d, struct vn_host_node *hn,
			   size_t *nr, FILE *text)
{
	struct vn_err err;

	if (!vn_read_host_nodes(d->cfg.host_nodes_dir, hn, MAX_HOST_NODES, nr,
				&err))
		return 0;
	vn_log(LOG_WARNING, "host nodes: %s", err.msg);
	fprintf(text, "host nodes: %s\n", err.msg);
	return -1;
}

static struct json_object *host_nodes_json(struct vnd *d, FILE *text)
{
	struct vn_host_node hn[MAX_HOST_NODES];
	struct json_object *a = json_object_new_array(), *o;
	char fr[VN_SIZE_BUF], tot[VN_SIZE_BUF];
	size_t i, nr;

	if (read_host_nodes(d, hn, &nr, text))
		return a;
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

static void run_free(struct vnd_run *run)
{
	if (run->f)
		fclose(run->f);
	free(run->text);
	free(run->res);
	json_object_put(run->homes);
	json_object_put(run->plans);
	json_object_put(run->out);
	free(run);
}

/* All jobs of @run are done: answer whoever asked, or log it. */
static void run_finish(struct vnd *d, struct vnd_run *run)
{
	struct vnd_domain *dm;

	for (dm = d->domains; dm; dm = dm->next)
		if (dm->held == run) {
			dm->held = NULL;
			dm->busy = false;
		}
	fclose(run->f);
	run->f = NULL;
	json_object_object_add(run->out, run->policy == VND_POLICY_BINDING ?
			       "domains" : "moves", run->plans);
	run->plans = NULL;
	json_object_object_add(run->out, "text",
			       json_object_new_string(run->text));
	if (run->client) {
		client_done(run->client, ctl_reply_ok(run->out));
		run->out = NULL;
	} else {
		log_lines(LOG_INFO, "rebalance: ", run->text);
	}
	d->export_due = true;
	run_free(run);
}

/* The what-if home of each guest node of @name; false if none given. */
static bool run_homes(struct vnd_run *run, const char *name, int *homes,
		      size_t *nr)
{
	struct json_object *g;

	*nr = 0;
	if (!run->homes || !json_object_object_get_ex(run->homes, name, &g))
		return false;
	/* Checked by homes_check() when the request came. */
	json_object_object_foreach(g, key, val) {
		size_t node = strtoul(key, NULL, 10);

		while (*nr <= node)
			homes[(*nr)++] = -1;
		homes[node] = json_object_get_int(val);
	}
	return true;
}

/*
 * The free-memory policy, once every VM's figures are in: decide, and
 * if asked start the moves.  d->lock held.
 */
static void run_decide(struct vnd *d, struct vnd_run *run)
{
	struct vn_host_node hn[MAX_HOST_NODES];
	struct vn_pol_params p = {
		.low_pct = d->cfg.free_low_pct,
		.high_pct = d->cfg.free_high_pct,
		.max_bytes = d->cfg.move_max,
		.cooldown_s = d->cfg.move_cooldown_s,
	};
	struct vn_pol_guest *g = calloc(VN_POL_MAX_GUESTS, sizeof(*g));
	struct vnd_domain *dms[VN_POL_MAX_GUESTS], *dm;
	int (*homes)[VN_PLAN_NODES] = calloc(VN_POL_MAX_GUESTS,
					     sizeof(*homes));
	struct json_object *mj;
	struct vn_err err;
	size_t i, nr_g = 0, nr_hn = 0;

	vn_assert_held(&d->lock);
	run->decided = true;
	run->res = malloc(sizeof(*run->res));
	if (!g || !homes || !run->res) {
		fprintf(run->f, "out of memory\n");
		goto out;
	}
	if (read_host_nodes(d, hn, &nr_hn, run->f))
		goto out;
	for (dm = d->domains; dm && nr_g < VN_POL_MAX_GUESTS; dm = dm->next) {
		if (dm->held != run || !dm->gathered)
			continue;
		g[nr_g] = (struct vn_pol_guest){
			.name = dm->name, .info = &dm->info, .md = dm->md,
			.nr_md = dm->nr_md, .moved = dm->moved,
			.nr_moved = dm->nr_moved,
			.last_move_s = dm->last_move_s,
		};
		if (run_homes(run, dm->name, homes[nr_g], &g[nr_g].nr_homes))
			g[nr_g].homes = homes[nr_g];
		dms[nr_g++] = dm;
	}
	if (vn_policy_decide(&p, hn, nr_hn, g, nr_g, wall_s(), run->res,
			     run->f, &err)) {
		fprintf(run->f, "%s\n", err.msg);
		goto out;
	}
	for (i = 0; i < run->res->nr; i++) {
		const struct vn_pol_move *m = &run->res->moves[i];
		struct vnd_job *job;

		mj = vn_policy_move_json(m, dms[m->guest]->name);
		json_object_array_add(run->plans, mj);
		if (!run->apply)
			continue;
		/* The job's result: run_job_done() says how it went. */
		job = job_new(d, dms[m->guest], JOB_MOVE, run);
		if (job) {
			job->move = m;
			job->result = json_object_get(mj);
		}
		if (!job || job_run(d, job)) {
			json_object_object_add(mj, "applied",
					json_object_new_string("failed"));
			continue;
		}
		run->pending++;
	}
	if (run->apply && run->res->nr)
		fprintf(run->f, "applying %zu move%s:\n", run->res->nr,
			run->res->nr == 1 ? "" : "s");
out:
	free(g);
	free(homes);
}

/*
 * Rebalance every VM with a device, or only @only, under @policy: one
 * job per VM, all at once.  The answer goes to @client (or to the log)
 * when the last job is done; a VM busy with other work is reported so,
 * not waited for.  d->lock held; takes @homes.
 */
static void vnd_rebalance(struct vnd *d, const char *only, bool apply,
			  enum vnd_policy policy, struct json_object *homes,
			  struct vnd_client *client)
{
	struct vnd_run *run = calloc(1, sizeof(*run));
	struct json_object *pj;
	struct vnd_domain *dm;
	struct vnd_job *job;
	enum vnd_job_kind kind = policy == VND_POLICY_BINDING ? JOB_PLAN :
				 JOB_GATHER;

	vn_assert_held(&d->lock);
	if (run) {
		run->f = open_memstream(&run->text, &run->len);
		run->out = json_object_new_object();
		run->plans = json_object_new_array();
	}
	if (!run || !run->f || !run->out || !run->plans) {
		json_object_put(homes);
		if (run)
			run_free(run);
		if (client)
			client_done(client, ctl_reply_error("out of memory"));
		return;
	}
	run->client = client;
	run->apply = apply;
	run->policy = policy;
	run->homes = homes;
	json_object_object_add(run->out, "policy",
			json_object_new_string(config_policy_name(policy)));
	json_object_object_add(run->out, "host-nodes",
			       host_nodes_json(d, run->f));
	for (dm = d->domains; dm; dm = dm->next) {
		if (!dm->dom || dm->gone || !*dm->device ||
		    (only && strcmp(only, dm->name)))
			continue;
		job = job_new(d, dm, kind, run);
		if (job && !job_run(d, job)) {
			if (kind == JOB_GATHER)
				dm->held = run;
			run->pending++;
			continue;
		}
		fprintf(run->f, "%s: busy with earlier work; left out\n",
			dm->name);
		pj = json_object_new_object();
		json_object_object_add(pj, "domain",
				       json_object_new_string(dm->name));
		json_object_object_add(pj, "error", json_object_new_string(
				"busy with earlier work; try again"));
		if (kind == JOB_PLAN)
			json_object_array_add(run->plans, pj);
		else
			json_object_put(pj);
	}
	if (!run->pending && kind == JOB_GATHER)
		run_decide(d, run);
	if (!run->pending)
		run_finish(d, run);
}

/* d->lock held. */
static void vnd_rebalance_timed(struct vnd *d)
{
	vn_assert_held(&d->lock);
	if (d->cfg.rebalance == VND_REBALANCE_OFF ||
	    vn_now_ms() < d->next_rebalance_ms || !d->conn)
		return;
	d->next_rebalance_ms = vn_now_ms() +
			       d->cfg.rebalance_interval_s * 1000LL;
	vnd_rebalance(d, NULL, d->cfg.rebalance == VND_REBALANCE_APPLY,
		      d->cfg.policy, NULL, NULL);
}

/* A move is done: where its ranges are now, and when it moved. */
static void dom_moved(struct vnd_domain *dm, const struct vn_pol_move *m)
{
	size_t i;

	for (i = 0; i < m->nr; i++) {
		if (dm->nr_moved == VN_POL_MAX_MOVED) {
			vn_log(LOG_WARNING, "%s: too many moved ranges to "
			       "remember; forgetting the oldest", dm->name);
			memmove(dm->moved, dm->moved + 1,
				(VN_POL_MAX_MOVED - 1) * sizeof(dm->moved[0]));
			dm->nr_moved--;
		}
		dm->moved[dm->nr_moved++] = (struct vn_pol_moved){
			m->ranges[i].addr, m->ranges[i].size, m->to_node,
			m->to_host,
		};
	}
	dm->last_move_s = wall_s();
}

/* A job of @run is done: take in what it found. */
static void run_job_done(struct vnd *d, struct vnd_run *run,
			 struct vnd_job *job)
{
	struct vnd_domain *dm = job->dm;

	if (job->text)
		fputs(job->text, run->f);
	switch (job->kind) {
	case JOB_PLAN:
		json_object_array_add(run->plans, job->result);
		job->result = NULL;
		break;
	case JOB_GATHER:
		dm->gathered = job->ok;
		free(dm->md);
		dm->md = job->md;
		dm->nr_md = job->nr_md;
		job->md = NULL;
		if (!job->ok) {
			/* Not part of the decision: free at once. */
			dm->held = NULL;
			dm->busy = false;
		}
		break;
	case JOB_MOVE:
		json_object_object_add(job->result, "applied",
				json_object_new_string(vn_result_name(job->res)));
		if (job->ok)
			dom_moved(dm, job->move);
		else
			json_object_object_add(job->result, "error",
					json_object_new_string(job->err.msg));
		break;
	case JOB_WORK:
		break;
	}
	if (--run->pending)
		return;
	if (run->policy == VND_POLICY_FREE_MEMORY && !run->decided)
		run_decide(d, run);
	if (!run->pending)
		run_finish(d, run);
}

/* A job is done: its domain is free again, its run a step further. */
static void job_done(struct vnd *d, struct vnd_job *job)
{
	struct vnd_domain *dm = job->dm;

	if (!dm->held)
		dm->busy = false;
	d->nr_jobs--;
	d->export_due = true;
	if (job->run)
		run_job_done(d, job->run, job);
	job_free(job);
}

static void on_job_done(int watch, int fd, int events, void *opaque)
{
	struct vnd *d = opaque;
	struct vnd_job *job;
	char buf[64];

	(void)watch;
	(void)events;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	vnd_lock(d);
	while ((job = d->done)) {
		d->done = job->next;
		job_done(d, job);
	}
	vnd_unlock(d);
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
	json_object_object_add(o, "moved-ranges",
			       json_object_new_int64(dm->nr_moved));
	json_object_object_add(o, "last-move",
			       json_object_new_int64(dm->last_move_s));
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

/* Write @path whole with what @write puts in it, or leave the old one. */
static void write_whole(const char *path, void (*write)(struct vnd *d,
							 FILE *f),
			struct vnd *d)
{
	char tmp[PATH_MAX];
	FILE *f;
	int ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return;
	f = fopen(tmp, "w");
	if (f)
		write(d, f);
	ok = f && !ferror(f);
	if (f) {
		/* For readers other than root: a scraper, a dashboard. */
		ok = ok && !fchmod(fileno(f), 0644);
		ok = !fclose(f) && ok;
	}
	if (!ok || rename(tmp, path)) {
		vn_log(LOG_WARNING, "cannot write %s: %s", path,
		       strerror(errno));
		unlink(tmp);
	}
}

static void export_json(struct vnd *d, FILE *f)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "updated", json_object_new_int64(wall_s()));
	json_object_object_add(o, "domains", domains_json(d, NULL));
	fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY), f);
	fputc('\n', f);
	json_object_put(o);
}

static void export_metrics(struct vnd *d, FILE *f)
{
	struct vn_metrics_domain *md;
	struct vnd_domain *dm;
	size_t nr = 0;

	for (dm = d->domains; dm; dm = dm->next)
		nr++;
	md = calloc(nr ? nr : 1, sizeof(*md));
	if (!md) {
		fputs("# out of memory\n", f);
		return;
	}
	nr = 0;
	for (dm = d->domains; dm; dm = dm->next) {
		if (!*dm->device)
			continue;
		md[nr++] = (struct vn_metrics_domain){
			.name = dm->name,
			.info = dm->has_info ? &dm->info : NULL,
			.updated = dm->updated,
			.relayouts = dm->relayouts,
			.relayout_failures = dm->relayout_failures,
			.relayout_seconds = dm->relayout_ms / 1000.0,
			.moved_ranges = dm->nr_moved,
		};
	}
	vn_metrics_write(f, md, nr, d->conn && !d->lost);
	free(md);
}

/* The export file and the metrics, each whole.  d->lock held. */
static void vnd_export(struct vnd *d)
{
	vn_assert_held(&d->lock);
	d->export_due = false;
	if (*d->cfg.export_path)
		write_whole(d->cfg.export_path, export_json, d);
	if (*d->cfg.metrics_path)
		write_whole(d->cfg.metrics_path, export_metrics, d);
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
	json_object_object_add(o, "policy", json_object_new_string(
				config_policy_name(d->cfg.policy)));
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
/*
 * A rebalance's what-if homes: {"DOMAIN": {"GUEST-NODE": HOST-NODE or
 * -1, ...}, ...}.  0, or -1 and why in @msg.
 */
static int homes_check(struct json_object *homes, char *msg, size_t len)
{
	char *end;

	if (!json_object_is_type(homes, json_type_object))
		return snprintf(msg, len, "'homes' is not an object"), -1;
	json_object_object_foreach(homes, dom, g) {
		if (!json_object_is_type(g, json_type_object))
			return snprintf(msg, len, "'homes': '%.64s' is not an "
					"object", dom), -1;
		json_object_object_foreach(g, key, val) {
			unsigned long node;
			int64_t host;

			errno = 0;
			node = strtoul(key, &end, 10);
			if (!*key || *end || errno || node >= VN_PLAN_NODES ||
			    !isdigit((unsigned char)*key))
				return snprintf(msg, len, "'homes': '%.64s': "
						"'%.32s' is not a guest node "
						"(0 to %d)", dom, key,
						VN_PLAN_NODES - 1), -1;
			host = json_object_get_int64(val);
			if (!json_object_is_type(val, json_type_int) ||
			    host < -1 || host >= VN_HOST_NODE_LIMIT)
				return snprintf(msg, len, "'homes': '%.64s': "
						"node %lu: not a host node "
						"(0 to %d, or -1 for none)",
						dom, node,
						VN_HOST_NODE_LIMIT - 1), -1;
		}
	}
	return 0;
}

/* A deferred request (rebalance), now that the VMs may be asked. */
static void client_deferred(struct vnd *d, struct vnd_client *c)
{
	struct json_object *args = NULL, *v, *homes = NULL;
	enum vnd_policy policy = d->cfg.policy;
	const char *dom = NULL;
	bool apply = false;
	char *reply, msg[512];
	struct vn_err err;

	json_object_object_get_ex(c->req, "arguments", &args);
	if (args && json_object_object_get_ex(args, "apply", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			client_done(c, ctl_reply_error("'apply' is not a "
						       "boolean"));
			return;
		}
		apply = json_object_get_boolean(v);
	}
	if (args && json_object_object_get_ex(args, "policy", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    config_policy_parse(json_object_get_string(v), &policy,
					&err)) {
			snprintf(msg, sizeof(msg), "'policy': %.400s",
				 json_object_is_type(v, json_type_string) ?
				 err.msg : "not a string");
			client_done(c, ctl_reply_error(msg));
			return;
		}
	}
	if (args && json_object_object_get_ex(args, "homes", &homes)) {
		if (homes_check(homes, msg, sizeof(msg))) {
			client_done(c, ctl_reply_error(msg));
			return;
		}
		if (policy != VND_POLICY_FREE_MEMORY) {
			client_done(c, ctl_reply_error("'homes' is for the "
						       "free-memory policy"));
			return;
		}
	}
	if (args && json_object_object_get_ex(args, "domain", &v))
		dom = json_object_get_string(v);
	if (!d->conn)
		reply = ctl_reply_error("not connected to libvirt");
	else if (dom && !dom_usable(d, dom, msg, sizeof(msg)))
		reply = ctl_reply_error(msg);
	else {
		/* Answered when the run's last job is done. */
		c->started = true;
		vnd_rebalance(d, dom, apply, policy, json_object_get(homes),
			      c);
		return;
	}
	client_done(c, reply);
}

static void on_client_locked(struct vnd_client *c, int watch, int fd,
			     int events)
{
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

static void on_client(int watch, int fd, int events, void *opaque)
{
	struct vnd_client *c = opaque;
	struct vnd *d = c->d;

	vnd_lock(d);
	on_client_locked(c, watch, fd, events);
	vnd_unlock(d);
}

static void on_accept_locked(struct vnd *d, int fd)
{
	struct vnd_client *c;
	unsigned int uid = 0;
	int cfd;

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

static void on_accept(int watch, int fd, int events, void *opaque)
{
	struct vnd *d = opaque;

	(void)watch;
	(void)events;
	vnd_lock(d);
	on_accept_locked(d, fd);
	vnd_unlock(d);
}

/* --- signals and the loop --- */

static void on_signal(int watch, int fd, int events, void *opaque)
{
	struct vnd *d = opaque;
	struct signalfd_siginfo si;

	(void)watch;
	(void)events;
	vnd_lock(d);
	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			d->reload = true;
		} else {
			vn_log(LOG_NOTICE, "signal %u: shutting down",
			       si.ssi_signo);
			d->quit = true;
		}
	}
	vnd_unlock(d);
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
	struct vnd_job *job;
	struct vnd_client *c;

	if (d->reload)
		vnd_reload(d);
	if (d->lost)
		vnd_disconnect(d);
	if (!d->conn && vn_now_ms() >= d->next_connect_ms)
		vnd_connect(d);
	/* Each VM's due work in a job of its own, if it has none yet. */
	for (dm = d->domains; dm && d->conn && !d->lost && !d->quit;
	     dm = dm->next) {
		bool check = !dm->checked;
		bool refresh = dm->refresh && (check || *dm->device);
		bool migrated = dm->relayout_due && (check || *dm->device);

		if (!dm->dom || dm->gone || dm->busy ||
		    !(check || refresh || migrated))
			continue;
		job = job_new(d, dm, JOB_WORK, NULL);
		if (!job)
			continue;
		job->check = check;
		job->refresh = refresh;
		job->migrated = migrated;
		if (!job_run(d, job))
			dm->refresh = false;
	}
	/*
	 * From the head each time: client_done() takes the client off
	 * the list.
	 */
	for (;;) {
		for (c = d->clients; c && (!c->req || c->started);
		     c = c->next)
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
	d->done_fd[0] = d->done_fd[1] = d->done_watch = -1;
	vn_mutex_init(&d->lock);
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
	if (pipe2(d->done_fd, O_CLOEXEC | O_NONBLOCK)) {
		vn_log(LOG_ERR, "pipe: %s", strerror(errno));
		return -1;
	}
	d->done_watch = virEventAddHandle(d->done_fd[0],
					  VIR_EVENT_HANDLE_READABLE,
					  on_job_done, d, NULL);
	if (d->listen_watch < 0 || d->signal_watch < 0 || d->tick < 0 ||
	    d->done_watch < 0) {
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
	int r;

	vnd_lock(d);
	vnd_work(d);
	while (!d->quit) {
		/* Callbacks take the lock: they run in here. */
		vnd_unlock(d);
		r = virEventRunDefaultImpl();
		vnd_lock(d);
		if (r < 0) {
			vn_log(LOG_ERR, "libvirt's event loop failed: %s",
			       lv_err());
			break;
		}
		vnd_work(d);
	}
	vnd_unlock(d);
}

void vnd_stop(struct vnd *d)
{
	struct vnd_domain *dm;

	/*
	 * Jobs still waiting for a QEMU are left to the exit: their
	 * domains and d->lock stay, the rest goes.
	 */
	vnd_lock(d);
	if (d->nr_jobs)
		vn_log(LOG_NOTICE, "leaving %u jobs that wait for QEMU",
		       d->nr_jobs);
	while (d->clients)
		client_done(d->clients,
			    ctl_reply_error("vnumad is shutting down"));
	if (d->done_watch >= 0)
		virEventRemoveHandle(d->done_watch);
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
	if (*d->cfg.metrics_path)
		unlink(d->cfg.metrics_path);
	vnd_disconnect(d);
	while ((dm = d->domains)) {
		d->domains = dm->next;
		if (!dm->busy)
			dom_free(dm);
	}
	vnd_unlock(d);
	vn_log(LOG_NOTICE, "stopped");
}
