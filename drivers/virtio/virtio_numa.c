// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtio NUMA driver: the host changes the guest's NUMA layout (adds or
 * removes a node, moves memory between nodes in place) and reads back,
 * per node, what the guest has.
 *
 * The device sends commands on the command queue, into buffers we keep
 * posted; we apply them one at a time, in order, on an ordered workqueue,
 * and answer each with exactly one completion on the event queue.  The
 * same queue carries unsolicited reports.  Every completion and report
 * carries the per-node accounting that results.
 *
 * The device is not trusted: it may write any bytes, claim any length,
 * name nodes the guest cannot have and send commands of types we do not
 * know.  All of that is answered with an INVALID completion that names
 * the field, logged (rate-limited) and otherwise ignored.
 *
 * Specified in Documentation/driver-api/virtio/virtio_numa.rst.
 */
#include <linux/module.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/workqueue.h>
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/nodemask.h>
#include <linux/topology.h>
#include <linux/scatterlist.h>
#include <linux/wait.h>
#include <linux/debugfs.h>
#include <linux/hex.h>
#include <linux/acpi.h>
#include <linux/cpu.h>
#include <linux/kthread.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/numa_memblks.h>
#include <linux/sched/signal.h>
#include <linux/suspend.h>
#include <linux/crash_dump.h>
#include <linux/dnuma.h>
#include <linux/memlayout.h>
#include <acpi/acpi_numa.h>

#include "virtio_numa_proto.h"

/* Command buffers kept posted; one is enough for ordering, more hide latency. */
#define VNUMA_CMD_BUFS		4
/* Records per node in every completion and report, and the guest's own. */
#define VNUMA_NODE_RECORDS	11
#define VNUMA_GUEST_RECORDS	2
/* /proc/iomem name of memory we add; the format add_memory_driver_managed() wants. */
#define VNUMA_RESOURCE_NAME	"System RAM (virtio_numa)"

/*
 * What NODE_ADD gave one guest node: a range of the device region, added
 * in memory blocks, some of which a partial NODE_REMOVE may have removed.
 */
struct vnuma_added {
	u64 addr;
	u64 size;		/* 0: nothing added to this node */
	unsigned long *present;	/* memory blocks of the range still added */
	int mgid;		/* its memory group */
	/* The resource keeps the name; it may outlive the module. */
	const char *res_name;
};

struct virtio_numa {
	struct virtio_device *vdev;
	struct virtqueue *cmd_vq;
	struct virtqueue *event_vq;

	/* From config space at probe, checked there; never re-read. */
	struct vnuma_limits lim;

	/*
	 * Ordered: commands and periodic reports run one at a time, in the
	 * order they came.  Everything below that is not under @lock is only
	 * touched from work on @wq (or in probe/remove when no work runs).
	 */
	struct workqueue_struct *wq;
	struct work_struct cmd_work;
	struct delayed_work report_work;
	u32 report_interval_ms;
	u64 seq;
	struct vnuma_cmd cmd;		/* the command being applied */
	void *cmd_bufs[VNUMA_CMD_BUFS];
	/* RELAYOUT's ranges in guest terms; too big for the stack. */
	struct memlayout_range ranges[VIRTIO_NUMA_MAX_RANGES];
	/* Told how far RELAYOUT's migration came; stops it when cancelled. */
	struct dnuma_progress relayout_progress;
	/* Reports the end of a transplant (pending pages reach zero). */
	struct notifier_block dnuma_nb;
	/* Per guest node, what NODE_ADD added (nr_node_ids entries). */
	struct vnuma_added *added;
	/* Per CPU, the node it had before CPU_ASSIGN first moved it. */
	int *home_node;

	/*
	 * @lock protects @removing and the event queue, which the event
	 * callback (interrupt context) reclaims buffers from.
	 */
	spinlock_t lock;
	bool removing;
	wait_queue_head_t event_wait;
	/*
	 * An event buffer for when memory is short, so that no completion is
	 * ever dropped: @reserve is the buffer, @reserve_free says whether it
	 * is ours to use (not queued).  Under @lock.
	 */
	void *reserve;
	bool reserve_free;
	/* The thread offlining a removed node's memory, if any.  @lock. */
	struct task_struct *remover;
	/*
	 * With VIRTIO_NUMA_F_PROGRESS: the command the device asked to stop
	 * (config space cancel_id), as @cancel_work last read it.  Written
	 * under @lock; the command work reads it at each step of a long
	 * command with READ_ONCE().
	 */
	u64 cancel_id;
	struct work_struct cancel_work;
	/* Refuses hibernation while nodes are added. */
	struct notifier_block pm_nb;

	struct dentry *debugfs;
};

/*
 * Host node ids of nodes that have no proximity domain (spare nodes made
 * possible by numa_spare_nodes=), per guest node; U32_MAX: none.  Kept by
 * the module, not by a device: a spare node keeps its memory, and so its
 * host node, when the driver is unbound and bound again.  Claimed under
 * vnuma_spare_lock; a claim is never taken back.
 */
static u32 *vnuma_spare_host;
static DEFINE_MUTEX(vnuma_spare_lock);

/*
 * Nodes whose driver instance went away (its device unbound) with their
 * memory still in the guest, online and maybe in use: per guest node,
 * what NODE_ADD had added.  The device keeps the memory mapped and, once
 * a driver is ready again, sends NODE_ADD with PRESENT for it; that
 * driver takes the node over from here (vnuma_take_over()) and can then
 * remove it.  Under vnuma_spare_lock.
 *
 * The module holds a reference on itself for each node added, by a
 * driver instance or left here: only its code can give the memory back
 * (and its resource name is the module's), so it is not unloaded while
 * any is in the guest.
 */
static struct vnuma_added *vnuma_left;

/*
 * Tests of the device's validation need a hostile driver: with this set,
 * debugfs virtio_numa/<device>/inject_event sends raw events (hex).
 */
static bool allow_inject;
module_param(allow_inject, bool, 0444);
MODULE_PARM_DESC(allow_inject, "Allow raw events through debugfs (testing only)");

/*
 * How NODE_ADD onlines memory.  Movable by default, so that NODE_REMOVE
 * can take it back: kernel allocations there would pin it.  Checked when
 * written, read once per NODE_ADD.
 */
enum {
	VNUMA_ONLINE_MOVABLE,
	VNUMA_ONLINE_KERNEL,
	VNUMA_ONLINE_AUTO,
	VNUMA_ONLINE_OFFLINE,
};

static const char * const vnuma_online_policies[] = {
	[VNUMA_ONLINE_MOVABLE] = "movable",
	[VNUMA_ONLINE_KERNEL] = "kernel",
	[VNUMA_ONLINE_AUTO] = "auto",
	[VNUMA_ONLINE_OFFLINE] = "offline",
};

static int online_policy = VNUMA_ONLINE_MOVABLE;

static int vnuma_online_policy_set(const char *val,
				   const struct kernel_param *kp)
{
	int policy = sysfs_match_string(vnuma_online_policies, val);

	if (policy < 0)
		return -EINVAL;
	WRITE_ONCE(*(int *)kp->arg, policy);
	return 0;
}

static int vnuma_online_policy_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%s\n",
			  vnuma_online_policies[READ_ONCE(*(int *)kp->arg)]);
}

static const struct kernel_param_ops vnuma_online_policy_ops = {
	.set = vnuma_online_policy_set,
	.get = vnuma_online_policy_get,
};
module_param_cb(online_policy, &vnuma_online_policy_ops, &online_policy,
		0644);
MODULE_PARM_DESC(online_policy,
		 "How added memory is onlined: movable (default), kernel, auto (memhp_default_state) or offline");

/*
 * A memory block whose pages cannot be migrated (pinned, or no free memory
 * elsewhere) would keep memory offlining busy forever; give up on it after
 * this long and report the node removal as partial.
 */
static unsigned int offline_timeout_ms = 10000;
module_param(offline_timeout_ms, uint, 0644);
MODULE_PARM_DESC(offline_timeout_ms,
		 "Give up offlining one memory block of a removed node after this many ms (default 10000)");

static int vnuma_online_type(void)
{
	switch (READ_ONCE(online_policy)) {
	case VNUMA_ONLINE_KERNEL:
		return MMOP_ONLINE_KERNEL;
	case VNUMA_ONLINE_AUTO:
		return mhp_get_default_online_type();
	case VNUMA_ONLINE_OFFLINE:
		return MMOP_OFFLINE;
	default:
		return MMOP_ONLINE_MOVABLE;
	}
}

