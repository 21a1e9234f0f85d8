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
 * Specified in Documentation/virtio-numa.rst.
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
#include <linux/dnuma.h>
#include <linux/memlayout.h>
#include <acpi/acpi_numa.h>

#include "virtio_numa_proto.h"

/* Command buffers kept posted; one is enough for ordering, more hide latency. */
#define VNUMA_CMD_BUFS		4
/* Records per node in every completion and report. */
#define VNUMA_NODE_RECORDS	8

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
	/* Reports the end of a transplant (pending pages reach zero). */
	struct notifier_block dnuma_nb;

	/*
	 * @lock protects @removing and the event queue, which the event
	 * callback (interrupt context) reclaims buffers from.
	 */
	spinlock_t lock;
	bool removing;
	wait_queue_head_t event_wait;

	struct dentry *debugfs;
};

/*
 * Tests of the device's validation need a hostile driver: with this set,
 * debugfs virtio_numa/<device>/inject_event sends raw events (hex).
 */
static bool allow_inject;
module_param(allow_inject, bool, 0444);
MODULE_PARM_DESC(allow_inject, "Allow raw events through debugfs (testing only)");

/* The host's id for a guest node: its ACPI proximity domain if it has one. */
static u32 vnuma_host_node(int nid)
{
	int pxm = IS_ENABLED(CONFIG_ACPI_NUMA) ? node_to_pxm(nid) : -1;

	return pxm >= 0 ? pxm : nid;
}

/*
 * The guest's node for a host node id, or NUMA_NO_NODE.  The host names
 * nodes by proximity domain, and a domain the firmware did not describe
 * has no node here, whatever the device says.
 */
static int vnuma_guest_node(u32 host)
{
	int nid;

	if (IS_ENABLED(CONFIG_ACPI_NUMA) && !acpi_disabled)
		nid = host <= INT_MAX ? pxm_to_node(host) : NUMA_NO_NODE;
	else
		nid = host < nr_node_ids ? host : NUMA_NO_NODE;
	if (nid < 0 || nid >= nr_node_ids || !node_possible(nid))
		return NUMA_NO_NODE;
	return nid;
}

