/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The libvirt backend's pure half: what libvirt hands over, turned into
 * the QMP messages the QMP backend gives.  No libvirt calls, so it is
 * all unit-tested.  conn_open_uri() itself is declared in conn.h.
 */
#ifndef VN_CONN_LIBVIRT_H
#define VN_CONN_LIBVIRT_H

#include <libvirt/libvirt.h>

#include "conn.h"
#include "qmpproto.h"

/*
 * The event message a QMP monitor event callback describes:
 * {"event": @name, "data": <@details parsed>, "timestamp": {"seconds":
 * @seconds, "microseconds": @micros}}; no "data" if @details is NULL.
 * NULL when out of memory.
 */
struct json_object *lv_event_new(const char *name, long long seconds,
				 unsigned int micros, const char *details);

/*
 * The reply message in @text, virDomainQemuMonitorCommand()'s result
 * for command @name: 0 and @reply ({"return": ...} or {"error": ...}),
 * or -1 and an I/O error.
 */
int lv_parse_reply(const char *name, const char *text,
		   struct json_object **reply, struct vn_err *err);

/* Copy @msg into @buf as one line: newlines become blanks. */
void lv_one_line(char *buf, size_t len, const char *msg);

/* libvirt's error handler and default event loop, once per process. */
int lv_global_init(struct vn_err *err);
int conn_open_shared(struct vn_conn **c, virConnectPtr conn,
		     virDomainPtr dom, const char *uri, int timeout_ms,
		     struct vn_err *err);
void conn_shared_event(struct vn_conn *c, const char *event,
		       long long seconds, unsigned int micros,
		       const char *details);
void conn_shared_stopped(struct vn_conn *c, int detail);
virDomainPtr conn_libvirt_domain(struct vn_conn *c);
/* Why a domain stopped, from a VIR_DOMAIN_EVENT_STOPPED detail. */
const char *conn_libvirt_stop_reason(int detail);

#endif /* VN_CONN_LIBVIRT_H */
