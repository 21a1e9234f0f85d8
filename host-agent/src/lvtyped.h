/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libvirt's own virtio-numa API (virDomainNumaNodeAdd(),
 * virDomainNumaNodeRemove(), virDomainNumaRelayout(), the vnuma domain
 * stats), used when the libvirt library in this process has it and the
 * domain's device is libvirt's <memory model='virtio-numa'>.  Then
 * libvirt does the work, knows what changed, and the domain is not
 * tainted.  Otherwise the commands go to QEMU's monitor through
 * libvirt (QMP passthrough), the fallback for a stock libvirt.
 *
 * The functions are looked up at run time, so that one vnumactl runs
 * on either libvirt.
 */
#ifndef VN_LVTYPED_H
#define VN_LVTYPED_H

#include <stdbool.h>
#include <libvirt/libvirt.h>

#include "vnuma.h"

/*
 * Can @dom be driven through the typed API?  Says why not in @why.
 * @xml: its definition if the caller has it, else NULL (read here).
 */
bool lvt_usable(virDomainPtr dom, const char *xml, char *why, size_t len);

enum vn_result lvt_query(virDomainPtr dom, struct vn_info *info,
			 struct vn_err *err);
enum vn_result lvt_node_add(virDomainPtr dom,
			    const struct vn_node_add_req *req,
			    struct vn_err *err);
enum vn_result lvt_node_remove(virDomainPtr dom, uint32_t node,
			       struct vn_err *err);
enum vn_result lvt_relayout(virDomainPtr dom, const struct vn_range *r,
			    bool migrate, struct vn_err *err);

/* "0-2,5" for libvirt's node and CPU lists. */
const char *lvt_id_list(const uint32_t *ids, size_t nr, char *buf,
			size_t len);

#endif /* VN_LVTYPED_H */