/* Firmware numbered the nodes: host ids are proximity domains. */
static bool vnuma_acpi_numa(void)
{
	return IS_ENABLED(CONFIG_ACPI_NUMA) && !acpi_disabled;
}

/*
 * The host's id for a guest node: its ACPI proximity domain if it has one,
 * else the id NODE_ADD gave a spare node; without firmware NUMA
 * information, the guest's own id.  U32_MAX: none yet (a spare node).
 */
static u32 vnuma_host_node(struct virtio_numa *vn, int nid)
{
	int pxm = vnuma_acpi_numa() ? node_to_pxm(nid) : -1;

	if (pxm >= 0)
		return pxm;
	if (vnuma_spare_host[nid] != U32_MAX)
		return vnuma_spare_host[nid];
	return vnuma_acpi_numa() ? U32_MAX : nid;
}

/*
 * The guest's node for a host node id, or NUMA_NO_NODE.  The host names
 * nodes by proximity domain, and a domain the firmware did not describe
 * has no node here, whatever the device says.
 */
static int vnuma_guest_node(struct virtio_numa *vn, u32 host)
{
	int nid;

	for_each_node(nid)
		if (vnuma_spare_host[nid] == host)
			return nid;
	if (vnuma_acpi_numa())
		nid = host <= INT_MAX ? pxm_to_node(host) : NUMA_NO_NODE;
	else
		nid = host < nr_node_ids ? host : NUMA_NO_NODE;
	if (nid < 0 || nid >= nr_node_ids || !node_possible(nid))
		return NUMA_NO_NODE;
	return nid;
}

/*
 * A node for a host node the firmware did not describe: the lowest spare
 * node (possible, offline, no proximity domain, not given to another host
 * node).  Spare nodes exist when the kernel booted with numa_spare_nodes=.
 * The node is the host node's only once memory was added to it
 * (vnuma_cmd_node_add()): a refused NODE_ADD leaves it spare.
 */
static int vnuma_find_spare_node(void)
{
	int nid;

	for_each_node(nid) {
		if (node_online(nid) || vnuma_spare_host[nid] != U32_MAX)
			continue;
		if (vnuma_acpi_numa() && node_to_pxm(nid) >= 0)
			continue;
		return nid;
	}
	return NUMA_NO_NODE;
}

static unsigned int vnuma_nr_records(void)
{
	return num_possible_nodes() * VNUMA_NODE_RECORDS + VNUMA_GUEST_RECORDS;
}

/* A relayout tries to see these hold; so does the device (it checks). */
static bool vnuma_node_consistent(u64 present, u64 managed, u64 free,
				  u64 pending)
{
	return free <= managed && pending <= managed &&
	       managed <= present + pending;
}

/*
 * One node's counters, read the way node meminfo reads them
 * (si_meminfo_node(), the node's present pages), plus its pending pages.
 * Each is updated atomically, but a transplant running meanwhile moves
 * pages between two of our reads, and no order of reads keeps all of
 * vnuma_node_consistent() true.  It moves them a zone lock hold at a time,
 * so a second read agrees; should it not, the values are bounded by each
 * other rather than sent in a form the device must drop.
 */
static void vnuma_read_node(int nid, u64 *present, u64 *managed, u64 *free,
			    u64 *pending)
{
	struct sysinfo si;
	int tries = 4;

	do {
		*pending = dnuma_node_pending(nid);
		si_meminfo_node(&si, nid);
		*managed = si.totalram;
		*free = si.freeram;
		*present = READ_ONCE(NODE_DATA(nid)->node_present_pages);
	} while (!vnuma_node_consistent(*present, *managed, *free, *pending) &&
		 --tries);
	*managed = min(*managed, *present + *pending);
	*pending = min(*pending, *managed);
	*free = min(*free, *managed);
}

/*
 * Of the pending pages, those that cannot migrate, by kind.  Each is at
 * most @pending, which the device checks: the engine's counts lag behind
 * frees, and @pending was read (and bounded) before them.
 */
static void vnuma_add_unmovable(struct virtio_numa_event *ev, u32 node,
				int nid, u64 pending)
{
	static const u16 tags[DNUMA_NR_UNMOVABLE] = {
		[DNUMA_UNMOVABLE_SLAB] = VIRTIO_NUMA_R_PENDING_SLAB,
		[DNUMA_UNMOVABLE_PGTABLE] = VIRTIO_NUMA_R_PENDING_PGTABLE,
		[DNUMA_UNMOVABLE_OTHER] = VIRTIO_NUMA_R_PENDING_OTHER,
	};
	unsigned int k;

	for (k = 0; k < DNUMA_NR_UNMOVABLE; k++)
		vnuma_event_add(ev, tags[k], node,
				min_t(u64, pending, dnuma_node_unmovable(nid, k)));
}

/* Per-node accounting records, host node ids. */
static void vnuma_add_node_records(struct virtio_numa *vn,
				   struct virtio_numa_event *ev, int nid)
{
	u32 node = vnuma_host_node(vn, nid);
	u64 state = VIRTIO_NUMA_NODE_POSSIBLE;
	u64 present = 0, managed = 0, free = 0, pending = 0;

	if (node_online(nid))
		state |= VIRTIO_NUMA_NODE_ONLINE;
	if (node_state(nid, N_MEMORY))
		state |= VIRTIO_NUMA_NODE_HAS_MEMORY;
	if (node_state(nid, N_CPU))
		state |= VIRTIO_NUMA_NODE_HAS_CPU;
	if (vn->added[nid].size)
		state |= VIRTIO_NUMA_NODE_ADDED;
	if (NODE_DATA(nid))
		vnuma_read_node(nid, &present, &managed, &free, &pending);
	vnuma_event_add(ev, VIRTIO_NUMA_R_STATE, node, state);
	vnuma_event_add(ev, VIRTIO_NUMA_R_GUEST_NODE, node, nid);
	vnuma_event_add(ev, VIRTIO_NUMA_R_PRESENT_PAGES, node, present);
	vnuma_event_add(ev, VIRTIO_NUMA_R_MANAGED_PAGES, node, managed);
	vnuma_event_add(ev, VIRTIO_NUMA_R_FREE_PAGES, node, free);
	vnuma_event_add(ev, VIRTIO_NUMA_R_PENDING_PAGES, node, pending);
	vnuma_event_add(ev, VIRTIO_NUMA_R_TRANSPLANTED_PAGES, node,
			dnuma_node_transplanted(nid));
	vnuma_event_add(ev, VIRTIO_NUMA_R_CPUS, node,
			cpumask_weight(cpumask_of_node(nid)));
	vnuma_add_unmovable(ev, node, nid, pending);
}

/*
 * What the guest moves and adds memory in, so that the device can refuse
 * what would not be whole units before the guest sees it: a relayout
 * moves sections, memory is added in memory blocks (2 GiB on large x86
 * guests, where sections are 128 MiB).
 */
static void vnuma_add_guest_records(struct virtio_numa_event *ev)
{
	vnuma_event_add(ev, VIRTIO_NUMA_R_RELAYOUT_UNIT, 0,
			PFN_PHYS(PAGES_PER_SECTION));
	vnuma_event_add(ev, VIRTIO_NUMA_R_ADD_UNIT, 0,
			memory_block_size_bytes());
}

/* An event buffer is ours again: free it, or keep it if it is the reserve. */
static void vnuma_put_event(struct virtio_numa *vn, void *buf)
{
	lockdep_assert_held(&vn->lock);
	if (buf == vn->reserve)
		vn->reserve_free = true;
	else
		kfree(buf);
}

/* Give the device back the event buffers it has read.  Under @lock. */
static void vnuma_reclaim_events(struct virtio_numa *vn)
{
	unsigned int len;
	void *buf;

	lockdep_assert_held(&vn->lock);
	while ((buf = virtqueue_get_buf(vn->event_vq, &len)))
		vnuma_put_event(vn, buf);
}

static void vnuma_event_done(struct virtqueue *vq)
{
	struct virtio_numa *vn = vq->vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&vn->lock, flags);
	vnuma_reclaim_events(vn);
	spin_unlock_irqrestore(&vn->lock, flags);
	wake_up(&vn->event_wait);
}

