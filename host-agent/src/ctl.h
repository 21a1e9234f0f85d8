/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnumad's control socket: a UNIX stream socket that only its owner
 * (and root) may use.  Each request is one JSON object on one line,
 * {"execute": NAME, "arguments": {...}}, and gets one line back,
 * {"return": ...} or {"error": {"desc": TEXT}}, QMP's shapes.
 */
#ifndef VN_CTL_H
#define VN_CTL_H

#include <stdbool.h>
#include <json-c/json.h>

#include "status.h"

#define VN_CTL_SOCKET	"/run/vnumad/vnumad.sock"
#define VN_CTL_MAX_LINE	(64u << 10)	/* a request longer is refused */

int ctl_listen(const char *path, struct vn_err *err);
bool ctl_peer_allowed(int fd, unsigned int *uid);
int ctl_call(const char *path, const char *name, struct json_object *args,
	     int timeout_ms, struct json_object **ret, struct vn_err *err);

/* A reply line: {"return": @ret} (taken), or an error with @desc. */
char *ctl_reply_ok(struct json_object *ret);
char *ctl_reply_error(const char *desc);
/* The request in @line: 0 and its name and arguments, or -1 and @err. */
int ctl_parse_request(const char *line, struct json_object **req,
		      const char **name, struct json_object **args,
		      struct vn_err *err);

#endif /* VN_CTL_H */
