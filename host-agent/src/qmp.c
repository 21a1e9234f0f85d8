// SPDX-License-Identifier: GPL-2.0
/*
 * QMP socket I/O.  Everything about the bytes themselves is in
 * qmpproto.c; this file connects, writes commands, reads with poll()
 * and a deadline, and sorts what it reads into replies and events.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "qmp.h"

#define CONNECT_RETRY_MS	50

long long vn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

long long vn_deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : vn_now_ms() + timeout_ms;
}

int vn_left_ms(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - vn_now_ms();
	if (left < 0)
		return 0;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

static int qmp_write(struct qmp_conn *c, const char *buf, size_t len,
		     struct vn_err *err)
{
	while (len) {
		ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vn_err_set(err, VN_ERR_IO,
					  "cannot write to QMP socket %s: %s",
					  c->path, strerror(errno)), -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Read once what the socket has, waiting until @deadline: 1, 0 or -1. */
static int qmp_fill(struct qmp_conn *c, long long deadline,
		    struct vn_err *err)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	char buf[4096];
	ssize_t n;
	int r;

	if (c->stream.broken)
		return vn_err_set(err, VN_ERR_IO, "the QMP connection %s is "
				  "broken", c->path), -1;
	r = poll(&pfd, 1, vn_left_ms(deadline));
	if (r < 0 && errno == EINTR)
		return vn_err_set(err, VN_ERR_INTR, "interrupted"), -1;
	if (r < 0)
		return vn_err_set(err, VN_ERR_IO, "poll on QMP socket %s: %s",
				  c->path, strerror(errno)), -1;
	if (!r)
		return 0;
	do {
		n = read(c->fd, buf, sizeof(buf));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return vn_err_set(err, VN_ERR_IO,
				  "cannot read QMP socket %s: %s", c->path,
				  strerror(errno)), -1;
	if (!n)
		return vn_err_set(err, VN_ERR_IO,
				  "QEMU closed the QMP connection %s",
				  c->path), -1;
	if (qmp_stream_feed(&c->stream, buf, n, &c->in, err))
		return -1;
	return 1;
}

/* The next message from QEMU: 1 and @msg, 0 on timeout, or -1. */
static int qmp_read_msg(struct qmp_conn *c, long long deadline,
			struct json_object **msg, struct vn_err *err)
{
	int r;

	while (!c->in.len) {
		r = qmp_fill(c, deadline, err);
		if (r <= 0)
			return r;
	}
	*msg = qmp_queue_take(&c->in, 0);
	vn_log(LOG_DEBUG, "<- %s", qmp_json_str(*msg));
	return 1;
}

static int qmp_handshake(struct qmp_conn *c, int timeout_ms,
			 struct vn_err *err)
{
	struct json_object *msg, *ret;
	int r;

	r = qmp_read_msg(c, vn_deadline(timeout_ms), &msg, err);
	if (r < 0)
		return -1;
	if (!r)
		return vn_err_set(err, VN_ERR_IO,
				  "no QMP greeting on %s within %.1f s (is "
				  "another client connected?)", c->path,
				  timeout_ms / 1000.0), -1;
	if (qmp_msg_kind(msg) != QMP_MSG_GREETING) {
		vn_err_set(err, VN_ERR_IO, "%s is not a QMP socket: it sent "
			   "%.200s", c->path, qmp_json_str(msg));
		json_object_put(msg);
		return -1;
	}
	c->greeting = msg;
	if (qmp_execute(c, "qmp_capabilities", NULL, &ret, err))
		return -1;
	json_object_put(ret);
	return 0;
}

static int qmp_connect_fd(const char *path, long long deadline,
			  struct vn_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return vn_err_set(err, VN_ERR_USAGE,
				  "QMP socket path %s is too long", path), -1;
	strcpy(sa.sun_path, path);
	for (;;) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return vn_err_set(err, VN_ERR_IO, "socket: %s",
					  strerror(errno)), -1;
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			return fd;
		close(fd);
		/*
		 * No socket: no VM to wait for.  Refused: QEMU serves another
		 * client on it, which may be done soon.
		 */
		if (errno != ECONNREFUSED && errno != EAGAIN && errno != EINTR)
			break;
		if (!vn_left_ms(deadline))
			break;
		usleep(CONNECT_RETRY_MS * 1000);
	}
	return vn_err_set(err, VN_ERR_IO, "cannot connect to QMP socket %s: "
			  "%s", path, strerror(errno)), -1;
}

/* Connect, read the greeting and leave capabilities negotiation. */
int qmp_connect(struct qmp_conn **out, const char *path, int timeout_ms,
		struct vn_err *err)
{
	struct qmp_conn *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c || qmp_stream_init(&c->stream)) {
		free(c);
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	}
	c->timeout_ms = timeout_ms;
	snprintf(c->path, sizeof(c->path), "%s", path);
	qmp_queue_init(&c->in);
	qmp_queue_init(&c->events);
	c->fd = qmp_connect_fd(path, vn_deadline(timeout_ms), err);
	if (c->fd < 0 || qmp_handshake(c, timeout_ms, err)) {
		qmp_close(c);
		return -1;
	}
	*out = c;
	return 0;
}

