/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One way to log: vn_log(LEVEL, fmt, ...) with the syslog(3) levels, to
 * stderr (vnumactl) or to syslog (the vnumad daemon, later).  Messages
 * above the verbosity are dropped before they are formatted.
 */
#ifndef VN_LOG_H
#define VN_LOG_H

#include <stdbool.h>
#include <syslog.h>

extern int log_level;

void log_init(const char *ident, int level, bool use_syslog);
void log_set_level(int level);
void log_printf(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define vn_log(level, ...)						\
	do {								\
		if ((level) <= log_level)				\
			log_printf((level), __VA_ARGS__);		\
	} while (0)

#endif /* VN_LOG_H */