/* The reserve event buffer, if it is free (or the device goes away). */
static bool vnuma_reserve_ready(struct virtio_numa *vn, void **buf)
{
	unsigned long flags;
	bool ready;

	spin_lock_irqsave(&vn->lock, flags);
	vnuma_reclaim_events(vn);
	ready = vn->removing || vn->reserve_free;
	if (vn->reserve_free) {
		vn->reserve_free = false;
		*buf = vn->reserve;
	}
	spin_unlock_irqrestore(&vn->lock, flags);
	return ready;
}

/*
 * A zeroed event buffer of @size bytes.  Without memory, the reserve,
 * once the device has given it back.  NULL only when the device goes.
 */
static struct virtio_numa_event *vnuma_alloc_event(struct virtio_numa *vn,
						   size_t size)
{
	void *buf = kzalloc(size, GFP_KERNEL | __GFP_NOWARN);

	if (buf)
		return buf;
	wait_event(vn->event_wait, vnuma_reserve_ready(vn, &buf));
	if (buf)
		memset(buf, 0, size);
	return buf;
}

/* Whether an event could be queued now (or never will be).  Takes @lock. */
static bool vnuma_event_room(struct virtio_numa *vn)
{
	unsigned long flags;
	bool room;

	spin_lock_irqsave(&vn->lock, flags);
	vnuma_reclaim_events(vn);
	room = vn->removing || vn->event_vq->num_free;
	spin_unlock_irqrestore(&vn->lock, flags);
	return room;
}

/*
 * Try to queue one event of @size bytes, once: -ENOSPC while the device
 * holds every buffer, -ENODEV when it is being removed.  The event is the
 * device's once queued; otherwise still ours.
 */
static int vnuma_try_queue_event(struct virtio_numa *vn,
				 struct virtio_numa_event *ev, size_t size)
{
	struct scatterlist sg;
	unsigned long flags;
	int err = -ENODEV;

	sg_init_one(&sg, ev, size);
	spin_lock_irqsave(&vn->lock, flags);
	if (!vn->removing) {
		vnuma_reclaim_events(vn);
		err = virtqueue_add_outbuf(vn->event_vq, &sg, 1, ev,
					   GFP_ATOMIC);
		if (!err)
			virtqueue_kick(vn->event_vq);
	}
	spin_unlock_irqrestore(&vn->lock, flags);
	return err;
}

/*
 * Queue one event.  A device that stops reading events only stalls its own
 * commands: we wait for room until it returns buffers or goes away.
 * Returns -ENODEV when the device is being removed; the event is dropped.
 */
static int vnuma_queue_event(struct virtio_numa *vn,
			     struct virtio_numa_event *ev, size_t size)
{
	unsigned long flags;
	int err;

	while ((err = vnuma_try_queue_event(vn, ev, size)) == -ENOSPC)
		wait_event(vn->event_wait, vnuma_event_room(vn));
	if (err) {
		spin_lock_irqsave(&vn->lock, flags);
		vnuma_put_event(vn, ev);
		spin_unlock_irqrestore(&vn->lock, flags);
	}
	return err;
}

/* Send a completion (@id != 0) or an unsolicited report, with accounting. */
static void vnuma_send_event(struct virtio_numa *vn, u16 type, u64 id,
			     struct vnuma_verdict v, u32 detail)
{
	size_t size = vnuma_event_size(vnuma_nr_records());
	struct virtio_numa_event *ev;
	int nid;

	ev = vnuma_alloc_event(vn, size);
	if (!ev)
		return;
	vnuma_event_init(ev, type, id, v, detail, ++vn->seq, nr_node_ids);
	/* A spare node the host has not named yet is not the host's to see. */
	for_each_node(nid)
		if (vnuma_host_node(vn, nid) != U32_MAX)
			vnuma_add_node_records(vn, ev, nid);
	vnuma_add_guest_records(ev);
	vnuma_queue_event(vn, ev, vnuma_event_size(le16_to_cpu(ev->nr_records)));
}

static void vnuma_complete(struct virtio_numa *vn, u16 status, u32 detail)
{
	struct vnuma_verdict v = { .status = status };

	vnuma_send_event(vn, VIRTIO_NUMA_EVENT_COMPLETION, vn->cmd.id, v,
			 detail);
}

/*
 * Tell the device how far the command in flight has come, in pages.  Best
 * effort: without memory or room on the event queue it is skipped (the
 * completion never is), and it never waits.
 */
static void vnuma_progress(struct virtio_numa *vn, unsigned long done,
			   unsigned long total)
{
	struct vnuma_verdict v = { .status = VIRTIO_NUMA_S_OK };
	size_t size = vnuma_event_size(2);
	struct virtio_numa_event *ev;

	if (!vn->lim.progress)
		return;
	ev = kzalloc(size, GFP_KERNEL | __GFP_NOWARN);
	if (!ev)
		return;
	vnuma_event_init(ev, VIRTIO_NUMA_EVENT_PROGRESS, vn->cmd.id, v, 0,
			 ++vn->seq, nr_node_ids);
	vnuma_event_add(ev, VIRTIO_NUMA_R_PROGRESS_DONE, 0, done);
	vnuma_event_add(ev, VIRTIO_NUMA_R_PROGRESS_TOTAL, 0, total);
	if (vnuma_try_queue_event(vn, ev, size))
		kfree(ev);
}

/* Whether the device asked to stop the command in flight. */
static bool vnuma_cancelled(struct virtio_numa *vn)
{
	return vn->lim.progress && READ_ONCE(vn->cancel_id) == vn->cmd.id;
}

/*
 * The device changed cancel_id.  Config space may not be read in the
 * interrupt on every transport, hence work; the command work is busy with
 * the command to stop, hence not on @wq.  A removal waiting for pages to
 * migrate is interrupted as the timeout would.
 */
static void vnuma_cancel_work(struct work_struct *work)
{
	struct virtio_numa *vn = container_of(work, struct virtio_numa,
					      cancel_work);
	unsigned long flags;
	u64 id;

	virtio_cread_le(vn->vdev, struct virtio_numa_config, cancel_id, &id);
	spin_lock_irqsave(&vn->lock, flags);
	WRITE_ONCE(vn->cancel_id, id);
	/* The removal's command: @cmd does not change while it runs. */
	if (id && vn->remover && id == vn->cmd.id)
		send_sig(SIGINT, vn->remover, 1);
	spin_unlock_irqrestore(&vn->lock, flags);
}

static void virtio_numa_config_changed(struct virtio_device *vdev)
{
	struct virtio_numa *vn = vdev->priv;

	if (vn->lim.progress)
		schedule_work(&vn->cancel_work);
}

static void vnuma_schedule_report(struct virtio_numa *vn)
{
	if (vn->report_interval_ms)
		mod_delayed_work(vn->wq, &vn->report_work,
				 msecs_to_jiffies(vn->report_interval_ms));
	else
		cancel_delayed_work(&vn->report_work);
}

static void vnuma_report_work(struct work_struct *work)
{
	struct virtio_numa *vn = container_of(to_delayed_work(work),
					      struct virtio_numa, report_work);
	struct vnuma_verdict ok = {};

	vnuma_send_event(vn, VIRTIO_NUMA_EVENT_REPORT, 0, ok, 0);
	if (!READ_ONCE(vn->removing))
		vnuma_schedule_report(vn);
}

static void vnuma_cmd_report(struct virtio_numa *vn)
{
	vnuma_complete(vn, VIRTIO_NUMA_S_OK, 0);
}

static void vnuma_cmd_set_report_interval(struct virtio_numa *vn)
{
	vn->report_interval_ms = vn->cmd.interval_ms;
	vnuma_schedule_report(vn);
	vnuma_complete(vn, VIRTIO_NUMA_S_OK, 0);
}

static int vnuma_relayout_step(struct dnuma_progress *p, unsigned long done,
			       unsigned long total)
{
	struct virtio_numa *vn = container_of(p, struct virtio_numa,
					      relayout_progress);

	vnuma_progress(vn, done, total);
	return vnuma_cancelled(vn);
}

/*
 * RELAYOUT: the ranges (sorted, disjoint, block aligned: checked by the
 * parser) now belong to other nodes.  Whether the memory exists, is
 * online RAM and whether the nodes can have it is the engine's to check;
 * all ranges are checked before anything changes.  The completion
 * carries the accounting, pending pages included; the end of the
 * transplant is reported when it comes (vnuma_dnuma_event()).
 */
