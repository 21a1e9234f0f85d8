/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A connection to one VM's QMP monitor, whatever carries it: a QMP
 * UNIX socket today, libvirt (virDomainQemuMonitorCommand and monitor
 * events) later.  A backend implements struct vn_conn_ops; the commands
 * only use the conn_*() functions.
 */
#ifndef VN_CONN_H
#define VN_CONN_H

#include "qmpproto.h"

struct vn_conn;

struct vn_conn_ops {
	const char *name;
	/*
	 * Run @cmd, {"execute": ..., "arguments": ...}, taking it; give
	 * QEMU's reply message, {"return": ...} or {"error": ...}.
	 */
	int (*execute)(struct vn_conn *c, struct json_object *cmd,
		       struct json_object **reply, struct vn_err *err);
	/* The next event message: 1 and @ev, 0 on timeout, or -1. */
	int (*next_event)(struct vn_conn *c, int timeout_ms,
			  struct json_object **ev, struct vn_err *err);
	void (*close)(struct vn_conn *c);
};

struct vn_conn {
	const struct vn_conn_ops *ops;
	void *priv;
	struct qmp_queue skipped;	/* events a wait passed over */
};

int conn_open_qmp(struct vn_conn **c, const char *path, int timeout_ms,
		  struct vn_err *err);
int conn_open_uri(struct vn_conn **c, const char *uri, const char *domain,
		  int timeout_ms, struct vn_err *err);
struct vn_conn *conn_new(const struct vn_conn_ops *ops, void *priv);
void conn_close(struct vn_conn *c);

int conn_execute(struct vn_conn *c, const char *name,
		 struct json_object *args, struct json_object **ret,
		 struct vn_err *err);
int conn_next_event(struct vn_conn *c, int timeout_ms,
		    struct json_object **ev, struct vn_err *err);
int conn_wait_event(struct vn_conn *c, const char *name, qmp_match_fn match,
		    void *arg, int timeout_ms, struct json_object **ev,
		    struct vn_err *err);

#endif /* VN_CONN_H */
