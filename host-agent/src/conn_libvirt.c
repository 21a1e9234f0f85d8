// SPDX-License-Identifier: GPL-2.0
/*
 * The libvirt connection backend: QMP commands go through
 * virDomainQemuMonitorCommand(), QMP events come from a QEMU monitor
 * event callback, so libvirt keeps its monitor and we share it.
 *
 * libvirt dispatches callbacks only from its event loop, which runs
 * here in next_event() alone: callbacks queue the events, next_event()
 * runs the loop until one is queued or a timer it set fires.  Events
 * that arrive while a command runs wait in libvirt until then.
 *
 * A shared connection (vnumad) is used from a job thread while the
 * daemon's main thread runs the event loop and passes the domain's
 * events on: there next_event() waits on a condition variable instead,
 * and @lock protects what both threads touch (the queue, @stopped).
 *
 * virDomainQemuMonitorCommand() waits for QEMU as long as it takes; to
 * give up after --timeout as the QMP backend does, it runs in a thread
 * of its own that is left behind if QEMU does not answer in time.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

#include "conn.h"
#include "conn_libvirt.h"
#include "lock.h"
#include "log.h"
#include "qmp.h"

/* Ping an idle libvirtd every 5 s; give up after 6 missed answers. */
#define KEEPALIVE_INTERVAL_S	5
#define KEEPALIVE_COUNT		6

struct lv_conn {
	virConnectPtr conn;
	virDomainPtr dom;
	char *uri;
	char *domain;
	int mon_cb;		/* QEMU monitor event callback id, or -1 */
	int life_cb;		/* lifecycle event callback id, or -1 */
	int timer;		/* bounds one event loop run, or -1 */
	bool timer_fired;
	bool close_cb;		/* the close callback is registered */
	bool nomem;		/* an event was lost for lack of memory */
	int timeout_ms;		/* for replies; < 0: none */
	char stuck[64];		/* a command that got no reply in time */
	int closed;		/* the connection closed: 1 + reason */
	int stopped;		/* the domain stopped: 1 + detail */
	struct qmp_queue events;
	bool shared;		/* events come from conn_shared_event() */
	pthread_mutex_t lock;	/* @events, @closed, @stopped, @nomem */
	pthread_cond_t cond;	/* shared: signalled when they change */
};

/* --- the pure half --- */

void lv_one_line(char *buf, size_t len, const char *msg)
{
	size_t i;

	snprintf(buf, len, "%s", msg ? msg : "unknown libvirt error");
	for (i = 0; buf[i]; i++)
		if (buf[i] == '\n' || buf[i] == '\r')
			buf[i] = ' ';
	while (i && buf[i - 1] == ' ')
		buf[--i] = '\0';
}

struct json_object *lv_event_new(const char *name, long long seconds,
				 unsigned int micros, const char *details)
{
	struct json_object *ev = json_object_new_object();
	struct json_object *ts = json_object_new_object();
	struct json_object *data = NULL;

	if (!ev || !ts)
		goto nomem;
	if (details) {
		data = json_tokener_parse(details);
		/* Not JSON: keep the text, the decoders will say so. */
		if (!data)
			data = json_object_new_string(details);
		if (!data)
			goto nomem;
	}
	if (json_object_object_add(ts, "seconds",
				   json_object_new_int64(seconds)) ||
	    json_object_object_add(ts, "microseconds",
				   json_object_new_int64(micros)) ||
	    json_object_object_add(ev, "event",
				   json_object_new_string(name)))
		goto nomem;
	if (data && json_object_object_add(ev, "data", data))
		goto nomem;
	data = NULL;
	if (json_object_object_add(ev, "timestamp", ts)) {
		ts = NULL;
		goto nomem;
	}
	return ev;
nomem:
	json_object_put(data);
	json_object_put(ts);
	json_object_put(ev);
	return NULL;
}

int lv_parse_reply(const char *name, const char *text,
		   struct json_object **reply, struct vn_err *err)
{
	struct json_object *msg;

	*reply = NULL;
	msg = text ? json_tokener_parse(text) : NULL;
	switch (qmp_msg_kind(msg)) {
	case QMP_MSG_RETURN:
	case QMP_MSG_ERROR:
		*reply = msg;
		return 0;
	default:
		json_object_put(msg);
		return vn_err_set(err, VN_ERR_IO, "libvirt answered %s with "
				  "neither a return nor an error: %.200s",
				  name, text ? text : "nothing"), -1;
	}
}