static void vnuma_cmd_relayout(struct virtio_numa *vn)
{
	struct vnuma_verdict v = { .status = VIRTIO_NUMA_S_INVALID };
	const struct vnuma_range *w = vn->cmd.relayout.r;
	unsigned int i, nr = vn->cmd.relayout.nr, flags = 0;
	struct dnuma_result res;
	int ret;

	for (i = 0; i < nr; i++) {
		vn->ranges[i].start_pfn = PHYS_PFN(w[i].addr);
		vn->ranges[i].nr_pages = PHYS_PFN(w[i].size);
		vn->ranges[i].nid = vnuma_guest_node(vn, w[i].node);
		if (vn->ranges[i].nid == NUMA_NO_NODE) {
			dev_warn_ratelimited(&vn->vdev->dev,
					     "relayout %llu: range %u: host node %u has no node here\n",
					     vn->cmd.id, i, w[i].node);
			v.field = VIRTIO_NUMA_FIELD_NODE;
			vnuma_send_event(vn, VIRTIO_NUMA_EVENT_COMPLETION,
					 vn->cmd.id, v, EINVAL);
			return;
		}
	}
	if (vn->cmd.flags & VIRTIO_NUMA_RELAYOUT_F_MIGRATE)
		flags |= DNUMA_F_MIGRATE;

	vn->relayout_progress.step = vnuma_relayout_step;
	ret = dnuma_relayout(vn->ranges, nr, flags, &vn->relayout_progress,
			     &res);
	switch (ret) {
	case 0:
		dev_info(&vn->vdev->dev,
			 "relayout %llu: %u ranges, %lu pages moved, %lu pending%s\n",
			 vn->cmd.id, nr, res.moved, res.pending,
			 res.stopped ? ", migration cancelled" : "");
		/* The layout changed; only the migration stopped early. */
		if (res.stopped)
			vnuma_complete(vn, VIRTIO_NUMA_S_PARTIAL, ECANCELED);
		else
			vnuma_complete(vn, VIRTIO_NUMA_S_OK, 0);
		return;
	case -EINVAL:
		dev_warn_ratelimited(&vn->vdev->dev,
				     "relayout %llu: range %u (0x%llx+0x%llx): %s\n",
				     vn->cmd.id, res.bad, w[res.bad].addr,
				     w[res.bad].size, res.why);
		v.field = res.bad_node ? VIRTIO_NUMA_FIELD_NODE
				       : VIRTIO_NUMA_FIELD_ADDR;
		vnuma_send_event(vn, VIRTIO_NUMA_EVENT_COMPLETION, vn->cmd.id,
				 v, EINVAL);
		return;
	case -EBUSY:
		vnuma_complete(vn, VIRTIO_NUMA_S_BUSY, EBUSY);
		return;
	default:
		dev_warn(&vn->vdev->dev, "relayout %llu failed: %d\n",
			 vn->cmd.id, ret);
		vnuma_complete(vn, VIRTIO_NUMA_S_FAILED, -ret);
	}
}

/* An INVALID completion naming @field, logged: the device sent nonsense. */
static void vnuma_refuse(struct virtio_numa *vn, u16 field, u32 detail,
			 const char *why)
{
	struct vnuma_verdict v = {
		.status = VIRTIO_NUMA_S_INVALID,
		.field = field,
	};

	dev_warn_ratelimited(&vn->vdev->dev, "%s %llu: %s\n",
			     vnuma_cmd_name(vn->cmd.type), vn->cmd.id, why);
	vnuma_send_event(vn, VIRTIO_NUMA_EVENT_COMPLETION, vn->cmd.id, v,
			 detail);
}

static unsigned long vnuma_nr_blocks(u64 size)
{
	return size / memory_block_size_bytes();
}

/*
 * NODE_ADD with PRESENT for guest node @nid: the device kept the memory
 * mapped while no driver was ready.  If this driver has it (a reset while
 * it was suspended) or an earlier one left it (vnuma_free_state()), it is
 * ours; otherwise the memory is not in the guest (a new kernel) and is
 * added as usual.  Returns whether the command is answered.
 */
static bool vnuma_take_over(struct virtio_numa *vn, int nid)
{
	u64 addr = vn->cmd.add.addr, size = vn->cmd.add.size;
	struct vnuma_added *a = &vn->added[nid], *l = &vnuma_left[nid];

	lockdep_assert_held(&vnuma_spare_lock);
	if (a->size && a->addr == addr && a->size == size) {
		vnuma_complete(vn, VIRTIO_NUMA_S_OK, 0);
		return true;
	}
	if (a->size || !l->size || l->addr != addr || l->size != size)
		return false;
	*a = *l;
	memset(l, 0, sizeof(*l));
	dev_info(&vn->vdev->dev,
		 "node add %llu: took over node %d, %llu MiB at 0x%llx\n",
		 vn->cmd.id, nid, size >> 20, addr);
	vnuma_complete(vn, VIRTIO_NUMA_S_OK, 0);
	return true;
}

/*
 * NODE_ADD: the device mapped memory at [addr, addr + size) of its region
 * (checked by the parser) for host node @node.  The node must be one the
 * guest can have and must have no memory yet: a node with boot memory is
 * not the device's to add to.  The memory is added as one static memory
 * group and onlined as online_policy says.
 */
static void __vnuma_cmd_node_add(struct virtio_numa *vn)
{
	u64 addr = vn->cmd.add.addr, size = vn->cmd.add.size;
	struct vnuma_added *a;
	int nid, mgid, type, ret;
	bool spare = false;

	lockdep_assert_held(&vnuma_spare_lock);
	nid = vnuma_guest_node(vn, vn->cmd.add.node);
	if (nid == NUMA_NO_NODE) {
		nid = vnuma_find_spare_node();
		spare = true;
	}
	if (nid == NUMA_NO_NODE) {
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_NODE, EINVAL,
			     "host node has no possible node here (no spare node)");
		return;
	}
	if ((vn->cmd.flags & VIRTIO_NUMA_NODE_ADD_F_PRESENT) &&
	    vnuma_take_over(vn, nid))
		return;
	a = &vn->added[nid];
	if (a->size || node_state(nid, N_MEMORY)) {
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_NODE, EEXIST,
			     "node already has memory");
		return;
	}
	/* Memory is added and removed in whole memory blocks. */
	if (!IS_ALIGNED(addr, memory_block_size_bytes())) {
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_ADDR, EINVAL,
			     "address not aligned to the memory block size");
		return;
	}
	if (!IS_ALIGNED(size, memory_block_size_bytes())) {
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_SIZE, EINVAL,
			     "size not a multiple of the memory block size");
		return;
	}
	type = vnuma_online_type();

	a->present = bitmap_zalloc(vnuma_nr_blocks(size), GFP_KERNEL);
	a->res_name = kstrdup_const(VNUMA_RESOURCE_NAME, GFP_KERNEL);
	if (!a->present || !a->res_name) {
		ret = -ENOMEM;
		goto err;
	}
	mgid = memory_group_register_static(nid, PHYS_PFN(size));
	if (mgid < 0) {
		ret = mgid;
		goto err;
	}
	ret = __add_memory_driver_managed(mgid, addr, size, a->res_name,
					  MHP_NID_IS_MGID, type);
	if (ret) {
		memory_group_unregister(mgid);
		goto err;
	}
	bitmap_fill(a->present, vnuma_nr_blocks(size));
	/* Dropped when the node's memory is removed (vnuma_cmd_node_remove). */
	__module_get(THIS_MODULE);
	if (spare)
		vnuma_spare_host[nid] = vn->cmd.add.node;
	a->addr = addr;
	a->size = size;
	a->mgid = mgid;
	dev_info(&vn->vdev->dev, "node add %llu: node %d, %llu MiB at 0x%llx\n",
		 vn->cmd.id, nid, size >> 20, addr);
	vnuma_complete(vn, VIRTIO_NUMA_S_OK, 0);
	return;

err:
	bitmap_free(a->present);
	a->present = NULL;
	kfree_const(a->res_name);
	a->res_name = NULL;
	dev_warn(&vn->vdev->dev, "node add %llu: node %d, 0x%llx+0x%llx: %d\n",
		 vn->cmd.id, nid, addr, size, ret);
	/* -EEXIST: the range is already memory; the device made it up. */
	if (ret == -EEXIST) {
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_ADDR, EEXIST,
			     "range overlaps memory the guest has");
		return;
	}
	vnuma_complete(vn, VIRTIO_NUMA_S_FAILED, -ret);
}

