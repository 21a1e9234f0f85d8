/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Operations on one virtio-numa device of one VM, each of them whole:
 * it waits for the guest's completion, cleans up what it created when
 * a step fails, and ends with the device's accounting.  Each returns
 * the outcome; the message in @err names the domain, device and node.
 */
#ifndef VN_VNUMA_H
#define VN_VNUMA_H

#include "conn.h"
#include "vnproto.h"

struct vn_dev {
	struct vn_conn *conn;
	const char *domain;	/* label for messages and backend names */
	const char *id;		/* the device's QOM id */
	int timeout_ms;		/* for each wait on the guest; < 0: none */
	/*
	 * With -c URI: the domain, when libvirt's typed virtio-numa API
	 * drives it (lvtyped.h); NULL: QMP.
	 */
	void *typed;
	/* Called with each new accounting while a relayout drains. */
	void (*progress)(const struct vn_info *info, void *arg);
	void *progress_arg;
};

struct vn_node_add_req {
	uint32_t node;
	uint64_t size;
	const uint32_t *host_nodes;
	size_t nr_host_nodes;
	const uint32_t *cpus;
	size_t nr_cpus;
	const struct vn_distance *dist;
	size_t nr_dist;
};

struct vn_relayout_req {
	const struct vn_range *ranges;
	size_t nr;
	bool migrate;
	bool wait;		/* for the guest's completion */
	bool settle;		/* then until no page is pending */
	bool has_host_node;	/* move the host memory to @host_node first */
	uint32_t host_node;
};

enum vn_result vn_query(struct vn_dev *d, struct vn_info *info,
			struct vn_err *err);
enum vn_result vn_report(struct vn_dev *d, struct vn_info *info,
			 struct vn_err *err);
enum vn_result vn_node_add(struct vn_dev *d, const struct vn_node_add_req *req,
			   struct vn_info *info, struct vn_err *err);
enum vn_result vn_node_remove(struct vn_dev *d, uint32_t node,
			      struct vn_info *info, struct vn_err *err);
enum vn_result vn_relayout(struct vn_dev *d, const struct vn_relayout_req *req,
			   uint64_t *cmd_id, struct vn_info *info,
			   struct vn_err *err);

/* Pure helpers, exported for the tests. */
void vn_backend_name(char *buf, size_t len, const char *label,
		     uint32_t node);
int vn_check_ranges(const struct vn_info *info, const struct vn_range *r,
		    size_t nr, struct vn_err *err);
enum vn_result vn_completion_result(const struct vn_completion *c,
				    struct vn_err *err);

#endif /* VN_VNUMA_H */
