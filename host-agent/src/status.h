/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How an operation ended, how the guest answered a command, and the
 * exit code each of those gives.  The mapping is one table, status.c.
 */
#ifndef VN_STATUS_H
#define VN_STATUS_H

#include <stdbool.h>
#include <stddef.h>

/* The outcome of an operation; each has one exit code. */
enum vn_result {
	VN_OK,			/* done */
	VN_ERR_USAGE,		/* bad command line or input */
	VN_ERR_QEMU,		/* QEMU refused it (a QMP error) */
	VN_ERR_GUEST,		/* the guest refused or failed it */
	VN_ERR_PARTIAL,		/* the guest applied it in part */
	VN_ERR_IO,		/* no answer: connection, protocol, timeout */
	VN_ERR_INTR,		/* interrupted by a signal */
	VN_NR_RESULTS
};

/* VirtioNumaStatus, as a VIRTIO_NUMA_COMPLETION event carries it. */
enum vn_status {
	VN_S_OK,
	VN_S_INVALID,
	VN_S_UNSUPPORTED,
	VN_S_BUSY,
	VN_S_PARTIAL,
	VN_S_FAILED,
	VN_S_CANCELLED,
	VN_S_UNKNOWN,		/* a status this program does not know */
	VN_NR_STATUS
};

int vn_result_exit_code(enum vn_result res);
const char *vn_result_name(enum vn_result res);

enum vn_status vn_status_parse(const char *name);
const char *vn_status_name(enum vn_status st);
const char *vn_status_meaning(enum vn_status st);
enum vn_result vn_status_result(enum vn_status st);

/* An error: its outcome and one line naming what failed and why. */
struct vn_err {
	enum vn_result res;
	char msg[1024];
};

void vn_err_clear(struct vn_err *err);
enum vn_result vn_err_set(struct vn_err *err, enum vn_result res,
			  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum vn_result vn_err_prefix(struct vn_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum vn_result vn_err_append(struct vn_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* VN_STATUS_H */
