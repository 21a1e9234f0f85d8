// SPDX-License-Identifier: GPL-2.0
/*
 * The libvirt QEMU hook of virtio-numa, installed as
 * /etc/libvirt/hooks/qemu.d/vnumad.  libvirt runs it as
 *
 *	vnumad GUEST OPERATION SUB-OPERATION EXTRA   (domain XML on stdin)
 *
 * and waits for it, with the domain's lock held: a hook must never call
 * back into libvirt.  This one only tells vnumad, over its control
 * socket, that GUEST is migrating in ("migrate begin" runs on the
 * destination); vnumad relays the guest out when libvirt resumes it
 * there.  It never fails: a missing vnumad costs the relayout, not
 * the migration.  Its stdout stays empty, which tells libvirt to keep
 * the domain XML as it is.
 *
 *	--socket PATH   vnumad's socket, before the libvirt arguments
 *			(default /run/vnumad/vnumad.sock)
 */
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"

#define HOOK_TIMEOUT_MS	2000

/* Read the XML libvirt writes, so that its write never fails. */
static void drain_stdin(void)
{
	char buf[4096];

	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
}

int main(int argc, char **argv)
{
	const char *socket = VN_CTL_SOCKET;
	struct json_object *args, *ret;
	struct vn_err err;
	int i = 1;

	log_init("vnumad-hook", LOG_NOTICE, true);
	if (argc > 2 && !strcmp(argv[1], "--socket")) {
		socket = argv[2];
		i = 3;
	}
	if (argc - i < 3) {
		fprintf(stderr, "usage: vnumad-hook [--socket PATH] GUEST "
			"OPERATION SUB-OPERATION [EXTRA]\n");
		return 0;
	}
	drain_stdin();
	if (strcmp(argv[i + 1], "migrate") || strcmp(argv[i + 2], "begin"))
		return 0;
	args = json_object_new_object();
	json_object_object_add(args, "domain", json_object_new_string(argv[i]));
	if (ctl_call(socket, "expect-migration", args, HOOK_TIMEOUT_MS, &ret,
		     &err)) {
		vn_log(LOG_WARNING, "%s: no relayout after this migration: %s",
		       argv[i], err.msg);
		return 0;
	}
	json_object_put(ret);
	vn_log(LOG_INFO, "%s: told vnumad of the incoming migration",
	       argv[i]);
	return 0;
}
