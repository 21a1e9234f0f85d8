/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pure half of the QMP client: build commands, split a byte stream
 * into messages, tell replies from events, decode errors.  No I/O, so
 * it is all unit-tested.
 */
#ifndef VN_QMPPROTO_H
#define VN_QMPPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "status.h"

/* Largest message accepted from QEMU; a query is a few tens of KiB. */
#define QMP_MAX_MSG	(16u << 20)

enum qmp_msg_kind {
	QMP_MSG_INVALID,
	QMP_MSG_GREETING,	/* {"QMP": ...} */
	QMP_MSG_RETURN,		/* {"return": ...} */
	QMP_MSG_ERROR,		/* {"error": {"class", "desc"}} */
	QMP_MSG_EVENT,		/* {"event": NAME, "data": ...} */
};

/* A FIFO of messages; it owns a reference to each. */
struct qmp_queue {
	struct json_object **msg;
	size_t len;
	size_t cap;
};

void qmp_queue_init(struct qmp_queue *q);
void qmp_queue_clear(struct qmp_queue *q);
int qmp_queue_push(struct qmp_queue *q, struct json_object *msg);
struct json_object *qmp_queue_take(struct qmp_queue *q, size_t i);

typedef bool (*qmp_match_fn)(struct json_object *ev, void *arg);
bool qmp_event_matches(struct json_object *ev, const char *name,
		       qmp_match_fn match, void *arg);
struct json_object *qmp_queue_take_event(struct qmp_queue *q,
					 const char *name,
					 qmp_match_fn match, void *arg);

/* Splits bytes from QEMU into JSON objects, however they are cut. */
struct qmp_stream {
	struct json_tokener *tok;
	size_t pending;		/* bytes of an incomplete message */
	bool broken;
};

int qmp_stream_init(struct qmp_stream *s);
void qmp_stream_fini(struct qmp_stream *s);
int qmp_stream_feed(struct qmp_stream *s, const char *buf, size_t len,
		    struct qmp_queue *out, struct vn_err *err);

struct json_object *qmp_build_command(const char *name,
				      struct json_object *args,
				      const char *id);
enum qmp_msg_kind qmp_msg_kind(struct json_object *msg);
int qmp_decode_reply(const char *name, struct json_object *reply,
		     struct json_object **ret, struct vn_err *err);
int qmp_take_return(const char *name, struct json_object *reply,
		    struct json_object **ret, struct vn_err *err);
const char *qmp_event_name(struct json_object *ev);
struct json_object *qmp_event_data(struct json_object *ev);
const char *qmp_json_str(struct json_object *obj);

#endif /* VN_QMPPROTO_H */