/* Devices claim spare nodes one at a time. */
static void vnuma_cmd_node_add(struct virtio_numa *vn)
{
	mutex_lock(&vnuma_spare_lock);
	__vnuma_cmd_node_add(vn);
	mutex_unlock(&vnuma_spare_lock);
}

/*
 * Memory offlining retries pages it cannot migrate until a signal comes.
 * It runs in this thread so that a timer can send one.
 */
struct vnuma_remover {
	struct virtio_numa *vn;
	struct vnuma_added *a;
	struct task_struct *task;
	struct timer_list timer;
	struct completion done;
	unsigned long removed;
	int err;
};

static void vnuma_remover_timeout(struct timer_list *t)
{
	struct vnuma_remover *r = from_timer(r, t, timer);

	send_sig(SIGINT, r->task, 1);
}

/* offline_and_remove_memory(), interrupted after @ms. */
static int vnuma_offline_and_remove(struct vnuma_remover *r, u64 addr,
				    u64 size, unsigned long ms)
{
	int ret;

	mod_timer(&r->timer, jiffies + msecs_to_jiffies(ms));
	ret = offline_and_remove_memory(addr, size);
	del_timer_sync(&r->timer);
	flush_signals(current);
	return ret;
}

/*
 * Removal goes a chunk of up to this much at a time, and tells the device
 * how far it came after each: one offline and one removal of a whole
 * range are much cheaper than one per memory block.
 */
#define VNUMA_REMOVE_CHUNK	SZ_1G

/* Whether the removal should stop before its next step, and why. */
static bool vnuma_remover_stop(struct vnuma_remover *r)
{
	/* The driver goes away: what is left stays for a rebind. */
	if (READ_ONCE(r->vn->removing))
		r->err = -ENODEV;
	else if (vnuma_cancelled(r->vn))
		r->err = -ECANCELED;
	else
		return false;
	return true;
}

/*
 * Remove the blocks [@first, @end) of what is still added, the highest
 * first, keeping going past blocks that stay.
 */
static void vnuma_remove_blocks(struct vnuma_remover *r, long first, long end)
{
	struct vnuma_added *a = r->a;
	u64 bs = memory_block_size_bytes();
	long i;
	int ret;

	for (i = end - 1; i >= first; i--) {
		if (!test_bit(i, a->present))
			continue;
		if (vnuma_remover_stop(r))
			return;
		ret = vnuma_offline_and_remove(r, a->addr + i * bs, bs,
					       offline_timeout_ms);
		if (ret) {
			if (vnuma_remover_stop(r))
				return;
			dev_info(&r->vn->vdev->dev,
				 "memory block 0x%llx stays: %s (%d)\n",
				 a->addr + i * bs,
				 ret == -EINTR ? "pages in use did not migrate in time"
					       : "cannot offline", ret);
			r->err = ret == -EINTR ? -EBUSY : ret;
			continue;
		}
		clear_bit(i, a->present);
		r->removed++;
	}
}

/*
 * Remove what is still added, a chunk at a time from the top: a whole
 * chunk at once when nothing of it was left by an earlier try; if that
 * fails, the chunk is online again (data migrated meanwhile stays where
 * it went) and goes block by block.  Stops early when the device cancels
 * the command or the driver goes away.
 */
static int vnuma_remover_fn(void *data)
{
	struct vnuma_remover *r = data;
	struct vnuma_added *a = r->a;
	unsigned long nr = vnuma_nr_blocks(a->size);
	u64 bs = memory_block_size_bytes();
	long chunk = max_t(long, VNUMA_REMOVE_CHUNK / bs, 1);
	unsigned long per_block = PHYS_PFN(bs), total;
	long first, end;

	allow_signal(SIGINT);
	total = bitmap_weight(a->present, nr) * per_block;
	vnuma_progress(r->vn, 0, total);
	for (end = nr; end > 0; end = first) {
		first = max_t(long, end - chunk, 0);
		if (vnuma_remover_stop(r))
			break;
		if (find_next_zero_bit(a->present, end, first) >= end &&
		    !vnuma_offline_and_remove(r, a->addr + first * bs,
					      (end - first) * bs,
					      offline_timeout_ms)) {
			bitmap_clear(a->present, first, end - first);
			r->removed += end - first;
		} else {
			vnuma_remove_blocks(r, first, end);
			if (r->err == -ENODEV || r->err == -ECANCELED)
				break;
		}
		vnuma_progress(r->vn, r->removed * per_block, total);
	}
	complete(&r->done);
	return 0;
}

/* Offline and remove what NODE_ADD added to @a; returns the blocks removed. */
static unsigned long vnuma_remove_memory(struct virtio_numa *vn,
					 struct vnuma_added *a, int *err)
{
	struct vnuma_remover r = { .vn = vn, .a = a };

	init_completion(&r.done);
	timer_setup_on_stack(&r.timer, vnuma_remover_timeout, 0);
	r.task = kthread_create(vnuma_remover_fn, &r, "vnuma-remove");
	if (IS_ERR(r.task)) {
		*err = PTR_ERR(r.task);
		destroy_timer_on_stack(&r.timer);
		return 0;
	}
	/* The thread frees itself when done; the timer needs it until then. */
	get_task_struct(r.task);
	spin_lock_irq(&vn->lock);
	vn->remover = r.task;
	spin_unlock_irq(&vn->lock);
	wake_up_process(r.task);
	wait_for_completion(&r.done);
	spin_lock_irq(&vn->lock);
	vn->remover = NULL;
	spin_unlock_irq(&vn->lock);
	kthread_stop(r.task);
	put_task_struct(r.task);
	destroy_timer_on_stack(&r.timer);
	*err = r.err;
	return r.removed;
}

/* Where a CPU of a node that goes away returns to. */
static int vnuma_cpu_home(struct virtio_numa *vn, unsigned int cpu, int gone)
{
	int nid = vn->home_node[cpu];

	if (nid != NUMA_NO_NODE && nid != gone && node_online(nid))
		return nid;
	for_each_node_state(nid, N_MEMORY)
		if (nid != gone)
			return nid;
	return NUMA_NO_NODE;
}

/* Move the CPUs of node @nid back where they came from. */
static int vnuma_move_cpus_home(struct virtio_numa *vn, int nid)
{
	unsigned int cpu;
	int home, ret;

	for_each_present_cpu(cpu) {
		if (cpu_to_node(cpu) != nid)
			continue;
		home = vnuma_cpu_home(vn, cpu, nid);
		if (home == NUMA_NO_NODE)
			return -EBUSY;
		ret = cpu_move_to_node(cpu, home);
		if (ret) {
			dev_warn(&vn->vdev->dev,
				 "node remove %llu: CPU %u stays in node %d: %d\n",
				 vn->cmd.id, cpu, nid, ret);
			return ret;
		}
		vn->home_node[cpu] = NUMA_NO_NODE;
	}
	return 0;
}

/*
 * NODE_REMOVE: give back what NODE_ADD added to a node.  Its memory is
 * offlined and removed first, its data migrating to other nodes; memory
 * in use that cannot move stays: the command completes PARTIAL (some
 * removed) or FAILED (none), the node keeps its CPUs, and a later
 * NODE_REMOVE tries again.  Once the memory is gone, the CPUs go home,
 * and with the last of them the node goes offline (cpu_move_to_node()).
 * The device may unmap the memory only after an OK completion.
 */
static void vnuma_cmd_node_remove(struct virtio_numa *vn)
{
	struct vnuma_added *a;
	unsigned long removed, left;
	int nid, err;

	nid = vnuma_guest_node(vn, vn->cmd.remove_node);
	if (nid == NUMA_NO_NODE || !vn->added[nid].size) {
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_NODE, ENOENT,
			     "node has no memory this device added");
		return;
	}
	a = &vn->added[nid];
	removed = vnuma_remove_memory(vn, a, &err);
	left = bitmap_weight(a->present, vnuma_nr_blocks(a->size));
	dev_info(&vn->vdev->dev,
		 "node remove %llu: node %d, %lu memory blocks removed, %lu left\n",
		 vn->cmd.id, nid, removed, left);
	if (left) {
		/* Cancelled (ECANCELED) or not, a later NODE_REMOVE goes on. */
		vnuma_complete(vn, removed ? VIRTIO_NUMA_S_PARTIAL
					   : VIRTIO_NUMA_S_FAILED,
			       err ? -err : EBUSY);
		return;
	}
	err = vnuma_move_cpus_home(vn, nid);
	if (err) {
		/* The memory is gone; the CPUs go home on the next try. */
		vnuma_complete(vn, VIRTIO_NUMA_S_FAILED, -err);
		return;
	}
	/* Fails only while memory is in the group: none is. */
	WARN_ON_ONCE(memory_group_unregister(a->mgid));
	bitmap_free(a->present);
	kfree_const(a->res_name);
	memset(a, 0, sizeof(*a));
	module_put(THIS_MODULE);
	vnuma_complete(vn, VIRTIO_NUMA_S_OK, 0);
}

