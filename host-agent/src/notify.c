// SPDX-License-Identifier: GPL-2.0
/*
 * The service manager's readiness protocol, without libsystemd: one
 * datagram of "KEY=VALUE" lines to the socket $NOTIFY_SOCKET names (a
 * path, or an abstract name after '@').  Nothing happens without it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

void vn_notify(const char *fmt, ...)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char msg[512];
	socklen_t len;
	va_list ap;
	int fd;

	if (!path || !*path)
		return;
	if ((path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path)) {
		vn_log(LOG_WARNING, "NOTIFY_SOCKET %s: not a socket path", path);
		return;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, len) < 0)
		vn_log(LOG_WARNING, "cannot notify the service manager at %s: %s",
		       path, strerror(errno));
	if (fd >= 0)
		close(fd);
}