/* --- libvirt --- */

/* libvirt prints errors to stderr unless told otherwise; we report. */
static void lv_error_func(void *opaque, virErrorPtr e)
{
	(void)opaque;
	if (e && e->message)
		vn_log(LOG_DEBUG, "libvirt: %s", e->message);
}

/* The last libvirt error of this thread, as one line. */
static const char *lv_last_error(char *buf, size_t len)
{
	lv_one_line(buf, len, virGetLastErrorMessage());
	return buf;
}

/*
 * libvirt writes to its socket with write(): if libvirtd is gone, that
 * raises SIGPIPE, which would kill us without a word.  Block it around
 * libvirt calls and drop one raised meanwhile: the call fails instead.
 */
static void pipe_block(sigset_t *old)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &s, old);
}

static void pipe_restore(const sigset_t *old)
{
	struct timespec zero = { 0, 0 };
	sigset_t s, pending;

	if (!sigismember(old, SIGPIPE)) {
		sigemptyset(&s);
		sigaddset(&s, SIGPIPE);
		if (!sigpending(&pending) && sigismember(&pending, SIGPIPE))
			sigtimedwait(&s, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static int lv_init(struct vn_err *err)
{
	static bool done;
	char msg[512];

	if (done)
		return 0;
	virSetErrorFunc(NULL, lv_error_func);
	if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
		return vn_err_set(err, VN_ERR_IO, "cannot initialize libvirt: "
				  "%s", lv_last_error(msg, sizeof(msg))), -1;
	done = true;
	return 0;
}

static void lv_on_event(virConnectPtr conn, virDomainPtr dom,
			const char *event, long long seconds,
			unsigned int micros, const char *details, void *opaque)
{
	struct lv_conn *lv = opaque;
	struct json_object *ev;

	(void)conn;
	(void)dom;
	ev = lv_event_new(event, seconds, micros, details);
	if (ev)
		vn_log(LOG_DEBUG, "<- %s", qmp_json_str(ev));
	vn_mutex_lock(&lv->lock);
	if (!ev || qmp_queue_push(&lv->events, ev)) {
		json_object_put(ev);
		lv->nomem = true;
	}
	pthread_cond_signal(&lv->cond);
	vn_mutex_unlock(&lv->lock);
}

static int lv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			   int detail, void *opaque)
{
	struct lv_conn *lv = opaque;

	(void)conn;
	(void)dom;
	vn_mutex_lock(&lv->lock);
	if (event == VIR_DOMAIN_EVENT_STOPPED && !lv->stopped)
		lv->stopped = 1 + detail;
	vn_mutex_unlock(&lv->lock);
	return 0;
}

static void lv_on_close(virConnectPtr conn, int reason, void *opaque)
{
	struct lv_conn *lv = opaque;

	(void)conn;
	vn_mutex_lock(&lv->lock);
	if (!lv->closed)
		lv->closed = 1 + reason;
	vn_mutex_unlock(&lv->lock);
}

static void lv_on_timer(int timer, void *opaque)
{
	struct lv_conn *lv = opaque;

	virEventUpdateTimeout(timer, -1);
	lv->timer_fired = true;
}

static const char *lv_close_reason(int reason)
{
	switch (reason) {
	case VIR_CONNECT_CLOSE_REASON_ERROR:
		return "a socket error";
	case VIR_CONNECT_CLOSE_REASON_EOF:
		return "libvirtd closed it";
	case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
		return "libvirtd stopped answering keepalives";
	case VIR_CONNECT_CLOSE_REASON_CLIENT:
		return "closed by us";
	default:
		return "unknown reason";
	}
}

const char *conn_libvirt_stop_reason(int detail)
{
	switch (detail) {
	case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
		return "it shut down";
	case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
		return "it was destroyed";
	case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
		return "it crashed";
	case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
		return "it migrated";
	case VIR_DOMAIN_EVENT_STOPPED_SAVED:
		return "it was saved";
	case VIR_DOMAIN_EVENT_STOPPED_FAILED:
		return "QEMU failed";
	default:
		return "it stopped";
	}
}

/* Whatever the callbacks saw go wrong: 0, or -1 and @err; @lock held. */
static int lv_check(struct lv_conn *lv, struct vn_err *err)
{
	vn_assert_held(&lv->lock);
	if (lv->nomem)
		return vn_err_set(err, VN_ERR_IO, "out of memory: a QEMU "
				  "event from libvirt was lost"), -1;
	if (lv->closed)
		return vn_err_set(err, VN_ERR_IO, "the libvirt connection to "
				  "%s was lost: %s", lv->uri,
				  lv_close_reason(lv->closed - 1)), -1;
	if (lv->stopped)
		return vn_err_set(err, VN_ERR_IO, "the domain is not running "
				  "any more: %s",
				  conn_libvirt_stop_reason(lv->stopped - 1)), -1;
	return 0;
}

/* CLOCK_MONOTONIC @ms from now, for pthread_cond_timedwait(). */
static void monotonic_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* One virDomainQemuMonitorCommand(), shared with the thread running it. */
struct lv_call {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;
	bool done;
	virDomainPtr dom;
	char *cmd;
	char *result;
	int r;
	char msg[512];
};

static void lv_call_put(struct lv_call *call)
{
	bool last;

	pthread_mutex_lock(&call->lock);
	last = !--call->refs;
	pthread_mutex_unlock(&call->lock);
	if (!last)
		return;
	pthread_cond_destroy(&call->cond);
	pthread_mutex_destroy(&call->lock);
	free(call->cmd);
	free(call->result);
	free(call);
}

static void lv_call_run(struct lv_call *call)
{
	char *result = NULL;
	sigset_t old;
	int r;

	pipe_block(&old);
	r = virDomainQemuMonitorCommand(call->dom, call->cmd, &result, 0);
	pthread_mutex_lock(&call->lock);
	call->r = r;
	call->result = result;
	if (r < 0)
		lv_last_error(call->msg, sizeof(call->msg));
	call->done = true;
	pthread_cond_signal(&call->cond);
	pthread_mutex_unlock(&call->lock);
	pipe_restore(&old);
}

static void *lv_call_thread(void *arg)
{
	sigset_t all;

	/* Signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	lv_call_run(arg);
	lv_call_put(arg);
	return NULL;
}

static struct lv_call *lv_call_new(virDomainPtr dom, const char *cmd)
{
	struct lv_call *call = calloc(1, sizeof(*call));
	pthread_condattr_t ca;

	if (!call)
		return NULL;
	call->cmd = strdup(cmd);
	if (!call->cmd) {
		free(call);
		return NULL;
	}
	call->dom = dom;
	call->refs = 1;
	pthread_mutex_init(&call->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&call->cond, &ca);
	pthread_condattr_destroy(&ca);
	return call;
}

/*
 * Run @call within @timeout_ms (< 0: as long as it takes): true when
 * it is done, false when it was left running.
 */
static bool lv_call_wait(struct lv_call *call, int timeout_ms)
{
	struct timespec ts;
	pthread_attr_t attr;
	pthread_t thread;
	bool done;
	int r;

	if (timeout_ms < 0) {
		lv_call_run(call);
		return true;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	call->refs++;
	r = pthread_create(&thread, &attr, lv_call_thread, call);
	pthread_attr_destroy(&attr);
	if (r) {
		/* No thread: wait in this one, as long as it takes. */
		call->refs--;
		lv_call_run(call);
		return true;
	}
	monotonic_after(&ts, timeout_ms);
	pthread_mutex_lock(&call->lock);
	r = 0;
	while (!call->done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&call->cond, &call->lock, &ts);
	done = call->done;
	pthread_mutex_unlock(&call->lock);
	return done;
}

static int lv_execute(struct vn_conn *c, struct json_object *cmd,
		      struct json_object **reply, struct vn_err *err)
{
	struct lv_conn *lv = c->priv;
	int closed, stopped, r = -1;
	struct lv_call *call;
	struct json_object *v;
	char name[64];
	bool done;

	*reply = NULL;
	snprintf(name, sizeof(name), "%s",
		 json_object_object_get_ex(cmd, "execute", &v) &&
		 json_object_is_type(v, json_type_string) ?
		 json_object_get_string(v) : "?");
	if (*lv->stuck) {
		json_object_put(cmd);
		return vn_err_set(err, VN_ERR_IO, "cannot run %s: QEMU did not "
				  "answer %s yet", name, lv->stuck), -1;
	}
	vn_log(LOG_DEBUG, "-> %s", qmp_json_str(cmd));
	call = lv_call_new(lv->dom, qmp_json_str(cmd));
	json_object_put(cmd);
	if (!call)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	done = lv_call_wait(call, lv->timeout_ms);
	vn_mutex_lock(&lv->lock);
	closed = lv->closed;
	stopped = lv->stopped;
	vn_mutex_unlock(&lv->lock);
	if (!done) {
		snprintf(lv->stuck, sizeof(lv->stuck), "%s", name);
		vn_err_set(err, VN_ERR_IO, "no reply to %s within %.1f s "
			   "(libvirt still waits for QEMU)", name,
			   lv->timeout_ms / 1000.0);
	} else if (call->r < 0 && closed) {
		/* Say why, if a callback told us. */
		vn_err_set(err, VN_ERR_IO, "libvirt could not run %s: the "
			   "connection to %s was lost (%s): %s", name,
			   lv->uri, lv_close_reason(closed - 1), call->msg);
	} else if (call->r < 0 && stopped) {
		vn_err_set(err, VN_ERR_IO, "libvirt could not run %s: the "
			   "domain is not running any more (%s): %s", name,
			   conn_libvirt_stop_reason(stopped - 1), call->msg);
	} else if (call->r < 0) {
		vn_err_set(err, VN_ERR_IO, "libvirt could not run %s: %s",
			   name, call->msg);
	} else {
		vn_log(LOG_DEBUG, "<- %s", call->result);
		r = lv_parse_reply(name, call->result, reply, err);
	}
	lv_call_put(call);
	return r;
}

/*
 * A shared connection's next event: the main thread runs the event
 * loop and queues the domain's events, this (job) thread only waits.
 */
static int lv_next_event_shared(struct lv_conn *lv, int timeout_ms,
				struct json_object **ev, struct vn_err *err)
{
	long long deadline = vn_deadline(timeout_ms);
	struct timespec ts;
	int left, r = 0;

	vn_mutex_lock(&lv->lock);
	for (;;) {
		if (lv->events.len) {
			*ev = qmp_queue_take(&lv->events, 0);
			r = 1;
			break;
		}
		if (lv_check(lv, err)) {
			r = -1;
			break;
		}
		left = vn_left_ms(deadline);
		if (!left)
			break;
		monotonic_after(&ts, left);
		pthread_cond_timedwait(&lv->cond, &lv->lock, &ts);
	}
	vn_mutex_unlock(&lv->lock);
	return r;
}

static int lv_next_event(struct vn_conn *c, int timeout_ms,
			 struct json_object **ev, struct vn_err *err)
{
	struct lv_conn *lv = c->priv;
	long long deadline = vn_deadline(timeout_ms);
	bool first = true;
	char msg[512];
	sigset_t old;
	int left, r;

	*ev = NULL;
	if (lv->shared)
		return lv_next_event_shared(lv, timeout_ms, ev, err);
	for (;;) {
		vn_mutex_lock(&lv->lock);
		if (lv->events.len)
			*ev = qmp_queue_take(&lv->events, 0);
		r = *ev ? 1 : lv_check(lv, err);
		vn_mutex_unlock(&lv->lock);
		if (r)
			return r;
		left = vn_left_ms(deadline);
		/* A zero timeout still collects what libvirt has. */
		if (!first && (!left || lv->timer_fired))
			return 0;
		first = false;
		lv->timer_fired = false;
		virEventUpdateTimeout(lv->timer, left);
		pipe_block(&old);
		r = virEventRunDefaultImpl();
		if (r < 0)
			lv_last_error(msg, sizeof(msg));
		pipe_restore(&old);
		virEventUpdateTimeout(lv->timer, -1);
		if (r < 0)
			return vn_err_set(err, VN_ERR_IO, "libvirt's event "
					  "loop failed: %s", msg), -1;
	}
}

static void lv_free(struct lv_conn *lv)
{
	sigset_t old;

	if (!lv)
		return;
	pipe_block(&old);
	if (lv->mon_cb >= 0)
		virConnectDomainQemuMonitorEventDeregister(lv->conn,
							   lv->mon_cb);
	if (lv->life_cb >= 0)
		virConnectDomainEventDeregisterAny(lv->conn, lv->life_cb);
	if (lv->close_cb)
		virConnectUnregisterCloseCallback(lv->conn, lv_on_close);
	if (lv->timer >= 0)
		virEventRemoveTimeout(lv->timer);
	/*
	 * A thread still waits in a call on the domain: leave it the
	 * domain and the connection (a process that exits soon).
	 */
	if (!*lv->stuck && lv->dom)
		virDomainFree(lv->dom);
	if (!*lv->stuck && lv->conn)
		virConnectClose(lv->conn);
	pipe_restore(&old);
	qmp_queue_clear(&lv->events);
	pthread_cond_destroy(&lv->cond);
	pthread_mutex_destroy(&lv->lock);
	free(lv->uri);
	free(lv->domain);
	free(lv);
}

static void lv_close(struct vn_conn *c)
{
	lv_free(c->priv);
}

static const struct vn_conn_ops lv_conn_ops = {
	.name = "libvirt",
	.execute = lv_execute,
	.next_event = lv_next_event,
	.close = lv_close,
};

static bool lv_auth_error(void)
{
	virErrorPtr e = virGetLastError();

	return e && (e->domain == VIR_FROM_AUTH ||
		     e->code == VIR_ERR_AUTH_FAILED ||
		     e->code == VIR_ERR_AUTH_CANCELLED ||
		     e->code == VIR_ERR_AUTH_UNAVAILABLE);
}

/* Connect and find the domain: 0, or -1 and @err. */
static int lv_open(struct lv_conn *lv, struct vn_err *err)
{
	char msg[512];
	virErrorPtr e;

	lv->conn = virConnectOpen(lv->uri);
	if (!lv->conn && lv_auth_error())
		lv->conn = virConnectOpenAuth(lv->uri,
					      virConnectAuthPtrDefault, 0);
	if (!lv->conn)
		return vn_err_set(err, VN_ERR_IO, "%s: cannot connect to "
				  "libvirt at %s: %s", lv->domain, lv->uri,
				  lv_last_error(msg, sizeof(msg))), -1;
	/* Notice a libvirtd that is gone while we wait for events. */
	if (!virConnectRegisterCloseCallback(lv->conn, lv_on_close, lv,
					     NULL))
		lv->close_cb = true;
	virConnectSetKeepAlive(lv->conn, KEEPALIVE_INTERVAL_S,
			       KEEPALIVE_COUNT);

	lv->dom = virDomainLookupByName(lv->conn, lv->domain);
	if (!lv->dom) {
		e = virGetLastError();
		if (e && e->code == VIR_ERR_NO_DOMAIN)
			return vn_err_set(err, VN_ERR_USAGE, "%s: no such "
					  "domain (at %s)", lv->domain,
					  lv->uri), -1;
		return vn_err_set(err, VN_ERR_IO, "%s: cannot look up the "
				  "domain at %s: %s", lv->domain, lv->uri,
				  lv_last_error(msg, sizeof(msg))), -1;
	}
	return 0;
}

/*
 * Listen to the domain: 0, or -1 and @err.  Listen before any command
 * is sent, so that no event of one can be missed; a stop after the
 * state check is seen by the lifecycle callback.
 */
static int lv_listen(struct lv_conn *lv, bool shared, struct vn_err *err)
{
	char msg[512];
	int r;

	if (shared)
		goto state;
	lv->timer = virEventAddTimeout(-1, lv_on_timer, lv, NULL);
	if (lv->timer < 0)
		return vn_err_set(err, VN_ERR_IO, "%s: cannot add a libvirt "
				  "timer: %s", lv->domain,
				  lv_last_error(msg, sizeof(msg))), -1;
	/*
	 * A shared connection's owner listens and passes events on
	 * (conn_shared_event()): a second callback for one domain beside
	 * the owner's for all of them is never called by libvirt 9.0's
	 * remote driver.
	 */
	lv->life_cb = virConnectDomainEventRegisterAny(lv->conn, lv->dom,
				VIR_DOMAIN_EVENT_ID_LIFECYCLE,
				VIR_DOMAIN_EVENT_CALLBACK(lv_on_lifecycle),
				lv, NULL);
	if (lv->life_cb < 0)
		vn_log(LOG_DEBUG, "%s: no lifecycle events: %s", lv->domain,
		       lv_last_error(msg, sizeof(msg)));
state:
	r = virDomainIsActive(lv->dom);
	if (r < 0)
		return vn_err_set(err, VN_ERR_IO, "%s: cannot get the domain's "
				  "state from libvirt at %s: %s", lv->domain,
				  lv->uri, lv_last_error(msg, sizeof(msg))),
		       -1;
	if (!r)
		return vn_err_set(err, VN_ERR_IO, "%s: the domain is not "
				  "running (at %s)", lv->domain, lv->uri), -1;
	if (shared)
		return 0;
	lv->mon_cb = virConnectDomainQemuMonitorEventRegister(lv->conn,
				lv->dom, NULL, lv_on_event, lv, NULL, 0);
	if (lv->mon_cb < 0)
		return vn_err_set(err, VN_ERR_IO, "%s: cannot listen to QEMU "
				  "monitor events through libvirt at %s: %s",
				  lv->domain, lv->uri,
				  lv_last_error(msg, sizeof(msg))), -1;
	return 0;
}

static struct lv_conn *lv_new(const char *uri, const char *domain,
			      int timeout_ms)
{
	struct lv_conn *lv = calloc(1, sizeof(*lv));
	pthread_condattr_t ca;

	if (!lv)
		return NULL;
	vn_mutex_init(&lv->lock);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lv->cond, &ca);
	pthread_condattr_destroy(&ca);
	lv->mon_cb = lv->life_cb = lv->timer = -1;
	lv->timeout_ms = timeout_ms;
	qmp_queue_init(&lv->events);
	lv->uri = strdup(uri);
	lv->domain = strdup(domain);
	if (!lv->uri || !lv->domain) {
		lv_free(lv);
		return NULL;
	}
	return lv;
}

static int lv_finish(struct lv_conn *lv, int r, struct vn_conn **c,
		     struct vn_err *err)
{
	if (!r) {
		*c = conn_new(&lv_conn_ops, lv);
		if (!*c) {
			vn_err_set(err, VN_ERR_IO, "out of memory");
			r = -1;
		}
	}
	if (r)
		lv_free(lv);
	return r;
}

/*
 * Open domain @domain at libvirt URI @uri; wait at most @timeout_ms
 * (< 0: forever) for each reply of QEMU.
 */
int conn_open_uri(struct vn_conn **c, const char *uri, const char *domain,
		  int timeout_ms, struct vn_err *err)
{
	struct lv_conn *lv;
	sigset_t old;
	int r;

	*c = NULL;
	if (lv_init(err))
		return vn_err_prefix(err, "%s: ", domain), -1;
	lv = lv_new(uri, domain, timeout_ms);
	if (!lv)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	pipe_block(&old);
	r = lv_open(lv, err);
	if (!r)
		r = lv_listen(lv, false, err);
	pipe_restore(&old);
	return lv_finish(lv, r, c, err);
}

/*
 * Open @dom on a connection @conn that the caller keeps and watches
 * (vnumad): the connection's callbacks stay the caller's, who passes
 * the domain's QEMU events and its stop on with conn_shared_event()
 * and conn_shared_stopped(), and closes the returned connection before
 * @conn goes.
 */
int conn_open_shared(struct vn_conn **c, virConnectPtr conn,
		     virDomainPtr dom, const char *uri, int timeout_ms,
		     struct vn_err *err)
{
	struct lv_conn *lv;
	const char *name = virDomainGetName(dom);
	int r;

	*c = NULL;
	if (lv_init(err))
		return -1;
	lv = lv_new(uri, name ? name : "?", timeout_ms);
	if (!lv)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	lv->shared = true;
	virConnectRef(conn);
	lv->conn = conn;
	virDomainRef(dom);
	lv->dom = dom;
	r = lv_listen(lv, true, err);
	return lv_finish(lv, r, c, err);
}

void conn_shared_event(struct vn_conn *c, const char *event,
		       long long seconds, unsigned int micros,
		       const char *details)
{
	lv_on_event(NULL, NULL, event, seconds, micros, details, c->priv);
}

void conn_shared_stopped(struct vn_conn *c, int detail)
{
	struct lv_conn *lv = c->priv;

	vn_mutex_lock(&lv->lock);
	if (!lv->stopped)
		lv->stopped = 1 + detail;
	pthread_cond_signal(&lv->cond);
	vn_mutex_unlock(&lv->lock);
}

int lv_global_init(struct vn_err *err)
{
	return lv_init(err);
}

/* The domain of a libvirt connection, NULL for a QMP one. */
virDomainPtr conn_libvirt_domain(struct vn_conn *c)
{
	if (!c || c->ops != &lv_conn_ops)
		return NULL;
	return ((struct lv_conn *)c->priv)->dom;
}
