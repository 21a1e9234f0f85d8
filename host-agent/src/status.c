// SPDX-License-Identifier: GPL-2.0
/*
 * The one table from outcomes to exit codes, and the guest's statuses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

static const struct {
	const char *name;
	int exit_code;
} result_table[VN_NR_RESULTS] = {
	[VN_OK]		 = { "ok",			0 },
	[VN_ERR_USAGE]	 = { "bad usage",		1 },
	[VN_ERR_QEMU]	 = { "refused by QEMU",		2 },
	[VN_ERR_GUEST]	 = { "refused by the guest",	3 },
	[VN_ERR_PARTIAL] = { "partly applied",		4 },
	[VN_ERR_IO]	 = { "no answer from QEMU",	5 },
	[VN_ERR_INTR]	 = { "interrupted",		130 },
};

static const struct {
	const char *name;
	enum vn_result res;
	const char *meaning;
} status_table[VN_NR_STATUS] = {
	[VN_S_OK]	   = { "ok",	      VN_OK,
			       "applied" },
	[VN_S_INVALID]	   = { "invalid",     VN_ERR_GUEST,
			       "the guest found the command malformed" },
	[VN_S_UNSUPPORTED] = { "unsupported", VN_ERR_GUEST,
			       "the guest does not support the command" },
	[VN_S_BUSY]	   = { "busy",	      VN_ERR_GUEST,
			       "the guest could not apply it now (try again)" },
	[VN_S_PARTIAL]	   = { "partial",     VN_ERR_PARTIAL,
			       "the guest applied it in part" },
	[VN_S_FAILED]	   = { "failed",      VN_ERR_GUEST,
			       "the guest applied nothing" },
	[VN_S_CANCELLED]   = { "cancelled",   VN_ERR_GUEST,
			       "the guest reset the device before answering" },
	[VN_S_UNKNOWN]	   = { "unknown",     VN_ERR_GUEST,
			       "the guest answered with an unknown status" },
};

int vn_result_exit_code(enum vn_result res)
{
	if ((unsigned int)res >= VN_NR_RESULTS)
		return result_table[VN_ERR_IO].exit_code;
	return result_table[res].exit_code;
}

const char *vn_result_name(enum vn_result res)
{
	if ((unsigned int)res >= VN_NR_RESULTS)
		return "?";
	return result_table[res].name;
}

enum vn_status vn_status_parse(const char *name)
{
	unsigned int i;

	for (i = 0; i < VN_S_UNKNOWN; i++)
		if (name && !strcmp(name, status_table[i].name))
			return i;
	return VN_S_UNKNOWN;
}

const char *vn_status_name(enum vn_status st)
{
	if ((unsigned int)st >= VN_NR_STATUS)
		st = VN_S_UNKNOWN;
	return status_table[st].name;
}

const char *vn_status_meaning(enum vn_status st)
{
	if ((unsigned int)st >= VN_NR_STATUS)
		st = VN_S_UNKNOWN;
	return status_table[st].meaning;
}

enum vn_result vn_status_result(enum vn_status st)
{
	if ((unsigned int)st >= VN_NR_STATUS)
		st = VN_S_UNKNOWN;
	return status_table[st].res;
}

void vn_err_clear(struct vn_err *err)
{
	err->res = VN_OK;
	err->msg[0] = '\0';
}

enum vn_result vn_err_set(struct vn_err *err, enum vn_result res,
			  const char *fmt, ...)
{
	va_list ap;

	err->res = res;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return res;
}

/* Put context ("vm1/vnuma0: node 2: ") in front of the message. */
enum vn_result vn_err_prefix(struct vn_err *err, const char *fmt, ...)
{
	char old[sizeof(err->msg)];
	int n;
	va_list ap;

	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, "%s", old);
	return err->res;
}

/* Add to the end of the message ("; backend x is left behind"). */
enum vn_result vn_err_append(struct vn_err *err, const char *fmt, ...)
{
	size_t n = strlen(err->msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return err->res;
}
