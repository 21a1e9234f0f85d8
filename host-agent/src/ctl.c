// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket, both ends.  The server half is the socket and
 * the message shapes; vnumad's daemon.c reads the requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "jsonx.h"
#include "qmp.h"

static int ctl_addr(const char *path, struct sockaddr_un *sa,
		    struct vn_err *err)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!*path || strlen(path) >= sizeof(sa->sun_path))
		return vn_err_set(err, VN_ERR_USAGE, "control socket path "
				  "'%s' is empty or too long", path), -1;
	strcpy(sa->sun_path, path);
	return 0;
}

/* Make the socket's directory if it is missing, for the owner alone. */
static int ctl_dir(const char *path, struct vn_err *err)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (!mkdir(dir, 0700) || errno == EEXIST)
		return 0;
	return vn_err_set(err, VN_ERR_IO, "cannot create %s: %s", dir,
			  strerror(errno)), -1;
}

/* A socket left by a vnumad that died goes; a live one stays. */
static int ctl_clear_stale(const char *path, const struct sockaddr_un *sa,
			   struct vn_err *err)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return vn_err_set(err, VN_ERR_IO, "%s exists and is not a "
				  "socket", path), -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vn_err_set(err, VN_ERR_IO, "socket: %s",
				  strerror(errno)), -1;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (!r)
		return vn_err_set(err, VN_ERR_IO, "another vnumad listens on "
				  "%s", path), -1;
	if (unlink(path) && errno != ENOENT)
		return vn_err_set(err, VN_ERR_IO, "cannot remove the stale "
				  "socket %s: %s", path, strerror(errno)), -1;
	return 0;
}

/* Listen on @path, mode 0600: a non-blocking fd, or -1 and @err. */
int ctl_listen(const char *path, struct vn_err *err)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, r;

	if (ctl_addr(path, &sa, err) || ctl_dir(path, err) ||
	    ctl_clear_stale(path, &sa, err))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return vn_err_set(err, VN_ERR_IO, "socket: %s",
				  strerror(errno)), -1;
	/* No moment in which others could connect. */
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r || chmod(path, 0600) || listen(fd, 16)) {
		vn_err_set(err, VN_ERR_IO, "cannot listen on %s: %s", path,
			   strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The mode keeps others out; the credentials check is the second lock. */
bool ctl_peer_allowed(int fd, unsigned int *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		return false;
	*uid = cred.uid;
	return cred.uid == 0 || cred.uid == geteuid();
}

static char *ctl_line(struct json_object *msg)
{
	const char *s = json_object_to_json_string_ext(msg,
						JSON_C_TO_STRING_PLAIN);
	char *line = NULL;

	if (s && asprintf(&line, "%s\n", s) < 0)
		line = NULL;
	json_object_put(msg);
	return line;
}

char *ctl_reply_ok(struct json_object *ret)
{
	struct json_object *msg = json_object_new_object();

	json_object_object_add(msg, "return",
			       ret ? ret : json_object_new_object());
	return ctl_line(msg);
}

char *ctl_reply_error(const char *desc)
{
	struct json_object *msg = json_object_new_object();
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(msg, "error", e);
	return ctl_line(msg);
}

int ctl_parse_request(const char *line, struct json_object **req,
		      const char **name, struct json_object **args,
		      struct vn_err *err)
{
	*req = json_tokener_parse(line);
	*args = NULL;
	if (!*req || !json_object_is_type(*req, json_type_object)) {
		json_object_put(*req);
		*req = NULL;
		return vn_err_set(err, VN_ERR_USAGE, "the request is not a "
				  "JSON object"), -1;
	}
	if (jx_str(*req, "execute", name, err))
		return -1;
	if (json_object_object_get_ex(*req, "arguments", args) &&
	    !json_object_is_type(*args, json_type_object))
		return vn_err_set(err, VN_ERR_USAGE, "'arguments' is not an "
				  "object"), -1;
	return 0;
}

/* --- the client --- */

static int ctl_send(int fd, const char *buf, size_t len, long long deadline,
		    struct vn_err *err)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	ssize_t n;

	while (len) {
		if (poll(&p, 1, vn_left_ms(deadline)) <= 0)
			return vn_err_set(err, VN_ERR_IO, "vnumad does not take "
					  "the request"), -1;
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return vn_err_set(err, VN_ERR_IO, "cannot send to "
					  "vnumad: %s", strerror(errno)), -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Read one line: a malloc'ed string, or NULL and @err. */
static char *ctl_recv_line(int fd, long long deadline, struct vn_err *err)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nl;
	ssize_t n;

	while (buf) {
		if (poll(&p, 1, vn_left_ms(deadline)) <= 0) {
			vn_err_set(err, VN_ERR_IO, "no answer from vnumad");
			break;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			vn_err_set(err, VN_ERR_IO, "vnumad closed the "
				   "connection without an answer%s%s",
				   n ? ": " : "", n ? strerror(errno) : "");
			break;
		}
		len += n;
		buf[len] = '\0';
		nl = strchr(buf, '\n');
		if (nl) {
			*nl = '\0';
			return buf;
		}
		if (len + 1 == cap) {
			char *bigger = cap < QMP_MAX_MSG ?
				       realloc(buf, cap * 2) : NULL;

			if (!bigger) {
				vn_err_set(err, VN_ERR_IO, "vnumad's answer is "
					   "too long");
				break;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	free(buf);
	return NULL;
}

static int ctl_connect(const char *path, struct vn_err *err)
{
	struct sockaddr_un sa;
	int fd;

	if (ctl_addr(path, &sa, err))
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vn_err_set(err, VN_ERR_IO, "socket: %s",
				  strerror(errno)), -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		vn_err_set(err, VN_ERR_IO, "cannot reach vnumad at %s: %s",
			   path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Run request @name with @args (taken) at the vnumad listening on
 * @path: 0 and what it returned, or -1 and why (its error text).
 */
int ctl_call(const char *path, const char *name, struct json_object *args,
	     int timeout_ms, struct json_object **ret, struct vn_err *err)
{
	long long deadline = vn_deadline(timeout_ms);
	struct json_object *req = json_object_new_object(), *msg, *v, *e;
	char *line = NULL, *answer;
	int fd, r = -1;

	*ret = NULL;
	json_object_object_add(req, "execute", json_object_new_string(name));
	if (args)
		json_object_object_add(req, "arguments", args);
	line = ctl_line(req);
	fd = ctl_connect(path, err);
	if (fd < 0 || !line) {
		if (!line)
			vn_err_set(err, VN_ERR_IO, "out of memory");
		goto out;
	}
	if (ctl_send(fd, line, strlen(line), deadline, err))
		goto out;
	answer = ctl_recv_line(fd, deadline, err);
	if (!answer)
		goto out;
	msg = json_tokener_parse(answer);
	if (msg && json_object_object_get_ex(msg, "return", &v)) {
		*ret = json_object_get(v);
		r = 0;
	} else if (msg && json_object_object_get_ex(msg, "error", &e) &&
		   json_object_object_get_ex(e, "desc", &v)) {
		vn_err_set(err, VN_ERR_USAGE, "%s", json_object_get_string(v));
	} else {
		vn_err_set(err, VN_ERR_IO, "vnumad answered %s with neither "
			   "a return nor an error: %.200s", name, answer);
	}
	json_object_put(msg);
	free(answer);
out:
	if (fd >= 0)
		close(fd);
	free(line);
	return r;
}