/* The logical CPU of an ACPI processor UID, as the device names CPUs. */
static int vnuma_cpu_of_uid(u32 uid)
{
	unsigned int cpu;

	for_each_present_cpu(cpu) {
#ifdef CONFIG_X86
		if (cpu_acpi_id(cpu) == uid)
			return cpu;
#else
		if (cpu == uid)
			return cpu;
#endif
	}
	return -ENODEV;
}

/*
 * CPU_ASSIGN: a vCPU now runs on another host node.  The CPU goes offline,
 * changes node and comes back.  The node must be online (added first).
 */
static void vnuma_cmd_cpu_assign(struct virtio_numa *vn)
{
	int nid, cpu, from, ret;

	nid = vnuma_guest_node(vn, vn->cmd.cpu_assign.node);
	if (nid == NUMA_NO_NODE || !node_online(nid)) {
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_NODE, EINVAL,
			     "node is not online here");
		return;
	}
	cpu = vnuma_cpu_of_uid(vn->cmd.cpu_assign.cpu);
	if (cpu < 0) {
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_CPU, ENODEV,
			     "no present CPU has that ACPI id");
		return;
	}
	from = cpu_to_node(cpu);
	ret = cpu_move_to_node(cpu, nid);
	if (ret) {
		dev_warn(&vn->vdev->dev, "cpu assign %llu: CPU %d to node %d: %d\n",
			 vn->cmd.id, cpu, nid, ret);
		vnuma_complete(vn, VIRTIO_NUMA_S_FAILED, -ret);
		return;
	}
	if (vn->home_node[cpu] == NUMA_NO_NODE && from != nid)
		vn->home_node[cpu] = from;
	dev_info(&vn->vdev->dev, "cpu assign %llu: CPU %d from node %d to node %d\n",
		 vn->cmd.id, cpu, from, nid);
	vnuma_complete(vn, VIRTIO_NUMA_S_OK, 0);
}

/*
 * DISTANCE_SET: the distance from one node to another changed (a node was
 * added, or the host moved memory).  Both nodes must be ones the guest has
 * and its firmware table must cover them.
 */
static void vnuma_cmd_distance_set(struct virtio_numa *vn)
{
	int from = vnuma_guest_node(vn, vn->cmd.distance.from);
	int to = vnuma_guest_node(vn, vn->cmd.distance.to);
	int ret;

	if (from == NUMA_NO_NODE || to == NUMA_NO_NODE) {
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_NODE, EINVAL,
			     "host node has no node here");
		return;
	}
	ret = numa_update_distance(from, to, vn->cmd.distance.distance);
	switch (ret) {
	case 0:
		dev_info(&vn->vdev->dev, "distance %llu: node %d to %d is %u\n",
			 vn->cmd.id, from, to, vn->cmd.distance.distance);
		vnuma_complete(vn, VIRTIO_NUMA_S_OK, 0);
		break;
	case -ERANGE:
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_NODE, ERANGE,
			     "node outside the boot distance table");
		break;
	case -EINVAL:
		vnuma_refuse(vn, VIRTIO_NUMA_FIELD_DISTANCE, EINVAL,
			     "local distance between two nodes, or remote to itself");
		break;
	default:
		dev_info_ratelimited(&vn->vdev->dev,
				     "distance %llu: no distance table (no SLIT at boot)\n",
				     vn->cmd.id);
		vnuma_complete(vn, VIRTIO_NUMA_S_UNSUPPORTED, -ret);
	}
}

/* A transplant ended: tell the device at once, from the ordered queue. */
static int vnuma_dnuma_event(struct notifier_block *nb, unsigned long action,
			     void *data)
{
	struct virtio_numa *vn = container_of(nb, struct virtio_numa,
					      dnuma_nb);

	if (action == DNUMA_TRANSPLANT_DONE && !READ_ONCE(vn->removing))
		mod_delayed_work(vn->wq, &vn->report_work, 0);
	return NOTIFY_OK;
}

static void vnuma_dnuma_register(struct virtio_numa *vn)
{
	vn->dnuma_nb.notifier_call = vnuma_dnuma_event;
	register_dnuma_notifier(&vn->dnuma_nb);
}

static void vnuma_dnuma_unregister(struct virtio_numa *vn)
{
	unregister_dnuma_notifier(&vn->dnuma_nb);
}

static void vnuma_handle_cmd(struct virtio_numa *vn, const void *buf,
			     unsigned int len)
{
	struct vnuma_cmd *cmd = &vn->cmd;
	struct vnuma_verdict v;

	v = vnuma_parse_cmd(buf, len, &vn->lim, cmd);
	if (v.status == VIRTIO_NUMA_S_INVALID) {
		dev_warn_ratelimited(&vn->vdev->dev,
				     "command %llu (%s, %u bytes): invalid %s\n",
				     cmd->id, vnuma_cmd_name(cmd->type), len,
				     vnuma_field_name(v.field));
		vnuma_send_event(vn, VIRTIO_NUMA_EVENT_COMPLETION, cmd->id, v,
				 EINVAL);
		return;
	}
	if (v.status == VIRTIO_NUMA_S_UNSUPPORTED) {
		dev_info_ratelimited(&vn->vdev->dev,
				     "command %llu (%s): not supported\n",
				     cmd->id, vnuma_cmd_name(cmd->type));
		vnuma_complete(vn, VIRTIO_NUMA_S_UNSUPPORTED, EOPNOTSUPP);
		return;
	}

	switch (cmd->type) {
	case VIRTIO_NUMA_CMD_REPORT:
		vnuma_cmd_report(vn);
		break;
	case VIRTIO_NUMA_CMD_SET_REPORT_INTERVAL:
		vnuma_cmd_set_report_interval(vn);
		break;
	case VIRTIO_NUMA_CMD_RELAYOUT:
		vnuma_cmd_relayout(vn);
		break;
	case VIRTIO_NUMA_CMD_NODE_ADD:
		vnuma_cmd_node_add(vn);
		break;
	case VIRTIO_NUMA_CMD_NODE_REMOVE:
		vnuma_cmd_node_remove(vn);
		break;
	case VIRTIO_NUMA_CMD_CPU_ASSIGN:
		vnuma_cmd_cpu_assign(vn);
		break;
	case VIRTIO_NUMA_CMD_DISTANCE_SET:
		vnuma_cmd_distance_set(vn);
		break;
	default:
		/* Parsed, but its feature is one we never negotiate. */
		vnuma_complete(vn, VIRTIO_NUMA_S_UNSUPPORTED, EOPNOTSUPP);
	}
}

static int vnuma_post_cmd_buf(struct virtio_numa *vn, void *buf)
{
	struct scatterlist sg;

	sg_init_one(&sg, buf, VIRTIO_NUMA_CMD_MAX_SIZE);
	return virtqueue_add_inbuf(vn->cmd_vq, &sg, 1, buf, GFP_KERNEL);
}

/* The command queue is only ever touched here and in probe. */
static void vnuma_cmd_work(struct work_struct *work)
{
	struct virtio_numa *vn = container_of(work, struct virtio_numa,
					      cmd_work);
	unsigned int len;
	void *buf;

	while (!READ_ONCE(vn->removing) &&
	       (buf = virtqueue_get_buf(vn->cmd_vq, &len))) {
		vnuma_handle_cmd(vn, buf, len);
		/* Cannot fail: the buffer's own descriptor just came back. */
		WARN_ON_ONCE(vnuma_post_cmd_buf(vn, buf));
		virtqueue_kick(vn->cmd_vq);
	}
}

