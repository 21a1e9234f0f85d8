// SPDX-License-Identifier: GPL-2.0
/*
 * The accounting table of "nodes", "report", "watch" and of what the
 * other commands print when they are done.  Page counts are shown in
 * bytes, with the page size the guest reported.
 */
#include <inttypes.h>
#include <string.h>

#include "table.h"

/* "online,memory,cpus,added", or "possible" for a node that is down. */
const char *node_state(const struct vn_node *n, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s",
		 n->online ? "online" : n->possible ? "possible" : "-",
		 n->online && n->with_memory ? ",memory" : "",
		 n->online && n->with_cpus ? ",cpus" : "",
		 n->added ? ",added" : "");
	return buf;
}

static const char *pages(const struct vn_info *info, uint64_t nr,
			 char *buf, size_t len)
{
	return format_size(vn_pages_bytes(info, nr), buf, len);
}

static void table_header(FILE *f, const char *domain,
			 const struct vn_info *info)
{
	char ps[VN_SIZE_BUF], bs[VN_SIZE_BUF];

	if (!info->block_size) {
		/* libvirt's figures (lvtyped.c): no device details. */
		fprintf(f, "%s: libvirt's virtio-numa accounting, %" PRIu64
			" reports\n", domain, info->reports);
		return;
	}
	fprintf(f, "%s/%s: driver %s, block size %s", domain, info->id,
		info->driver_ready ? "ready" : "not ready",
		format_size(info->block_size, bs, sizeof(bs)));
	/* The guest's units only where they are not the block size. */
	if (vn_relayout_unit(info) != info->block_size)
		fprintf(f, ", relayout unit %s",
			format_size(vn_relayout_unit(info), bs, sizeof(bs)));
	if (vn_add_unit(info) != info->block_size)
		fprintf(f, ", node size unit %s",
			format_size(vn_add_unit(info), bs, sizeof(bs)));
	if (info->has_page_size)
		fprintf(f, ", page size %s",
			format_size(info->page_size, ps, sizeof(ps)));
	if (info->has_report_seq)
		fprintf(f, ", report %" PRIu64, info->report_seq);
	fputc('\n', f);
}

void table_print(FILE *f, const char *domain, const struct vn_info *info)
{
	char st[48], pr[VN_SIZE_BUF], ma[VN_SIZE_BUF], fr[VN_SIZE_BUF];
	char pe[VN_SIZE_BUF];
	size_t i;

	table_header(f, domain, info);
	if (!info->nr_nodes) {
		fprintf(f, "(no nodes: %s)\n", info->reports ?
			"the guest reported none" :
			"the guest has not reported yet");
		return;
	}
	fprintf(f, "%4s %5s  %-26s %4s %10s %10s %10s %10s\n", "NODE",
		"GUEST", "STATE", "CPUS", "PRESENT", "MANAGED", "FREE",
		"PENDING");
	for (i = 0; i < info->nr_nodes; i++) {
		const struct vn_node *n = &info->nodes[i];

		fprintf(f, "%4" PRIu32 " %5" PRIu32 "  %-26s %4" PRIu64
			" %10s %10s %10s %10s\n", n->node, n->guest_node,
			node_state(n, st, sizeof(st)), n->cpus,
			pages(info, n->present_pages, pr, sizeof(pr)),
			pages(info, n->managed_pages, ma, sizeof(ma)),
			pages(info, n->free_pages, fr, sizeof(fr)),
			pages(info, n->pending_pages, pe, sizeof(pe)));
	}
}

/* One progress line, rewritten in place on a terminal. */
void table_print_pending(FILE *f, const struct vn_info *info)
{
	uint64_t nr = vn_info_pending(info);
	char sz[VN_SIZE_BUF];

	fprintf(f, "\rpending: %" PRIu64 " pages (%s)\033[K", nr,
		pages(info, nr, sz, sizeof(sz)));
	fflush(f);
}
