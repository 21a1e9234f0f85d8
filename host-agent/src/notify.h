/* SPDX-License-Identifier: GPL-2.0 */
/* Tell the service manager (systemd's sd_notify protocol) how we are. */
#ifndef VN_NOTIFY_H
#define VN_NOTIFY_H

void vn_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* VN_NOTIFY_H */
