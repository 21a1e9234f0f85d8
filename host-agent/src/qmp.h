/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A synchronous QMP client over a UNIX socket.  Events that arrive
 * while a command waits for its reply are queued for qmp_wait_event()
 * and qmp_next_event().  Timeouts are in milliseconds, < 0 for none.
 */
#ifndef VN_QMP_H
#define VN_QMP_H

#include "qmpproto.h"

struct qmp_conn {
	int fd;
	int timeout_ms;			/* for replies */
	unsigned long seq;		/* numbers the command ids */
	struct qmp_stream stream;
	struct qmp_queue in;		/* parsed, not looked at yet */
	struct qmp_queue events;	/* events not consumed yet */
	struct json_object *greeting;
	char path[108];
};

int qmp_connect(struct qmp_conn **out, const char *path, int timeout_ms,
		struct vn_err *err);
void qmp_close(struct qmp_conn *c);

int qmp_execute_msg(struct qmp_conn *c, struct json_object *cmd,
		    struct json_object **reply, struct vn_err *err);
int qmp_execute(struct qmp_conn *c, const char *name,
		struct json_object *args, struct json_object **ret,
		struct vn_err *err);

int qmp_next_event(struct qmp_conn *c, int timeout_ms,
		   struct json_object **ev, struct vn_err *err);
int qmp_wait_event(struct qmp_conn *c, const char *name, qmp_match_fn match,
		   void *arg, int timeout_ms, struct json_object **ev,
		   struct vn_err *err);

/* Monotonic milliseconds, and what is left until a deadline (or -1). */
long long vn_now_ms(void);
int vn_left_ms(long long deadline);
long long vn_deadline(int timeout_ms);

#endif /* VN_QMP_H */
