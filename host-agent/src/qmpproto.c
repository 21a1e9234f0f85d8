// SPDX-License-Identifier: GPL-2.0
/*
 * QMP messages without sockets.  QEMU is trusted to speak QMP but not
 * to be bug free: anything that is not a JSON object of a known shape
 * is an error with a message, never a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "qmpproto.h"

void qmp_queue_init(struct qmp_queue *q)
{
	q->msg = NULL;
	q->len = 0;
	q->cap = 0;
}

void qmp_queue_clear(struct qmp_queue *q)
{
	size_t i;

	for (i = 0; i < q->len; i++)
		json_object_put(q->msg[i]);
	free(q->msg);
	qmp_queue_init(q);
}

/* Append @msg, taking the caller's reference. */
int qmp_queue_push(struct qmp_queue *q, struct json_object *msg)
{
	if (q->len == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 8;
		struct json_object **m = realloc(q->msg, cap * sizeof(*m));

		if (!m) {
			json_object_put(msg);
			return -1;
		}
		q->msg = m;
		q->cap = cap;
	}
	q->msg[q->len++] = msg;
	return 0;
}

/* Remove message @i, giving its reference to the caller. */
struct json_object *qmp_queue_take(struct qmp_queue *q, size_t i)
{
	struct json_object *msg;

	if (i >= q->len)
		return NULL;
	msg = q->msg[i];
	memmove(&q->msg[i], &q->msg[i + 1], (q->len - i - 1) * sizeof(msg));
	q->len--;
	return msg;
}

/* Is @ev an event @name (any if NULL) that @match (if any) accepts? */
bool qmp_event_matches(struct json_object *ev, const char *name,
		       qmp_match_fn match, void *arg)
{
	const char *ev_name = qmp_event_name(ev);

	if (!ev_name || (name && strcmp(ev_name, name)))
		return false;
	return !match || match(ev, arg);
}

/* The oldest event @name (any if NULL) that @match accepts, removed. */
struct json_object *qmp_queue_take_event(struct qmp_queue *q,
					 const char *name,
					 qmp_match_fn match, void *arg)
{
	size_t i;

	for (i = 0; i < q->len; i++)
		if (qmp_event_matches(q->msg[i], name, match, arg))
			return qmp_queue_take(q, i);
	return NULL;
}

int qmp_stream_init(struct qmp_stream *s)
{
	s->tok = json_tokener_new();
	s->pending = 0;
	s->broken = false;
	if (!s->tok)
		return -1;
	json_tokener_set_flags(s->tok, JSON_TOKENER_STRICT |
				       JSON_TOKENER_ALLOW_TRAILING_CHARS |
				       JSON_TOKENER_VALIDATE_UTF8);
	return 0;
}

void qmp_stream_fini(struct qmp_stream *s)
{
	if (s->tok)
		json_tokener_free(s->tok);
	s->tok = NULL;
}

static int stream_error(struct qmp_stream *s, struct vn_err *err,
			const char *why, const char *at, size_t len)
{
	char near[41];
	size_t i, n = len < sizeof(near) - 1 ? len : sizeof(near) - 1;

	/* Show the bytes near the error, unprintable ones as '?'. */
	for (i = 0; i < n; i++)
		near[i] = at[i] >= 0x20 && at[i] < 0x7f ? at[i] : '?';
	near[n] = '\0';
	s->broken = true;
	vn_err_set(err, VN_ERR_IO, "QEMU sent %s near '%s'; giving up on "
		   "the connection", why, near);
	return -1;
}

/*
 * Feed bytes as they came from the socket: any number of messages,
 * whole or cut anywhere.  Complete objects are appended to @out.  After
 * an error the stream stays broken: the framing is lost.
 */
int qmp_stream_feed(struct qmp_stream *s, const char *buf, size_t len,
		    struct qmp_queue *out, struct vn_err *err)
{
	size_t off = 0;

