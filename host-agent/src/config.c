// SPDX-License-Identifier: GPL-2.0
/*
 * vnumad.conf.  Every key has a default, so an empty file is valid;
 * an unknown key or a bad value is an error that names the line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config.h"
#include "ctl.h"
#include "size.h"

void config_defaults(struct vnd_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->uri, sizeof(cfg->uri), "qemu:///system");
	snprintf(cfg->socket, sizeof(cfg->socket), "%s", VN_CTL_SOCKET);
	snprintf(cfg->export_path, sizeof(cfg->export_path),
		 "/run/vnumad/nodes.json");
	snprintf(cfg->metrics_path, sizeof(cfg->metrics_path),
		 "/run/vnumad/vnumad.prom");
	snprintf(cfg->host_nodes_dir, sizeof(cfg->host_nodes_dir),
		 "/sys/devices/system/node");
	cfg->log_level = LOG_NOTICE;
	cfg->migration_relayout = true;
	cfg->rebalance = VND_REBALANCE_OFF;
	cfg->rebalance_interval_s = 60;
	cfg->monitor_timeout_s = 10;
	cfg->policy = VND_POLICY_BINDING;
	cfg->free_low_pct = 10;
	cfg->free_high_pct = 20;
	cfg->move_max = 1ull << 30;
	cfg->move_cooldown_s = 300;
}

static const char *const rebalance_names[] = {
	[VND_REBALANCE_OFF] = "off",
	[VND_REBALANCE_DRY_RUN] = "dry-run",
	[VND_REBALANCE_APPLY] = "apply",
};

const char *config_rebalance_name(enum vnd_rebalance r)
{
	return rebalance_names[r];
}

static const char *const policy_names[] = {
	[VND_POLICY_BINDING] = "binding",
	[VND_POLICY_FREE_MEMORY] = "free-memory",
};

const char *config_policy_name(enum vnd_policy p)
{
	return policy_names[p];
}

int config_policy_parse(const char *v, enum vnd_policy *p,
			struct vn_err *err)
{
	size_t i;

	for (i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
		if (!strcmp(v, policy_names[i])) {
			*p = i;
			return 0;
		}
	return vn_err_set(err, VN_ERR_USAGE, "'%.40s' is not binding or "
			  "free-memory", v), -1;
}

static const struct {
	const char *name;
	int level;
} log_levels[] = {
	{ "error", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

static int set_str(char *dst, size_t len, const char *v, bool empty_ok,
		   struct vn_err *err)
{
	if (!*v && !empty_ok)
		return vn_err_set(err, VN_ERR_USAGE, "empty value"), -1;
	if (strlen(v) >= len)
		return vn_err_set(err, VN_ERR_USAGE, "longer than %zu "
				  "characters", len - 1), -1;
	snprintf(dst, len, "%s", v);
	return 0;
}

static int set_bool(bool *dst, const char *v, struct vn_err *err)
{
	if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1"))
		*dst = true;
	else if (!strcmp(v, "no") || !strcmp(v, "off") || !strcmp(v, "0"))
		*dst = false;
	else
		return vn_err_set(err, VN_ERR_USAGE, "'%s' is not yes or no",
				  v), -1;
	return 0;
}

static int set_seconds(unsigned int *dst, const char *v, unsigned int min,
		       struct vn_err *err)
{
	uint64_t x;

	if (parse_uint(v, 86400, "seconds", &x, err))
		return -1;
	if (x < min)
		return vn_err_set(err, VN_ERR_USAGE, "%s is less than %u", v,
				  min), -1;
	*dst = x;
	return 0;
}

static int set_percent(unsigned int *dst, const char *v, struct vn_err *err)
{
	uint64_t x;

	if (parse_uint(v, 90, "percent", &x, err))
		return -1;
	*dst = x;
	return 0;
}

static int set_key(struct vnd_config *cfg, const char *k, const char *v,
		   struct vn_err *err)
{
	size_t i;

	if (!strcmp(k, "uri"))
		return set_str(cfg->uri, sizeof(cfg->uri), v, false, err);
	if (!strcmp(k, "socket")) {
		if (*v != '/')
			return vn_err_set(err, VN_ERR_USAGE, "'%s' is not an "
					  "absolute path", v), -1;
		return set_str(cfg->socket, sizeof(cfg->socket), v, false,
			       err);
	}
	if (!strcmp(k, "export"))
		return set_str(cfg->export_path, sizeof(cfg->export_path), v,
			       true, err);
	if (!strcmp(k, "metrics"))
		return set_str(cfg->metrics_path, sizeof(cfg->metrics_path), v,
			       true, err);
	if (!strcmp(k, "host_nodes_dir"))
		return set_str(cfg->host_nodes_dir,
			       sizeof(cfg->host_nodes_dir), v, false, err);
	if (!strcmp(k, "migration_relayout"))
		return set_bool(&cfg->migration_relayout, v, err);
	if (!strcmp(k, "rebalance_interval"))
		return set_seconds(&cfg->rebalance_interval_s, v, 1, err);
	if (!strcmp(k, "monitor_timeout"))
		return set_seconds(&cfg->monitor_timeout_s, v, 1, err);
	if (!strcmp(k, "policy"))
		return config_policy_parse(v, &cfg->policy, err);
	if (!strcmp(k, "free_low"))
		return set_percent(&cfg->free_low_pct, v, err);
	if (!strcmp(k, "free_high"))
		return set_percent(&cfg->free_high_pct, v, err);
	if (!strcmp(k, "move_max")) {
		if (parse_size(v, &cfg->move_max, err))
			return -1;
		if (!cfg->move_max)
			return vn_err_set(err, VN_ERR_USAGE, "must not be 0"),
			       -1;
		return 0;
	}
	if (!strcmp(k, "move_cooldown"))
		return set_seconds(&cfg->move_cooldown_s, v, 0, err);
	if (!strcmp(k, "log_level")) {
		for (i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]);
		     i++)
			if (!strcmp(v, log_levels[i].name)) {
				cfg->log_level = log_levels[i].level;
				return 0;
			}
		return vn_err_set(err, VN_ERR_USAGE, "'%s' is not error, "
				  "warning, notice, info or debug", v), -1;
	}
	if (!strcmp(k, "rebalance")) {
		for (i = 0; i < sizeof(rebalance_names) /
		     sizeof(rebalance_names[0]); i++)
			if (!strcmp(v, rebalance_names[i])) {
				cfg->rebalance = i;
				return 0;
			}
		return vn_err_set(err, VN_ERR_USAGE, "'%s' is not off, dry-run "
				  "or apply", v), -1;
	}
	return vn_err_set(err, VN_ERR_USAGE, "unknown key '%s'", k), -1;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Parse @text (from @name, for messages) over @cfg: all or nothing. */
