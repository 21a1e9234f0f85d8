// SPDX-License-Identifier: GPL-2.0
/*
 * OpenMetrics text of vnumad's figures; see metrics.h.
 */
#include <inttypes.h>
#include <stdbool.h>

#include "metrics.h"

const char *vn_metrics_label(const char *v, char *buf, size_t len)
{
	size_t o = 0;

	for (; *v && o + 3 < len; v++) {
		if (*v == '\\' || *v == '"') {
			buf[o++] = '\\';
			buf[o++] = *v;
		} else if (*v == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *v;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* One per-node family: # TYPE and # HELP, then a line per node. */
static void node_family(FILE *f, const struct vn_metrics_domain *d,
			size_t nr, const char *name, const char *help,
			uint64_t (*pages)(const struct vn_node *n))
{
	char lab[512];
	size_t i, j;

	fprintf(f, "# TYPE vnumad_node_%s_bytes gauge\n", name);
	fprintf(f, "# HELP vnumad_node_%s_bytes %s\n", name, help);
	fprintf(f, "# UNIT vnumad_node_%s_bytes bytes\n", name);
	for (i = 0; i < nr; i++) {
		const struct vn_info *info = d[i].info;

		if (!info)
			continue;
		vn_metrics_label(d[i].name, lab, sizeof(lab));
		for (j = 0; j < info->nr_nodes; j++) {
			const struct vn_node *n = &info->nodes[j];

			fprintf(f, "vnumad_node_%s_bytes{domain=\"%s\","
				"node=\"%" PRIu32 "\",guest_node=\"%" PRIu32
				"\"} %" PRIu64 "\n", name, lab, n->node,
				n->guest_node,
				vn_pages_bytes(info, pages(n)));
		}
	}
}

static uint64_t present(const struct vn_node *n)
{
	return n->present_pages;
}

static uint64_t managed(const struct vn_node *n)
{
	return n->managed_pages;
}

static uint64_t free_(const struct vn_node *n)
{
	return n->free_pages;
}

static uint64_t pending(const struct vn_node *n)
{
	return n->pending_pages;
}

/* A per-domain family of one value each. */
static void domain_family(FILE *f, const struct vn_metrics_domain *d,
			  size_t nr, const char *name, bool counter,
			  const char *help,
			  double (*val)(const struct vn_metrics_domain *d))
{
	char lab[512];
	size_t i;

	fprintf(f, "# TYPE vnumad_%s %s\n", name,
		counter ? "counter" : "gauge");
	fprintf(f, "# HELP vnumad_%s %s\n", name, help);
	for (i = 0; i < nr; i++)
		fprintf(f, "vnumad_%s%s{domain=\"%s\"} %.17g\n", name,
			counter ? "_total" : "",
			vn_metrics_label(d[i].name, lab, sizeof(lab)),
			val(&d[i]));
}

static double reports(const struct vn_metrics_domain *d)
{
	return d->info ? d->info->reports : 0;
}

static double updated(const struct vn_metrics_domain *d)
{
	return d->updated;
}

static double relayouts(const struct vn_metrics_domain *d)
{
	return d->relayouts;
}

static double failures(const struct vn_metrics_domain *d)
{
	return d->relayout_failures;
}

static double seconds(const struct vn_metrics_domain *d)
{
	return d->relayout_seconds;
}

static double moved(const struct vn_metrics_domain *d)
{
	return d->moved_ranges;
}

void vn_metrics_write(FILE *f, const struct vn_metrics_domain *d, size_t nr,
		      int connected)
{
	fprintf(f, "# TYPE vnumad_connected gauge\n"
		"# HELP vnumad_connected 1 while vnumad is connected to "
		"libvirt\nvnumad_connected %d\n", connected);
	node_family(f, d, nr, "present", "Memory present in the guest node, "
		    "as the guest reported it.", present);
	node_family(f, d, nr, "managed", "Memory the guest's page allocator "
		    "manages in the node.", managed);
	node_family(f, d, nr, "free", "Free memory in the guest node.", free_);
	node_family(f, d, nr, "pending", "Memory a relayout moved to or from "
		    "the node whose pages are still in use.", pending);
	domain_family(f, d, nr, "reports", true, "Reports the guest sent.",
		      reports);
	domain_family(f, d, nr, "report_timestamp_seconds", false,
		      "When vnumad last took the guest's figures.", updated);
	domain_family(f, d, nr, "relayouts", true, "Relayouts vnumad sent.",
		      relayouts);
	domain_family(f, d, nr, "relayout_failures", true,
		      "Relayouts vnumad sent that did not end ok.", failures);
	domain_family(f, d, nr, "relayout_seconds", true,
		      "Time of the relayouts vnumad sent, from sending to the "
		      "guest's completion.", seconds);
	domain_family(f, d, nr, "moved_ranges", false,
		      "Ranges the free-memory policy moved and remembers.",
		      moved);
	fprintf(f, "# EOF\n");
}
