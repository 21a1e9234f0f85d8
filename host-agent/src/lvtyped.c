// SPDX-License-Identifier: GPL-2.0
/*
 * libvirt's typed virtio-numa API; see lvtyped.h.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>

#include "conn_libvirt.h"
#include "lvtyped.h"

/* From libvirt 11.4's libvirt-domain.h (our patches/libvirt). */
#define LVT_STATS_VNUMA			(1 << 11)
#define LVT_RELAYOUT_MIGRATE		(1 << 0)

typedef int (*node_add_fn)(virDomainPtr dom, unsigned int cell,
			   virTypedParameterPtr params, int nparams,
			   unsigned int flags);
typedef int (*node_remove_fn)(virDomainPtr dom, unsigned int cell,
			      unsigned int flags);
typedef int (*relayout_fn)(virDomainPtr dom, unsigned int cell,
			   virTypedParameterPtr params, int nparams,
			   unsigned int flags);

static struct {
	bool looked;
	node_add_fn node_add;
	node_remove_fn node_remove;
	relayout_fn relayout;
} api;

static void lvt_lookup(void)
{
	if (api.looked)
		return;
	api.looked = true;
	/* Casts from dlsym(): POSIX guarantees they work. */
	*(void **)&api.node_add = dlsym(RTLD_DEFAULT, "virDomainNumaNodeAdd");
	*(void **)&api.node_remove = dlsym(RTLD_DEFAULT,
					   "virDomainNumaNodeRemove");
	*(void **)&api.relayout = dlsym(RTLD_DEFAULT, "virDomainNumaRelayout");
}

bool lvt_usable(virDomainPtr dom, const char *xml, char *why, size_t len)
{
	char *own = NULL;
	bool typed;

	lvt_lookup();
	if (!api.node_add || !api.node_remove || !api.relayout) {
		snprintf(why, len, "this libvirt has no virtio-numa API");
		return false;
	}
	if (!xml)
		xml = own = virDomainGetXMLDesc(dom, 0);
	if (!xml) {
		snprintf(why, len, "cannot read the domain's definition");
		return false;
	}
	typed = strstr(xml, "<memory model='virtio-numa'");
	free(own);
	if (!typed)
		snprintf(why, len, "the device is on QEMU's command line, not "
			 "libvirt's <memory model='virtio-numa'>");
	return typed;
}

static enum vn_result lv_fail(struct vn_err *err, const char *what)
{
	char msg[512];
	virErrorPtr e = virGetLastError();

	lv_one_line(msg, sizeof(msg), virGetLastErrorMessage());
	/* libvirt's refusals of the request, as usage errors. */
	if (e && (e->code == VIR_ERR_INVALID_ARG ||
		  e->code == VIR_ERR_OPERATION_INVALID ||
		  e->code == VIR_ERR_CONFIG_UNSUPPORTED))
		return vn_err_set(err, VN_ERR_USAGE, "%s: %s", what, msg);
	return vn_err_set(err, VN_ERR_IO, "%s: %s", what, msg);
}

const char *lvt_id_list(const uint32_t *ids, size_t nr, char *buf,
			size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < nr && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%" PRIu32,
				 i ? "," : "", ids[i]);
	return buf;
}

/* One cell of the vnuma stats into @n: false if it is not all there. */
static bool stats_cell(virTypedParameterPtr p, int np, size_t i,
		       struct vn_node *n, uint64_t page)
{
	unsigned long long present, managed, free_, pending;
	unsigned int id, guest, cpus = 0;
	int online = 0, added = 0;
	char key[64];

#define KEY(suffix) (snprintf(key, sizeof(key), "vnuma.cell.%zu." suffix, i), \
		     key)
	if (virTypedParamsGetUInt(p, np, KEY("id"), &id) != 1 ||
	    virTypedParamsGetUInt(p, np, KEY("guest_node"), &guest) != 1 ||
	    virTypedParamsGetULLong(p, np, KEY("present"), &present) != 1 ||
	    virTypedParamsGetULLong(p, np, KEY("managed"), &managed) != 1 ||
	    virTypedParamsGetULLong(p, np, KEY("free"), &free_) != 1 ||
	    virTypedParamsGetULLong(p, np, KEY("pending"), &pending) != 1)
		return false;
	virTypedParamsGetBoolean(p, np, KEY("online"), &online);
	virTypedParamsGetBoolean(p, np, KEY("added"), &added);
	virTypedParamsGetUInt(p, np, KEY("cpus"), &cpus);
