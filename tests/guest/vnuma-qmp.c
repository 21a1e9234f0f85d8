// SPDX-License-Identifier: GPL-2.0
/*
 * vnuma-qmp: a QMP client for a QEMU that runs inside the test guest
 * (the nested host-memory test: the guest is the "host" with two NUMA
 * nodes).  Connects to a QMP socket, negotiates, sends each argument as
 * one command and prints each reply on its own line, in order.  Events
 * are printed too, prefixed with "event: ", so that a command and what
 * it caused can be sent in one connection.
 *
 * usage: vnuma-qmp SOCKET JSON...
 *        vnuma-qmp pipe:PATH JSON...
 *
 * The second form talks to "-chardev pipe,path=PATH": the FIFOs PATH.in
 * and PATH.out, for a guest kernel without sockets (CONFIG_NET=n).  QEMU
 * keeps that monitor session between calls, so the greeting is read
 * only when it is there and a repeated capabilities negotiation is
 * answered with an error that does not count.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define LINE_MAX_LEN (1 << 20)

static int fd, out_fd;
static char buf[LINE_MAX_LEN];
static size_t have;

/* The next line QEMU sends, without its newline; NULL at EOF. */
static char *next_line(void)
{
	static char line[LINE_MAX_LEN];
	char *nl;
	ssize_t n;

	while (!(nl = memchr(buf, '\n', have))) {
		if (have == sizeof(buf))
			return NULL;
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			return NULL;
		have += n;
	}
	*nl = '\0';
	memcpy(line, buf, nl - buf + 1);
	have -= nl - buf + 1;
	memmove(buf, nl + 1, have);
	return line;
}

/* Print lines up to and including the reply to the command just sent. */
static int reply(int quiet)
{
	char *l;

	while ((l = next_line())) {
		if (!strncmp(l, "{\"QMP\"", 6))
			continue;       /* the greeting */
		if (strstr(l, "\"event\"")) {
			printf("event: %s\n", l);
			continue;
		}
		if (!quiet)
			printf("%s\n", l);
		return strncmp(l, "{\"error\"", 8) ? 0 : 1;
	}
	fprintf(stderr, "vnuma-qmp: connection closed\n");
	return 2;
}

static int send_cmd(const char *json)
{
	size_t len = strlen(json);

	if (write(out_fd, json, len) != (ssize_t)len ||
	    write(out_fd, "\n", 1) != 1) {
		fprintf(stderr, "vnuma-qmp: write: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int i, ret = 0;

	if (argc < 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: vnuma-qmp SOCKET JSON...\n");
		return 2;
	}
	if (!strncmp(argv[1], "pipe:", 5)) {
		char path[sizeof(sa.sun_path) + 8];

		snprintf(path, sizeof(path), "%s.out", argv[1] + 5);
		fd = open(path, O_RDONLY);
		snprintf(path, sizeof(path), "%s.in", argv[1] + 5);
		out_fd = open(path, O_WRONLY);
		if (fd < 0 || out_fd < 0) {
			fprintf(stderr, "vnuma-qmp: %s: %s\n", path,
				strerror(errno));
			return 2;
		}
		/* Negotiated already after the first call: error ignored. */
		if (send_cmd("{\"execute\": \"qmp_capabilities\"}") ||
		    reply(1) > 1)
			return 2;
	} else {
		strcpy(sa.sun_path, argv[1]);
		fd = out_fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			fprintf(stderr, "vnuma-qmp: %s: %s\n", argv[1],
				strerror(errno));
			return 2;
		}
		if (!next_line() ||
		    send_cmd("{\"execute\": \"qmp_capabilities\"}") ||
		    reply(1))
			return 2;
	}
	for (i = 2; i < argc; i++) {
		if (send_cmd(argv[i]))
			return 2;
		ret |= reply(0);
	}
	fflush(stdout);
	return ret;
}
