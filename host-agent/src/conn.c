// SPDX-License-Identifier: GPL-2.0
/*
 * The connection interface, and its QMP socket backend.  The libvirt
 * backend is conn_libvirt.c.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "qmp.h"

struct vn_conn *conn_new(const struct vn_conn_ops *ops, void *priv)
{
	struct vn_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ops = ops;
	c->priv = priv;
	qmp_queue_init(&c->skipped);
	return c;
}

void conn_close(struct vn_conn *c)
{
	if (!c)
		return;
	if (c->ops->close)
		c->ops->close(c);
	qmp_queue_clear(&c->skipped);
	free(c);
}

/* Run command @name with @args (taken); *@ret gets its "return". */
int conn_execute(struct vn_conn *c, const char *name,
		 struct json_object *args, struct json_object **ret,
		 struct vn_err *err)
{
	struct json_object *cmd, *reply;

	*ret = NULL;
	cmd = qmp_build_command(name, args, NULL);
	if (!cmd)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	if (c->ops->execute(c, cmd, &reply, err))
		return -1;
	return qmp_take_return(name, reply, ret, err);
}

/* The next event, passed-over ones first: 1 and @ev, 0, or -1. */
int conn_next_event(struct vn_conn *c, int timeout_ms,
		    struct json_object **ev, struct vn_err *err)
{
	*ev = qmp_queue_take(&c->skipped, 0);
	if (*ev)
		return 1;
	return c->ops->next_event(c, timeout_ms, ev, err);
}

/*
 * Wait for the first event @name (any if NULL) that @match accepts:
 * 1 and @ev, 0 on timeout, or -1.  Events passed over stay, in order,
 * for later waits.
 */
int conn_wait_event(struct vn_conn *c, const char *name, qmp_match_fn match,
		    void *arg, int timeout_ms, struct json_object **ev,
		    struct vn_err *err)
{
	long long deadline = vn_deadline(timeout_ms);
	struct json_object *msg;
	int r;

	*ev = qmp_queue_take_event(&c->skipped, name, match, arg);
	while (!*ev) {
		r = c->ops->next_event(c, vn_left_ms(deadline), &msg, err);
		if (r <= 0)
			return r;
		if (qmp_event_matches(msg, name, match, arg)) {
			*ev = msg;
			break;
		}
		if (qmp_queue_push(&c->skipped, msg))
			return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	}
	return 1;
}

/* --- QMP socket backend --- */

static int qmp_ops_execute(struct vn_conn *c, struct json_object *cmd,
			   struct json_object **reply, struct vn_err *err)
{
	return qmp_execute_msg(c->priv, cmd, reply, err);
}

static int qmp_ops_next_event(struct vn_conn *c, int timeout_ms,
			      struct json_object **ev, struct vn_err *err)
{
	return qmp_next_event(c->priv, timeout_ms, ev, err);
}

static void qmp_ops_close(struct vn_conn *c)
{
	qmp_close(c->priv);
}

static const struct vn_conn_ops qmp_conn_ops = {
	.name = "qmp",
	.execute = qmp_ops_execute,
	.next_event = qmp_ops_next_event,
	.close = qmp_ops_close,
};

int conn_open_qmp(struct vn_conn **c, const char *path, int timeout_ms,
		  struct vn_err *err)
{
	struct qmp_conn *q;

	*c = NULL;
	if (qmp_connect(&q, path, timeout_ms, err))
		return -1;
	*c = conn_new(&qmp_conn_ops, q);
	if (!*c) {
		qmp_close(q);
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	}
	return 0;
}
