/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vnumad: keeps the last per-node report of every running domain that
 * has a virtio-numa device, exports it, relays a guest out after it
 * migrated in, and runs the rebalance policy.
 *
 * The main thread runs libvirt's event loop.  Callbacks (libvirt
 * events, control socket, signals) only record what happened;
 * vnd_work(), called between loop iterations, starts the work due on
 * each VM as a job in a thread of its own (daemon.c), at most one per
 * VM.  So neither the loop nor one VM's work ever waits for another
 * VM: a QEMU that does not answer holds up only its own VM's jobs.
 */
#ifndef VN_DAEMON_H
#define VN_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <libvirt/libvirt.h>

#include "config.h"
#include "conn.h"
#include "policy.h"
#include "vnproto.h"

#define VND_MAX_EXPECTED	32	/* incoming migrations announced */
#define VND_EXPECT_TTL_MS	(30 * 60 * 1000)

struct vnd_domain {
	struct vnd_domain *next;
	virDomainPtr dom;
	struct vn_conn *op;	/* while a job talks to it */
	bool busy;		/* a job works on it: not freed until done */
	bool gone;		/* stopped: removed by vnd_work() */
	char name[256];
	char uuid[VIR_UUID_STRING_BUFLEN];
	bool checked;		/* asked QEMU whether it has a device */
	bool typed;		/* libvirt's device: through libvirt's API */
	bool told_passthrough;	/* said that plans use QMP all the same */
	char device[64];	/* the device's id; "" for none */
	bool refresh;		/* query the device on the next pass */
	bool relayout_due;	/* migrated in: relayout on the next pass */
	unsigned int relayout_tries;
	bool has_info;
	struct vn_info info;	/* as last queried */
	long long updated;	/* wall clock seconds of @info */
	unsigned int relayouts;	/* relayouts vnumad sent */
	unsigned int relayout_failures;
	long long relayout_ms;	/* their time, sending to completion */
	char last_error[1024];
	/* the free-memory policy */
	struct vnd_run *held;	/* a rebalance holds it busy */
	bool gathered;		/* @info has the RAM map, @md is current */
	struct vn_memdev *md;
	size_t nr_md;
	struct vn_pol_moved moved[VN_POL_MAX_MOVED];	/* since it started */
	size_t nr_moved;
	long long last_move_s;	/* wall clock of the last move; 0: none */
};

struct vnd_expected {
	char name[256];
	long long at_ms;
};

struct vnd_client;
struct vnd_job;
struct vnd_run;

struct vnd {
	struct vnd_config cfg;
	const char *config_path;
	bool foreground;

	virConnectPtr conn;
	char conn_uri[256];	/* the URI @conn was opened with */
	int life_cb;
	int mon_cb;
	bool lost;		/* the connection closed: reconnect */
	long long next_connect_ms;

	int listen_fd;
	int listen_watch;
	int signal_fd;
	int signal_watch;
	int tick;		/* wakes the loop for timed work */
	struct vnd_client *clients;

	struct vnd_domain *domains;
	struct vnd_expected expected[VND_MAX_EXPECTED];
	size_t nr_expected;

	pthread_mutex_t lock;	/* see daemon.c */
	int done_fd[2];		/* a job thread wakes the main thread */
	int done_watch;
	struct vnd_job *done;	/* done jobs, for on_job_done() */
	unsigned int nr_jobs;	/* started and not yet taken back */

	bool quit;
	bool reload;
	bool export_due;
	long long next_rebalance_ms;
};

int vnd_start(struct vnd *d);
void vnd_run(struct vnd *d);
void vnd_stop(struct vnd *d);

#endif /* VN_DAEMON_H */