void qmp_close(struct qmp_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	qmp_stream_fini(&c->stream);
	qmp_queue_clear(&c->in);
	qmp_queue_clear(&c->events);
	json_object_put(c->greeting);
	free(c);
}

/* Is @reply for the command with id @id?  QEMU echoes our ids. */
static bool qmp_reply_is_ours(struct json_object *reply, const char *id)
{
	struct json_object *v;

	if (!json_object_object_get_ex(reply, "id", &v))
		return true;
	return json_object_is_type(v, json_type_string) &&
	       !strcmp(json_object_get_string(v), id);
}

static const char *qmp_cmd_name(struct json_object *cmd)
{
	struct json_object *v;

	if (json_object_object_get_ex(cmd, "execute", &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "?";
}

/*
 * Send @cmd (taking it; an "id" is added) and return QEMU's whole reply
 * message, {"return": ...} or {"error": ...}.  Events read meanwhile
 * are queued.
 */
int qmp_execute_msg(struct qmp_conn *c, struct json_object *cmd,
		    struct json_object **reply, struct vn_err *err)
{
	long long deadline = vn_deadline(c->timeout_ms);
	char id[32], name[64];
	const char *text;
	int r = -1;

	*reply = NULL;
	snprintf(id, sizeof(id), "vnumactl-%lu", ++c->seq);
	snprintf(name, sizeof(name), "%s", qmp_cmd_name(cmd));
	json_object_object_add(cmd, "id", json_object_new_string(id));
	text = qmp_json_str(cmd);
	vn_log(LOG_DEBUG, "-> %s", text);
	if (qmp_write(c, text, strlen(text), err) ||
	    qmp_write(c, "\n", 1, err))
		goto out;
	for (;;) {
		struct json_object *msg;

		r = qmp_read_msg(c, deadline, &msg, err);
		if (r <= 0)
			break;
		switch (qmp_msg_kind(msg)) {
		case QMP_MSG_EVENT:
			if (qmp_queue_push(&c->events, msg))
				goto nomem;
			continue;
		case QMP_MSG_RETURN:
		case QMP_MSG_ERROR:
			if (qmp_reply_is_ours(msg, id)) {
				*reply = msg;
				r = 0;
				goto out;
			}
			vn_log(LOG_DEBUG, "dropped a late reply: %s",
			       qmp_json_str(msg));
			json_object_put(msg);
			continue;
		default:
			vn_err_set(err, VN_ERR_IO, "QEMU sent an unexpected "
				   "message while running %s: %.200s", name,
				   qmp_json_str(msg));
			json_object_put(msg);
			r = -1;
			goto out;
		}
	}
	if (!r) {
		vn_err_set(err, VN_ERR_IO, "no reply to %s within %.1f s",
			   name, c->timeout_ms / 1000.0);
		r = -1;
	}
out:
	json_object_put(cmd);
	return r;
nomem:
	json_object_put(cmd);
	return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
}

/* Run @name with @args (taken); *@ret gets a reference to "return". */
int qmp_execute(struct qmp_conn *c, const char *name,
		struct json_object *args, struct json_object **ret,
		struct vn_err *err)
{
	struct json_object *cmd, *reply;

	*ret = NULL;
	cmd = qmp_build_command(name, args, NULL);
	if (!cmd)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	if (qmp_execute_msg(c, cmd, &reply, err))
		return -1;
	return qmp_take_return(name, reply, ret, err);
}

/* The next event, queued or read: 1 and @ev, 0 on timeout, or -1. */
int qmp_next_event(struct qmp_conn *c, int timeout_ms,
		   struct json_object **ev, struct vn_err *err)
{
	long long deadline = vn_deadline(timeout_ms);
	struct json_object *msg;
	int r;

	*ev = NULL;
	for (;;) {
		if (c->events.len) {
			*ev = qmp_queue_take(&c->events, 0);
			return 1;
		}
		r = qmp_read_msg(c, deadline, &msg, err);
		if (r <= 0)
			return r;
		if (qmp_msg_kind(msg) == QMP_MSG_EVENT) {
			*ev = msg;
			return 1;
		}
		/* A reply nobody waits for any more: a timed out command. */
		vn_log(LOG_DEBUG, "dropped a late reply: %s",
		       qmp_json_str(msg));
		json_object_put(msg);
	}
}

/*
 * Wait for the first event @name (any if NULL) that @match accepts,
 * queued or new: 1 and @ev, 0 on timeout, or -1.  Other events stay
 * queued, in order.
 */
int qmp_wait_event(struct qmp_conn *c, const char *name, qmp_match_fn match,
		   void *arg, int timeout_ms, struct json_object **ev,
		   struct vn_err *err)
{
	long long deadline = vn_deadline(timeout_ms);
	struct json_object *msg;
	int r;

	*ev = qmp_queue_take_event(&c->events, name, match, arg);
	while (!*ev) {
		r = qmp_read_msg(c, deadline, &msg, err);
		if (r <= 0)
			return r;
		if (qmp_msg_kind(msg) != QMP_MSG_EVENT) {
			json_object_put(msg);
			continue;
		}
		if (qmp_queue_push(&c->events, msg))
			return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
		*ev = qmp_queue_take_event(&c->events, name, match, arg);
	}
	return 1;
}