static unsigned int vnuma_nr_records(void)
{
	return num_possible_nodes() * VNUMA_NODE_RECORDS;
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

/* Per-node accounting records, host node ids. */
static void vnuma_add_node_records(struct virtio_numa_event *ev, int nid)
{
	u32 node = vnuma_host_node(nid);
	u64 state = VIRTIO_NUMA_NODE_POSSIBLE;
	u64 present = 0, managed = 0, free = 0, pending = 0;

	if (node_online(nid))
		state |= VIRTIO_NUMA_NODE_ONLINE;
	if (node_state(nid, N_MEMORY))
		state |= VIRTIO_NUMA_NODE_HAS_MEMORY;
	if (node_state(nid, N_CPU))
		state |= VIRTIO_NUMA_NODE_HAS_CPU;
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
}

/* Give the device back the event buffers it has read.  Under @lock. */
static void vnuma_reclaim_events(struct virtio_numa *vn)
{
	unsigned int len;
	void *buf;

	lockdep_assert_held(&vn->lock);
	while ((buf = virtqueue_get_buf(vn->event_vq, &len)))
		kfree(buf);
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
 * Queue one event.  A device that stops reading events only stalls its own
 * commands: we wait for room until it returns buffers or goes away.
 * Returns -ENODEV when the device is being removed; the event is dropped.
 */
static int vnuma_queue_event(struct virtio_numa *vn,
			     struct virtio_numa_event *ev, size_t size)
{
	struct scatterlist sg;
	unsigned long flags;
	int err;

	sg_init_one(&sg, ev, size);
	for (;;) {
		spin_lock_irqsave(&vn->lock, flags);
		if (vn->removing) {
			err = -ENODEV;
		} else {
			vnuma_reclaim_events(vn);
			err = virtqueue_add_outbuf(vn->event_vq, &sg, 1, ev,
						   GFP_ATOMIC);
			if (!err)
				virtqueue_kick(vn->event_vq);
		}
		spin_unlock_irqrestore(&vn->lock, flags);
		if (err != -ENOSPC)
			break;
		wait_event(vn->event_wait, vnuma_event_room(vn));
	}
	if (err)
		kfree(ev);
	return err;
}

/* Send a completion (@id != 0) or an unsolicited report, with accounting. */
static void vnuma_send_event(struct virtio_numa *vn, u16 type, u64 id,
			     struct vnuma_verdict v, u32 detail)
{
	size_t size = vnuma_event_size(vnuma_nr_records());
	struct virtio_numa_event *ev;
	int nid;

	ev = kzalloc(size, GFP_KERNEL);
	if (!ev)
		return;
	vnuma_event_init(ev, type, id, v, detail, ++vn->seq, nr_node_ids);
	for_each_node(nid)
		vnuma_add_node_records(ev, nid);
	vnuma_queue_event(vn, ev, vnuma_event_size(le16_to_cpu(ev->nr_records)));
}

static void vnuma_complete(struct virtio_numa *vn, u16 status, u32 detail)
{
	struct vnuma_verdict v = { .status = status };

	vnuma_send_event(vn, VIRTIO_NUMA_EVENT_COMPLETION, vn->cmd.id, v,
			 detail);
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
		vn->ranges[i].nid = vnuma_guest_node(w[i].node);
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

	ret = dnuma_relayout(vn->ranges, nr, flags, &res);
	switch (ret) {
	case 0:
		dev_info(&vn->vdev->dev,
			 "relayout %llu: %u ranges, %lu pages moved, %lu pending\n",
			 vn->cmd.id, nr, res.moved, res.pending);
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
	/*
	 * virtio_has_feature() may only be asked about features in the
	 * driver's table: node_hotplug, cpu_assign and distance stay false.
	 */
	lim->relayout = IS_ENABLED(CONFIG_DYNAMIC_NUMA) &&
			virtio_has_feature(vdev, VIRTIO_NUMA_F_RELAYOUT);
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

/* Stop everything that could touch the device.  Probe error path too. */
static void vnuma_shutdown(struct virtio_numa *vn)
{
	struct virtio_device *vdev = vn->vdev;
	unsigned long flags;
	void *buf;

	spin_lock_irqsave(&vn->lock, flags);
	vn->removing = true;
	spin_unlock_irqrestore(&vn->lock, flags);
	wake_up_all(&vn->event_wait);
	/* No new report from the end of a transplant after this. */
	vnuma_dnuma_unregister(vn);
	/* After @removing: a write waiting for room has given up. */
	debugfs_remove(vn->debugfs);
	/*
	 * Commands first: SET_REPORT_INTERVAL re-arms the report work, which
	 * does not re-arm itself once @removing is set.  A timer still armed
	 * after this would outlive destroy_workqueue().
	 */
	cancel_work_sync(&vn->cmd_work);
	cancel_delayed_work_sync(&vn->report_work);

	/* No interrupts after the reset: the queues are ours alone. */
	virtio_reset_device(vdev);
	while ((buf = virtqueue_detach_unused_buf(vn->event_vq)))
		kfree(buf);
	/* Command buffers are freed from cmd_bufs[], whoever holds them. */
	while (virtqueue_detach_unused_buf(vn->cmd_vq))
		;
	vdev->config->del_vqs(vdev);
	vnuma_free_cmd_bufs(vn);
}

static int virtio_numa_probe(struct virtio_device *vdev)
{
	struct virtio_numa *vn;
	int err;

	if (!vdev->config->get) {
		dev_err(&vdev->dev, "config access disabled\n");
		return -EINVAL;
	}
	vn = kzalloc(sizeof(*vn), GFP_KERNEL);
	if (!vn)
		return -ENOMEM;
	vdev->priv = vn;
	vn->vdev = vdev;
	spin_lock_init(&vn->lock);
	init_waitqueue_head(&vn->event_wait);
	INIT_WORK(&vn->cmd_work, vnuma_cmd_work);
	INIT_DELAYED_WORK(&vn->report_work, vnuma_report_work);

	err = vnuma_read_config(vn);
	if (err)
		goto out_free;
	vn->wq = alloc_ordered_workqueue("virtio_numa", 0);
	if (!vn->wq) {
		err = -ENOMEM;
		goto out_free;
	}
	err = vnuma_init_vqs(vn);
	if (err)
		goto out_wq;

	/*
	 * Post the command buffers before DRIVER_OK: the device sends nothing
	 * before it, so probe and the command work never touch cmdq at once.
	 */
	err = vnuma_post_cmd_bufs(vn);
	if (err) {
		vnuma_shutdown(vn);
		goto out_wq;
	}
	virtio_device_ready(vdev);
	virtqueue_kick(vn->cmd_vq);

	vnuma_debugfs_init(vn);
	vnuma_dnuma_register(vn);
	/* The device learns our node ids and accounting at once. */
	queue_delayed_work(vn->wq, &vn->report_work, 0);
	dev_info(&vdev->dev,
		 "%u host nodes, %u guest node ids, block size %llu KiB\n",
		 vn->lim.max_nodes, nr_node_ids, vn->lim.block_size >> 10);
	return 0;

out_wq:
	destroy_workqueue(vn->wq);
out_free:
	kfree(vn);
	vdev->priv = NULL;
	return err;
}

static void virtio_numa_remove(struct virtio_device *vdev)
{
	struct virtio_numa *vn = vdev->priv;

	vnuma_shutdown(vn);
	destroy_workqueue(vn->wq);
	kfree(vn);
	vdev->priv = NULL;
}

static const struct virtio_device_id id_table[] = {
	{ VIRTIO_ID_NUMA, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

/* NODE_HOTPLUG is negotiated once it is implemented. */
static unsigned int features[] = {
#ifdef CONFIG_DYNAMIC_NUMA
	VIRTIO_NUMA_F_RELAYOUT,
#endif
};

static struct virtio_driver virtio_numa_driver = {
	.driver.name = KBUILD_MODNAME,
	.feature_table = features,
	.feature_table_size = ARRAY_SIZE(features),
	.id_table = id_table,
	.probe = virtio_numa_probe,
	.remove = virtio_numa_remove,
};

module_virtio_driver(virtio_numa_driver);
MODULE_DEVICE_TABLE(virtio, id_table);
MODULE_DESCRIPTION("Virtio NUMA driver");
MODULE_LICENSE("GPL");
