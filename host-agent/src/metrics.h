/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnumad's figures for Prometheus: OpenMetrics text, written whole to
 * a file (metrics in vnumad.conf, mode 0644) that node_exporter's
 * textfile collector, or any scraper, reads without root.  Pure: the
 * daemon hands over what it keeps.
 */
#ifndef VN_METRICS_H
#define VN_METRICS_H

#include <stdint.h>
#include <stdio.h>

#include "vnproto.h"

struct vn_metrics_domain {
	const char *name;
	const struct vn_info *info;	/* NULL: not reported yet */
	long long updated;		/* wall clock seconds of @info */
	uint64_t relayouts;		/* relayouts vnumad sent */
	uint64_t relayout_failures;
	double relayout_seconds;	/* their time, send to completion */
	uint64_t moved_ranges;
};

/* Label value @v with \, " and newline escaped, into @buf. */
const char *vn_metrics_label(const char *v, char *buf, size_t len);
void vn_metrics_write(FILE *f, const struct vn_metrics_domain *d, size_t nr,
		      int connected);

#endif /* VN_METRICS_H */