#undef KEY
	memset(n, 0, sizeof(*n));
	n->node = id;
	n->guest_node = guest;
	n->possible = true;
	n->online = online;
	n->added = added;
	n->with_memory = present > 0;
	n->with_cpus = cpus > 0;
	n->cpus = cpus;
	n->present_pages = present / page;
	n->managed_pages = managed / page;
	n->free_pages = free_ / page;
	n->pending_pages = pending / page;
	return true;
}

/*
 * libvirt's latest per-cell accounting (the vnuma stats group), as the
 * guest last reported it, in @info.  No block size: libvirt's stats
 * do not carry it, and the table says where the figures come from.
 */
enum vn_result lvt_query(virDomainPtr dom, struct vn_info *info,
			 struct vn_err *err)
{
	virDomainPtr doms[] = { dom, NULL };
	virDomainStatsRecordPtr *rec = NULL;
	unsigned long long reports = 0;
	unsigned int count = 0;
	size_t i;
	int n;

	memset(info, 0, sizeof(*info));
	n = virDomainListGetStats(doms, LVT_STATS_VNUMA, &rec, 0);
	if (n < 0)
		return lv_fail(err, "libvirt's vnuma stats");
	if (n != 1) {
		virDomainStatsRecordListFree(rec);
		return vn_err_set(err, VN_ERR_IO, "libvirt gave no vnuma stats "
				  "of the domain"), VN_ERR_IO;
	}
	virTypedParamsGetULLong(rec[0]->params, rec[0]->nparams,
				"vnuma.reports", &reports);
	virTypedParamsGetUInt(rec[0]->params, rec[0]->nparams,
			      "vnuma.cell.count", &count);
	info->id = strdup("libvirt");
	info->nodes = calloc(count ? count : 1, sizeof(*info->nodes));
	if (!info->id || !info->nodes) {
		virDomainStatsRecordListFree(rec);
		vn_info_free(info);
		return vn_err_set(err, VN_ERR_IO, "out of memory"), VN_ERR_IO;
	}
	info->driver_ready = true;
	info->reports = reports;
	info->has_page_size = true;
	info->page_size = 4096;
	for (i = 0; i < count; i++)
		if (stats_cell(rec[0]->params, rec[0]->nparams, i,
			       &info->nodes[info->nr_nodes], info->page_size))
			info->nr_nodes++;
	virDomainStatsRecordListFree(rec);
	return VN_OK;
}

enum vn_result lvt_node_add(virDomainPtr dom,
			    const struct vn_node_add_req *req,
			    struct vn_err *err)
{
	virTypedParameterPtr params = NULL;
	int np = 0, max = 0, r;
	char list[4096];

	r = virTypedParamsAddULLong(&params, &np, &max, "size",
				    req->size / 1024);
	if (!r && req->nr_host_nodes)
		r = virTypedParamsAddString(&params, &np, &max, "nodeset",
				lvt_id_list(req->host_nodes,
					    req->nr_host_nodes, list,
					    sizeof(list)));
	if (!r && req->nr_cpus)
		r = virTypedParamsAddString(&params, &np, &max, "cpus",
				lvt_id_list(req->cpus, req->nr_cpus, list,
					    sizeof(list)));
	if (!r)
		r = api.node_add(dom, req->node, params, np,
				 VIR_DOMAIN_AFFECT_LIVE);
	virTypedParamsFree(params, np);
	if (r < 0)
		return lv_fail(err, "virDomainNumaNodeAdd");
	return VN_OK;
}

enum vn_result lvt_node_remove(virDomainPtr dom, uint32_t node,
			       struct vn_err *err)
{
	if (api.node_remove(dom, node, VIR_DOMAIN_AFFECT_LIVE) < 0)
		return lv_fail(err, "virDomainNumaNodeRemove");
	return VN_OK;
}

enum vn_result lvt_relayout(virDomainPtr dom, const struct vn_range *rg,
			    bool migrate, struct vn_err *err)
{
	virTypedParameterPtr params = NULL;
	int np = 0, max = 0, r;

	if (rg->size % 1024)
		return vn_err_set(err, VN_ERR_USAGE, "libvirt takes sizes in "
				  "KiB: %" PRIu64 " is not a multiple of 1024",
				  rg->size), VN_ERR_USAGE;
	r = virTypedParamsAddULLong(&params, &np, &max, "start", rg->addr);
	if (!r)
		r = virTypedParamsAddULLong(&params, &np, &max, "size",
					    rg->size / 1024);
	if (!r)
		r = api.relayout(dom, rg->node, params, np,
				 migrate ? LVT_RELAYOUT_MIGRATE : 0);
	virTypedParamsFree(params, np);
	if (r < 0)
		return lv_fail(err, "virDomainNumaRelayout");
	return VN_OK;
}