static void vnuma_cmd_ready(struct virtqueue *vq)
{
	struct virtio_numa *vn = vq->vdev->priv;
	unsigned long flags;

	spin_lock_irqsave(&vn->lock, flags);
	if (!vn->removing)
		queue_work(vn->wq, &vn->cmd_work);
	spin_unlock_irqrestore(&vn->lock, flags);
}

static ssize_t vnuma_inject_write(struct file *file, const char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct virtio_numa *vn = file->private_data;
	char *buf, *hex;
	size_t size;
	void *ev;
	int err;

	if (count > 2 * vnuma_event_size(VIRTIO_NUMA_MAX_RECORDS) + 1)
		return -E2BIG;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	hex = strim(buf);
	size = strlen(hex) / 2;
	ev = kmalloc(size ?: 1, GFP_KERNEL);
	if (!ev)
		err = -ENOMEM;
	else if (!size || strlen(hex) % 2)
		err = -EINVAL;
	else
		err = hex2bin(ev, hex, size);
	kfree(buf);
	if (err) {
		kfree(ev);
		return err;
	}
	/* Takes @ev, also on error. */
	err = vnuma_queue_event(vn, ev, size);
	return err ?: count;
}

static const struct file_operations vnuma_inject_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = vnuma_inject_write,
	.llseek = noop_llseek,
};

static void vnuma_debugfs_init(struct virtio_numa *vn)
{
	struct dentry *root = debugfs_lookup("virtio_numa", NULL);

	if (!allow_inject)
		return;
	if (!root)
		root = debugfs_create_dir("virtio_numa", NULL);
	vn->debugfs = debugfs_create_dir(dev_name(&vn->vdev->dev), root);
	debugfs_create_file("inject_event", 0200, vn->debugfs, vn,
			    &vnuma_inject_fops);
	dput(root);
}

/* Config space is read once; a device with nonsense there is refused. */
static int vnuma_read_config(struct virtio_numa *vn)
{
	struct virtio_device *vdev = vn->vdev;
	struct vnuma_limits *lim = &vn->lim;

	virtio_cread_le(vdev, struct virtio_numa_config, block_size,
			&lim->block_size);
	virtio_cread_le(vdev, struct virtio_numa_config, region_addr,
			&lim->region_addr);
	virtio_cread_le(vdev, struct virtio_numa_config, region_size,
			&lim->region_size);
	virtio_cread_le(vdev, struct virtio_numa_config, max_nodes,
			&lim->max_nodes);
	virtio_cread_le(vdev, struct virtio_numa_config, max_ranges,
			&lim->max_ranges);

	if (!is_power_of_2(lim->block_size) || lim->block_size < PAGE_SIZE) {
		dev_err(&vdev->dev, "config: bad block_size %llu\n",
			lim->block_size);
		return -EINVAL;
	}
	if (!IS_ALIGNED(lim->region_addr, lim->block_size) ||
	    !IS_ALIGNED(lim->region_size, lim->block_size) ||
	    lim->region_addr + lim->region_size < lim->region_addr) {
		dev_err(&vdev->dev, "config: bad region 0x%llx+0x%llx\n",
			lim->region_addr, lim->region_size);
		return -EINVAL;
	}
	if (!lim->max_nodes) {
		dev_err(&vdev->dev, "config: max_nodes is 0\n");
		return -EINVAL;
	}
	if (!lim->max_ranges || lim->max_ranges > VIRTIO_NUMA_MAX_RANGES)
		lim->max_ranges = VIRTIO_NUMA_MAX_RANGES;
	/* virtio_has_feature() may only be asked about features in our table. */
	lim->relayout = IS_ENABLED(CONFIG_DYNAMIC_NUMA) &&
			virtio_has_feature(vdev, VIRTIO_NUMA_F_RELAYOUT);
	lim->node_hotplug = virtio_has_feature(vdev, VIRTIO_NUMA_F_NODE_HOTPLUG);
	lim->cpu_assign = IS_ENABLED(CONFIG_HOTPLUG_CPU) &&
			  virtio_has_feature(vdev, VIRTIO_NUMA_F_CPU_ASSIGN);
	lim->distance = IS_ENABLED(CONFIG_NUMA_MEMBLKS) &&
			virtio_has_feature(vdev, VIRTIO_NUMA_F_DISTANCE);
	lim->progress = virtio_has_feature(vdev, VIRTIO_NUMA_F_PROGRESS);
	return 0;
}

static int vnuma_init_vqs(struct virtio_numa *vn)
{
	struct virtqueue *vqs[VIRTIO_NUMA_NR_VQS];
	struct virtqueue_info info[VIRTIO_NUMA_NR_VQS] = {
		[VIRTIO_NUMA_VQ_CMD] = { "cmd", vnuma_cmd_ready },
		[VIRTIO_NUMA_VQ_EVENT] = { "event", vnuma_event_done },
	};
	int err;

	err = virtio_find_vqs(vn->vdev, VIRTIO_NUMA_NR_VQS, vqs, info, NULL);
	if (err)
		return err;
	vn->cmd_vq = vqs[VIRTIO_NUMA_VQ_CMD];
	vn->event_vq = vqs[VIRTIO_NUMA_VQ_EVENT];
	return 0;
}

static void vnuma_free_cmd_bufs(struct virtio_numa *vn)
{
	int i;

	for (i = 0; i < VNUMA_CMD_BUFS; i++) {
		kfree(vn->cmd_bufs[i]);
		vn->cmd_bufs[i] = NULL;
	}
}

