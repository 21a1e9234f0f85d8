// SPDX-License-Identifier: GPL-2.0
/*
 * Logging to stderr or syslog.  Each message is one line; the caller
 * names the domain, device and node it is about.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "qmp.h"

int log_level = LOG_NOTICE;

static const char *log_ident = "vnumactl";
static bool log_syslog;

void log_init(const char *ident, int level, bool use_syslog)
{
	log_ident = ident;
	log_level = level;
	log_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

void log_set_level(int level)
{
	if (level < LOG_EMERG)
		level = LOG_EMERG;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_level = level;
}

static const char *log_prefix(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

void log_printf(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		/* vnumad's job threads log too: one line at a time. */
		flockfile(stderr);
		fprintf(stderr, "%s: %s", log_ident, log_prefix(level));
		if (log_level >= LOG_DEBUG)
			fprintf(stderr, "[%lld.%03lld] ", vn_now_ms() / 1000,
				vn_now_ms() % 1000);
		vfprintf(stderr, fmt, ap);
		if (!*fmt || fmt[strlen(fmt) - 1] != '\n')
			fputc('\n', stderr);
		funlockfile(stderr);
	}
	va_end(ap);
}