int config_parse(const char *text, const char *name, struct vnd_config *cfg,
		 struct vn_err *err)
{
	struct vnd_config next = *cfg;
	char *copy = strdup(text), *line, *save = NULL, *eq, *hash;
	unsigned int lineno = 0;
	const char *p;
	int r = 0;

	if (!copy)
		return vn_err_set(err, VN_ERR_IO, "out of memory"), -1;
	/* strtok_r skips empty lines: count them from the text. */
	for (line = strtok_r(copy, "\n", &save), p = text; line && !r;
	     line = strtok_r(NULL, "\n", &save)) {
		for (; p < text + (line - copy); p++)
			if (*p == '\n')
				lineno++;
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		line = trim(line);
		if (!*line)
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			r = vn_err_set(err, VN_ERR_USAGE, "no '=' in '%.80s'",
				       line);
		} else {
			*eq = '\0';
			r = set_key(&next, trim(line), trim(eq + 1), err);
		}
		if (r)
			vn_err_prefix(err, "%s:%u: ", name, lineno + 1);
	}
	free(copy);
	if (!r && next.free_low_pct >= next.free_high_pct)
		r = vn_err_set(err, VN_ERR_USAGE, "%s: free_low (%u) must be "
			       "below free_high (%u)", name, next.free_low_pct,
			       next.free_high_pct);
	if (r)
		return -1;
	*cfg = next;
	return 0;
}

int config_load(const char *path, struct vnd_config *cfg, bool must_exist,
		struct vn_err *err)
{
	char text[65536];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f && errno == ENOENT && !must_exist)
		return 0;
	if (!f)
		return vn_err_set(err, VN_ERR_USAGE, "cannot read %s: %s", path,
				  strerror(errno)), -1;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	if (!feof(f)) {
		fclose(f);
		return vn_err_set(err, VN_ERR_USAGE, "%s is larger than %zu "
				  "bytes", path, sizeof(text) - 1), -1;
	}
	fclose(f);
	return config_parse(text, path, cfg, err);
}
