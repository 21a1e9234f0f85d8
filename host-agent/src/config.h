/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnumad's configuration: "key = value" lines, '#' comments.  See
 * vnumad(8) for the keys.  Parsing is pure and unit-tested; a file
 * that does not parse changes nothing.
 */
#ifndef VN_CONFIG_H
#define VN_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "status.h"

#define VND_CONFIG	"/etc/vnumad.conf"

enum vnd_rebalance {
	VND_REBALANCE_OFF,
	VND_REBALANCE_DRY_RUN,	/* log the plan */
	VND_REBALANCE_APPLY,
};

enum vnd_policy {
	VND_POLICY_BINDING,	/* restore the binding's layout */
	VND_POLICY_FREE_MEMORY,	/* move memory off short host nodes */
};

struct vnd_config {
	char uri[256];
	char socket[108];
	char export_path[256];	/* "" for none */
	char metrics_path[256];	/* OpenMetrics text; "" for none */
	char host_nodes_dir[256];
	int log_level;
	bool migration_relayout;
	enum vnd_rebalance rebalance;
	unsigned int rebalance_interval_s;
	unsigned int monitor_timeout_s;
	enum vnd_policy policy;
	unsigned int free_low_pct;	/* policy.h */
	unsigned int free_high_pct;
	uint64_t move_max;		/* bytes per pass */
	unsigned int move_cooldown_s;
};

void config_defaults(struct vnd_config *cfg);
int config_parse(const char *text, const char *name, struct vnd_config *cfg,
		 struct vn_err *err);
int config_load(const char *path, struct vnd_config *cfg, bool must_exist,
		struct vn_err *err);
const char *config_rebalance_name(enum vnd_rebalance r);
const char *config_policy_name(enum vnd_policy p);
int config_policy_parse(const char *v, enum vnd_policy *p,
			struct vn_err *err);

#endif /* VN_CONFIG_H */