	if (s->broken)
		return vn_err_set(err, VN_ERR_IO, "QMP stream is broken"), -1;
	while (off < len) {
		size_t left = len - off > (size_t)INT32_MAX ?
			      (size_t)INT32_MAX : len - off;
		struct json_object *obj;
		enum json_tokener_error jerr;
		size_t used;

		obj = json_tokener_parse_ex(s->tok, buf + off, left);
		jerr = json_tokener_get_error(s->tok);
		if (jerr == json_tokener_continue) {
			s->pending += left;
			if (s->pending > QMP_MAX_MSG)
				return stream_error(s, err,
					"a message of more than 16 MiB",
					buf + off, left);
			off += left;
			continue;
		}
		if (jerr != json_tokener_success) {
			json_object_put(obj);
			return stream_error(s, err,
					    json_tokener_error_desc(jerr),
					    buf + off, left);
		}
		used = json_tokener_get_parse_end(s->tok);
		if (!json_object_is_type(obj, json_type_object)) {
			json_object_put(obj);
			return stream_error(s, err,
					    "JSON that is not an object",
					    buf + off, left);
		}
		if (used == 0 || used > left)
			used = left;
		off += used;
		s->pending = 0;
		if (qmp_queue_push(out, obj))
			return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	}
	return 0;
}

/* {"execute": NAME, "arguments": ARGS, "id": ID}; takes @args. */
struct json_object *qmp_build_command(const char *name,
				      struct json_object *args,
				      const char *id)
{
	struct json_object *cmd = json_object_new_object();

	if (!cmd) {
		json_object_put(args);
		return NULL;
	}
	json_object_object_add(cmd, "execute", json_object_new_string(name));
	if (args)
		json_object_object_add(cmd, "arguments", args);
	if (id)
		json_object_object_add(cmd, "id", json_object_new_string(id));
	return cmd;
}

enum qmp_msg_kind qmp_msg_kind(struct json_object *msg)
{
	struct json_object *v;

	if (!json_object_is_type(msg, json_type_object))
		return QMP_MSG_INVALID;
	if (json_object_object_get_ex(msg, "event", &v))
		return json_object_is_type(v, json_type_string) ?
		       QMP_MSG_EVENT : QMP_MSG_INVALID;
	if (json_object_object_get_ex(msg, "return", NULL))
		return QMP_MSG_RETURN;
	if (json_object_object_get_ex(msg, "error", &v))
		return json_object_is_type(v, json_type_object) ?
		       QMP_MSG_ERROR : QMP_MSG_INVALID;
	if (json_object_object_get_ex(msg, "QMP", NULL))
		return QMP_MSG_GREETING;
	return QMP_MSG_INVALID;
}

/*
 * The "return" value of the reply to command @name (a reference held by
 * @reply), or an error: QEMU's own desc and class for a QMP error.
 */
int qmp_decode_reply(const char *name, struct json_object *reply,
		     struct json_object **ret, struct vn_err *err)
{
	struct json_object *e;
	const char *desc, *klass;

	*ret = NULL;
	switch (qmp_msg_kind(reply)) {
	case QMP_MSG_RETURN:
		json_object_object_get_ex(reply, "return", ret);
		return 0;
	case QMP_MSG_ERROR:
		json_object_object_get_ex(reply, "error", &e);
		desc = jx_str_or_null(e, "desc");
		klass = jx_str_or_null(e, "class");
		vn_err_set(err, VN_ERR_QEMU, "QEMU refused %s: %s [%s]", name,
			   desc ? desc : "(no description)",
			   klass ? klass : "no class");
		return -1;
	default:
		vn_err_set(err, VN_ERR_IO,
			   "QEMU answered %s with neither a return nor an "
			   "error: %.200s", name, qmp_json_str(reply));
		return -1;
	}
}

/*
 * qmp_decode_reply(), taking @reply: *@ret gets a reference of its own to
 * the "return" value.
 */
int qmp_take_return(const char *name, struct json_object *reply,
		    struct json_object **ret, struct vn_err *err)
{
	struct json_object *val;
	int r = qmp_decode_reply(name, reply, &val, err);

	*ret = r ? NULL : json_object_get(val);
	json_object_put(reply);
	return r;
}

const char *qmp_event_name(struct json_object *ev)
{
	if (qmp_msg_kind(ev) != QMP_MSG_EVENT)
		return NULL;
	return jx_str_or_null(ev, "event");
}

struct json_object *qmp_event_data(struct json_object *ev)
{
	struct json_object *data;

	if (!json_object_object_get_ex(ev, "data", &data) ||
	    !json_object_is_type(data, json_type_object))
		return NULL;
	return data;
}

/* Compact JSON text of @obj, valid until @obj changes or is freed. */
const char *qmp_json_str(struct json_object *obj)
{
	return json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
					      JSON_C_TO_STRING_NOSLASHESCAPE);
}