static int vnuma_post_cmd_bufs(struct virtio_numa *vn)
{
	int i, err;

	for (i = 0; i < VNUMA_CMD_BUFS; i++) {
		vn->cmd_bufs[i] = kmalloc(VIRTIO_NUMA_CMD_MAX_SIZE, GFP_KERNEL);
		if (!vn->cmd_bufs[i])
			return -ENOMEM;
		err = vnuma_post_cmd_buf(vn, vn->cmd_bufs[i]);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Stop everything that could touch the device, and take its queues down:
 * for removal, suspend and hibernation, and probe's error path.  What the
 * driver knows of the nodes stays.
 */
static void vnuma_stop(struct virtio_numa *vn)
{
	struct virtio_device *vdev = vn->vdev;
	unsigned long flags;
	void *buf;

	spin_lock_irqsave(&vn->lock, flags);
	vn->removing = true;
	/* A NODE_REMOVE in progress stops at the next memory block. */
	if (vn->remover)
		send_sig(SIGINT, vn->remover, 1);
	spin_unlock_irqrestore(&vn->lock, flags);
	wake_up_all(&vn->event_wait);
	/* No new report from the end of a transplant after this. */
	vnuma_dnuma_unregister(vn);
	/*
	 * Commands first: SET_REPORT_INTERVAL re-arms the report work, which
	 * does not re-arm itself once @removing is set.  A timer still armed
	 * after this would outlive destroy_workqueue().
	 */
	cancel_work_sync(&vn->cmd_work);
	cancel_delayed_work_sync(&vn->report_work);

	/* No interrupts after the reset: the queues are ours alone. */
	virtio_reset_device(vdev);
	cancel_work_sync(&vn->cancel_work);
	spin_lock_irqsave(&vn->lock, flags);
	while ((buf = virtqueue_detach_unused_buf(vn->event_vq)))
		vnuma_put_event(vn, buf);
	spin_unlock_irqrestore(&vn->lock, flags);
	/* Command buffers are freed from cmd_bufs[], whoever holds them. */
	while (virtqueue_detach_unused_buf(vn->cmd_vq))
		;
	vdev->config->del_vqs(vdev);
	vnuma_free_cmd_bufs(vn);
}

/*
 * Bring the queues up, post the command buffers and tell the device we
 * are ready: at probe, and at resume, when the device was reset.  The
 * device learns our node ids and accounting at once.
 */
static int vnuma_start(struct virtio_numa *vn)
{
	int err;

	spin_lock_irq(&vn->lock);
	vn->removing = false;
	/* A device reset forgets what it asked to cancel. */
	vn->cancel_id = 0;
	spin_unlock_irq(&vn->lock);
	err = vnuma_init_vqs(vn);
	if (err)
		return err;
	/*
	 * Post the command buffers before DRIVER_OK: the device sends nothing
	 * before it, so we and the command work never touch cmdq at once.
	 */
	err = vnuma_post_cmd_bufs(vn);
	if (err) {
		vnuma_stop(vn);
		return err;
	}
	virtio_device_ready(vn->vdev);
	virtqueue_kick(vn->cmd_vq);
	vnuma_dnuma_register(vn);
	queue_delayed_work(vn->wq, &vn->report_work, 0);
	return 0;
}

static int vnuma_alloc_state(struct virtio_numa *vn)
{
	int i;

	vn->added = kcalloc(nr_node_ids, sizeof(*vn->added), GFP_KERNEL);
	vn->home_node = kmalloc_array(nr_cpu_ids, sizeof(*vn->home_node),
				      GFP_KERNEL);
	vn->reserve = kzalloc(vnuma_event_size(vnuma_nr_records()), GFP_KERNEL);
	vn->reserve_free = true;
	if (!vn->added || !vn->home_node || !vn->reserve)
		return -ENOMEM;
	for (i = 0; i < nr_cpu_ids; i++)
		vn->home_node[i] = NUMA_NO_NODE;
	return 0;
}

/*
 * Memory NODE_ADD added stays in the guest when the driver goes: it is the
 * guest's RAM now, and the device keeps it mapped.  It is left for the
 * driver bound next, which the device tells about it.
 */
static void vnuma_free_state(struct virtio_numa *vn)
{
	int nid;

	mutex_lock(&vnuma_spare_lock);
	for (nid = 0; vn->added && nid < nr_node_ids; nid++) {
		struct vnuma_added *a = &vn->added[nid];

		if (!a->size)
			continue;
		dev_info(&vn->vdev->dev,
			 "node %d keeps %llu MiB added at 0x%llx, for the next driver\n",
			 nid, a->size >> 20, a->addr);
		/* A node with memory was added by one driver instance only. */
		if (WARN_ON_ONCE(vnuma_left[nid].size))
			bitmap_free(a->present);
		else
			vnuma_left[nid] = *a;
	}
	mutex_unlock(&vnuma_spare_lock);
	kfree(vn->added);
	kfree(vn->home_node);
	kfree(vn->reserve);
}

#ifdef CONFIG_PM_SLEEP
/*
 * Hibernation powers the machine off: memory added at run time is not
 * there for the kernel that boots to restore the image, and the host
 * gives it no node then.  Refused, saying why, until the nodes are
 * removed.  The added[] state only changes on our workqueue; a NODE_ADD
 * racing with this may still win, and hibernation then fails to restore
 * its image as it would without us.
 */
static int vnuma_pm_notify(struct notifier_block *nb, unsigned long action,
			   void *data)
{
	struct virtio_numa *vn = container_of(nb, struct virtio_numa, pm_nb);
	int nid;

	if (action != PM_HIBERNATION_PREPARE)
		return NOTIFY_DONE;
	for (nid = 0; nid < nr_node_ids; nid++) {
		if (!READ_ONCE(vn->added[nid].size))
			continue;
		dev_err(&vn->vdev->dev,
			"hibernation refused: node %d has memory added at run time; remove it first\n",
			nid);
		return notifier_from_errno(-EBUSY);
	}
	return NOTIFY_OK;
}

/*
 * Suspend and hibernation reset the device: its queues go now and come
 * back at resume, with the nodes as the driver knew them.  A command being
 * applied completes first (a NODE_REMOVE stops at its next memory block,
 * PARTIAL); commands the device sends meanwhile wait for resume.
 */
static int virtio_numa_freeze(struct virtio_device *vdev)
{
	vnuma_stop(vdev->priv);
	return 0;
}

static int virtio_numa_restore(struct virtio_device *vdev)
{
	return vnuma_start(vdev->priv);
}
#endif

static int virtio_numa_probe(struct virtio_device *vdev)
{
	struct virtio_numa *vn;
	int err;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config access disabled\n");
		return -EINVAL;
	}
	/*
	 * A kdump kernel dumps the memory of the kernel that crashed, added
	 * nodes included: it changes no layout and answers no command.
	 */
	if (is_kdump_kernel()) {
		dev_info(&vdev->dev, "kdump kernel: leaving the device alone\n");
		return -EBUSY;
	}
	vn = kzalloc(sizeof(*vn), GFP_KERNEL);
	if (!vn)
		return -ENOMEM;
	vdev->priv = vn;
	vn->vdev = vdev;
	spin_lock_init(&vn->lock);
	init_waitqueue_head(&vn->event_wait);
	INIT_WORK(&vn->cmd_work, vnuma_cmd_work);
	INIT_WORK(&vn->cancel_work, vnuma_cancel_work);
	INIT_DELAYED_WORK(&vn->report_work, vnuma_report_work);

	err = vnuma_alloc_state(vn);
	if (err)
		goto out_free;
	err = vnuma_read_config(vn);
	if (err)
		goto out_free;
	vn->wq = alloc_ordered_workqueue("virtio_numa", 0);
	if (!vn->wq) {
		err = -ENOMEM;
		goto out_free;
	}
	err = vnuma_start(vn);
	if (err)
		goto out_wq;
	vnuma_debugfs_init(vn);
#ifdef CONFIG_PM_SLEEP
	vn->pm_nb.notifier_call = vnuma_pm_notify;
	register_pm_notifier(&vn->pm_nb);
#endif
	dev_info(&vdev->dev,
		 "%u host nodes, %u guest node ids, block size %llu KiB\n",
		 vn->lim.max_nodes, nr_node_ids, vn->lim.block_size >> 10);
	return 0;

out_wq:
	destroy_workqueue(vn->wq);
out_free:
	vnuma_free_state(vn);
	kfree(vn);
	vdev->priv = NULL;
	return err;
}

static void virtio_numa_remove(struct virtio_device *vdev)
{
	struct virtio_numa *vn = vdev->priv;

#ifdef CONFIG_PM_SLEEP
	unregister_pm_notifier(&vn->pm_nb);
#endif
	vnuma_stop(vn);
	/* After vnuma_stop(): a write waiting for room has given up. */
	debugfs_remove(vn->debugfs);
	destroy_workqueue(vn->wq);
	vnuma_free_state(vn);
	kfree(vn);
	vdev->priv = NULL;
}

static const struct virtio_device_id id_table[] = {
	{ VIRTIO_ID_NUMA, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static unsigned int features[] = {
	VIRTIO_NUMA_F_NODE_HOTPLUG,
#ifdef CONFIG_DYNAMIC_NUMA
	VIRTIO_NUMA_F_RELAYOUT,
#endif
#ifdef CONFIG_HOTPLUG_CPU
	VIRTIO_NUMA_F_CPU_ASSIGN,
#endif
#ifdef CONFIG_NUMA_MEMBLKS
	VIRTIO_NUMA_F_DISTANCE,
#endif
	VIRTIO_NUMA_F_PROGRESS,
};

static struct virtio_driver virtio_numa_driver = {
	.driver.name = KBUILD_MODNAME,
	.feature_table = features,
	.feature_table_size = ARRAY_SIZE(features),
	.id_table = id_table,
	.probe = virtio_numa_probe,
	.remove = virtio_numa_remove,
	.config_changed = virtio_numa_config_changed,
#ifdef CONFIG_PM_SLEEP
	.freeze = virtio_numa_freeze,
	.restore = virtio_numa_restore,
#endif
};

static int __init virtio_numa_init(void)
{
	int nid, ret;

	vnuma_spare_host = kmalloc_array(nr_node_ids, sizeof(*vnuma_spare_host),
					 GFP_KERNEL);
	vnuma_left = kcalloc(nr_node_ids, sizeof(*vnuma_left), GFP_KERNEL);
	if (!vnuma_spare_host || !vnuma_left) {
		ret = -ENOMEM;
		goto err;
	}
	for (nid = 0; nid < nr_node_ids; nid++)
		vnuma_spare_host[nid] = U32_MAX;
	ret = register_virtio_driver(&virtio_numa_driver);
	if (!ret)
		return 0;
err:
	kfree(vnuma_left);
	kfree(vnuma_spare_host);
	return ret;
}
module_init(virtio_numa_init);

static void __exit virtio_numa_exit(void)
{
	unregister_virtio_driver(&virtio_numa_driver);
	/* Empty: each node left holds a reference on the module. */
	kfree(vnuma_left);
	kfree(vnuma_spare_host);
}
module_exit(virtio_numa_exit);
MODULE_DEVICE_TABLE(virtio, id_table);
MODULE_DESCRIPTION("Virtio NUMA driver");
MODULE_LICENSE("GPL");
