/*
 * Virtio NUMA device
 *
 * Lets management change the NUMA layout of a running guest and read back
 * the guest's per-node accounting.  Host commands come in over QMP, are
 * queued, and are sent to the guest one at a time on the command queue;
 * the guest answers each with one completion on the event queue, which
 * also carries unsolicited reports.  Specified in the virtio-numa
 * repository's Documentation/driver-api/virtio/virtio_numa.rst.
 *
 * The guest is not trusted: an event that fails validation is dropped
 * and counted, never shown to management.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/base64.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/iov.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/rcu.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-virtio-numa.h"
#include "qapi/qapi-events-virtio-numa.h"
#include "qapi/util.h"
#include "exec/address-spaces.h"
#include "exec/memory.h"
#include "hw/boards.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio-numa.h"
#include "hw/core/cpu.h"
#include "migration/misc.h"
#include "migration/vmstate.h"
#include "system/hostmem.h"
#include "system/reset.h"
#include "system/runstate.h"
#include "trace.h"

static const VMStateDescription vmstate_virtio_numa_early;

#define VIRTIO_NUMA_DEFAULT_BLOCK_SIZE (128 * MiB)
#define VIRTIO_NUMA_QUEUE_SIZE 16

static const char *virtio_numa_id(VirtIONuma *vn)
{
    Object *parent = OBJECT(vn)->parent;

    if (parent && object_dynamic_cast(parent, TYPE_DEVICE) &&
        DEVICE(parent)->id) {
        return DEVICE(parent)->id;
    }
    return DEVICE(vn)->id ? DEVICE(vn)->id : "";
}

static uint16_t virtio_numa_max_nodes(void)
{
    MachineState *ms = MACHINE(qdev_get_machine());

    return ms->numa_state ? ms->numa_state->num_nodes : 0;
}

static VirtioNumaCommandType virtio_numa_qapi_type(uint16_t type)
{
    switch (type) {
    case VIRTIO_NUMA_CMD_REPORT:
        return VIRTIO_NUMA_COMMAND_TYPE_REPORT;
    case VIRTIO_NUMA_CMD_SET_REPORT_INTERVAL:
        return VIRTIO_NUMA_COMMAND_TYPE_SET_REPORT_INTERVAL;
    case VIRTIO_NUMA_CMD_NODE_ADD:
        return VIRTIO_NUMA_COMMAND_TYPE_NODE_ADD;
    case VIRTIO_NUMA_CMD_NODE_REMOVE:
        return VIRTIO_NUMA_COMMAND_TYPE_NODE_REMOVE;
    case VIRTIO_NUMA_CMD_RELAYOUT:
        return VIRTIO_NUMA_COMMAND_TYPE_RELAYOUT;
    case VIRTIO_NUMA_CMD_CPU_ASSIGN:
        return VIRTIO_NUMA_COMMAND_TYPE_CPU_ASSIGN;
    case VIRTIO_NUMA_CMD_DISTANCE_SET:
        return VIRTIO_NUMA_COMMAND_TYPE_DISTANCE_SET;
    case VIRTIO_NUMA_HOST_CMD_MOVE:
        return VIRTIO_NUMA_COMMAND_TYPE_HOST_MOVE;
    default:
        return VIRTIO_NUMA_COMMAND_TYPE_RAW;
    }
}

/* Wire field codes are the VirtioNumaField values, in the same order. */
QEMU_BUILD_BUG_ON(VIRTIO_NUMA_FIELD_NONE != VIRTIO_NUMA_QAPI_FIELD_NONE);
QEMU_BUILD_BUG_ON(VIRTIO_NUMA_FIELD_NR_RANGES !=
                  VIRTIO_NUMA_QAPI_FIELD_NR_RANGES);
QEMU_BUILD_BUG_ON(VIRTIO_NUMA_FIELD_INTERVAL !=
                  VIRTIO_NUMA_QAPI_FIELD_INTERVAL_MS);
QEMU_BUILD_BUG_ON(VIRTIO_NUMA_FIELD_DISTANCE + 1 !=
                  VIRTIO_NUMA_QAPI_FIELD__MAX);

/* Status codes on the wire map one to one onto VirtioNumaStatus. */
QEMU_BUILD_BUG_ON(VIRTIO_NUMA_S_FAILED != VIRTIO_NUMA_STATUS_FAILED);
QEMU_BUILD_BUG_ON(VIRTIO_NUMA_NR_TAGS > 16);

static VirtioNumaHostMove *virtio_numa_host_moved(const VirtIONumaHostMoved *h)
{
    VirtioNumaHostMove *hm;

    if (!h->valid) {
        return NULL;
    }
    hm = g_new0(VirtioNumaHostMove, 1);
    hm->size = h->size;
    hm->moved = h->moved;
    hm->on_nodes = h->on_nodes;
    hm->elsewhere = h->elsewhere;
    hm->not_resident = h->not_resident;
    hm->duration_us = h->duration_us;
    hm->error = h->error;
    return hm;
}

static void virtio_numa_record_done(VirtIONuma *vn, const VirtIONumaCmd *cmd,
                                    uint16_t status, uint16_t field,
                                    uint32_t detail)
{
    g_autofree char *path = object_get_canonical_path(OBJECT(vn));
    g_autoptr(VirtioNumaHostMove) hm = virtio_numa_host_moved(&cmd->host);
    VirtIONumaDone *d = &vn->done[vn->done_next];

    d->id = cmd->id;
    d->type = cmd->type;
    d->status = status;
    d->field = field;
    d->detail = detail;
    d->host = cmd->host;
    trace_virtio_numa_cmd_done(virtio_numa_id(vn), cmd->id, cmd->type, status,
                               field, detail);
    vn->done_next = (vn->done_next + 1) % VIRTIO_NUMA_HISTORY;
    vn->done_count = MIN(vn->done_count + 1, VIRTIO_NUMA_HISTORY);

    qapi_event_send_virtio_numa_completion(virtio_numa_id(vn), path, cmd->id,
        virtio_numa_qapi_type(cmd->type), status,
        field, detail, hm);
}

/* Retire the command in flight. */
static void virtio_numa_pop_cmd(VirtIONuma *vn)
{
    /* The driver reads cancel_id only while the command runs. */
    vn->cancel_id = 0;
    vn->progress_done = vn->progress_total = 0;
    vn->in_flight = false;
    vn->queue_head = (vn->queue_head + 1) % VIRTIO_NUMA_QUEUE_MAX;
    vn->queue_len--;
}

/* Take the queued command at queue position @i (not in flight) out. */
static void virtio_numa_unqueue(VirtIONuma *vn, uint32_t i)
{
    assert(i < vn->queue_len && !(i == 0 && vn->in_flight));
    for (; i + 1 < vn->queue_len; i++) {
        vn->queue[(vn->queue_head + i) % VIRTIO_NUMA_QUEUE_MAX] =
            vn->queue[(vn->queue_head + i + 1) % VIRTIO_NUMA_QUEUE_MAX];
    }
    vn->queue_len--;
}

/* The queue position of command @id, or -1. */
static int virtio_numa_queue_pos(VirtIONuma *vn, uint64_t id)
{
    uint32_t i;

    for (i = 0; i < vn->queue_len; i++) {
        if (vn->queue[(vn->queue_head + i) % VIRTIO_NUMA_QUEUE_MAX].id == id) {
            return i;
        }
    }
    return -1;
}

/*
 * End every command, in flight or queued, as cancelled: the driver they
 * were accepted for is gone (the device was reset), or the machine is.
 * A command in flight may have been carried out in part; its completion
 * would have gone to the driver that is gone.  A relayout's host move
 * stops; one of virtio-numa-host-move goes on, as it needs no driver.
 */
static void virtio_numa_cancel_all(VirtIONuma *vn)
{
    if (vn->move && vn->move->type != VIRTIO_NUMA_HOST_CMD_MOVE) {
        virtio_numa_move_cancel(vn->move);
    }
    while (vn->queue_len) {
        virtio_numa_record_done(vn, &vn->queue[vn->queue_head],
                                VIRTIO_NUMA_STATUS_CANCELLED,
                                VIRTIO_NUMA_FIELD_NONE, 0);
        virtio_numa_pop_cmd(vn);
    }
}

/* Send the next queued command if the guest has a buffer for it. */
static void virtio_numa_send_next(VirtIONuma *vn)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(vn);
    VirtIONumaCmd *cmd;
    VirtQueueElement *elem;
    size_t room;

    if (vn->in_flight || !vn->queue_len || vn->queue[vn->queue_head].moving ||
        !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        return;
    }
    elem = virtqueue_pop(vn->cmd_vq, sizeof(VirtQueueElement));
    if (!elem) {
        return;
    }
    cmd = &vn->queue[vn->queue_head];
    room = iov_size(elem->in_sg, elem->in_num);
    if (elem->out_num || room < cmd->size) {
        virtio_error(vdev, "virtio-numa: command buffer of %zu bytes, "
                     "need %u", room, cmd->size);
        virtqueue_detach_element(vn->cmd_vq, elem, 0);
        g_free(elem);
        return;
    }
    iov_from_buf(elem->in_sg, elem->in_num, 0, cmd->buf, cmd->size);
    virtqueue_push(vn->cmd_vq, elem, cmd->size);
    virtio_notify(vdev, vn->cmd_vq);
    g_free(elem);
    vn->in_flight = true;
    trace_virtio_numa_cmd_sent(virtio_numa_id(vn), cmd->id);
}

static void virtio_numa_handle_cmd(VirtIODevice *vdev, VirtQueue *vq)
{
    virtio_numa_send_next(VIRTIO_NUMA(vdev));
}

/* All the RAM the guest can have, hotplugged memory included. */
static uint64_t virtio_numa_max_ram(void)
{
    MachineState *ms = MACHINE(qdev_get_machine());

    return MAX(ms->maxram_size, ms->ram_size);
}

/* A page count the guest reports cannot exceed all the RAM it can have. */
static bool virtio_numa_pages_ok(uint64_t pages, uint16_t page_shift)
{
    return pages <= virtio_numa_max_ram() >> page_shift;
}

/*
 * A guest's unit of RELAYOUT ranges or of NODE_ADD: a power of two of at
 * least a page and at most the largest RAM the device checks for (a
 * guest cannot move or add more at once).
 */
static bool virtio_numa_unit_ok(uint64_t unit, uint16_t page_shift)
{
    return is_power_of_2(unit) && unit >= (1ULL << page_shift) &&
           unit <= virtio_numa_max_ram();
}

/* A record of a guest unit (virtio_numa_unit_ok()): once, for node 0. */
static const char *virtio_numa_check_unit(VirtIONumaReport *rep,
                                          uint16_t tag, uint32_t node,
                                          uint64_t value,
                                          uint16_t page_shift)
{
    uint64_t *unit = tag == VIRTIO_NUMA_R_RELAYOUT_UNIT ? &rep->relayout_unit
                                                        : &rep->add_unit;

    if (node || *unit) {
        return "unit record for a node other than 0, or twice";
    }
    if (!virtio_numa_unit_ok(value, page_shift)) {
        return "unit not a power of two between a page and the RAM";
    }
    *unit = value;
    return NULL;
}

/*
 * Check a guest event against everything the device knows, and on
 * success fill @values/@reported.  Returns NULL or what was wrong.
 */
static const char *virtio_numa_check_event(VirtIONuma *vn,
                                           const struct virtio_numa_event *ev,
                                           size_t size,
                                           VirtIONumaReport *rep)
{
    uint16_t type = le16_to_cpu(ev->type);
    uint16_t status = le16_to_cpu(ev->status);
    uint16_t field = le16_to_cpu(ev->field);
    uint16_t page_shift = le16_to_cpu(ev->page_shift);
    uint16_t nr_node_ids = le16_to_cpu(ev->nr_node_ids);
    uint16_t nr = le16_to_cpu(ev->nr_records);
    uint16_t max_nodes = virtio_numa_max_nodes();
    /* One bit per tag: enough of them. */
    uint16_t seen[MAX_NODES] = {};
    unsigned int i;
    const char *err;

    if (size != sizeof(*ev) + nr * sizeof(ev->records[0])) {
        return "length does not match nr_records";
    }
    if (page_shift < 12 || page_shift > 30) {
        return "page_shift out of range";
    }
    if (!nr_node_ids || nr_node_ids > MAX_NODES * 8) {
        return "nr_node_ids out of range";
    }
    if (status > VIRTIO_NUMA_S_FAILED ||
        field >= VIRTIO_NUMA_QAPI_FIELD__MAX) {
        return "unknown status or field";
    }
    switch (type) {
    case VIRTIO_NUMA_EVENT_REPORT:
        if (ev->id || status != VIRTIO_NUMA_S_OK) {
            return "report with a command id or a status";
        }
        break;
    case VIRTIO_NUMA_EVENT_COMPLETION:
        if (!vn->in_flight ||
            le64_to_cpu(ev->id) != vn->queue[vn->queue_head].id) {
            return "completion of a command not in flight";
        }
        break;
    default:
        return "unknown event type";
    }

    for (i = 0; i < nr; i++) {
        const struct virtio_numa_record *r = &ev->records[i];
        uint16_t tag = le16_to_cpu(r->tag);
        uint32_t node = le32_to_cpu(r->node);
        uint64_t value = le64_to_cpu(r->value);

        if (tag == VIRTIO_NUMA_R_RELAYOUT_UNIT ||
            tag == VIRTIO_NUMA_R_ADD_UNIT) {
            err = virtio_numa_check_unit(rep, tag, node, value, page_shift);
            if (err) {
                return err;
            }
            continue;
        }
        if (!tag || tag > VIRTIO_NUMA_NR_TAGS) {
            continue;   /* from a newer guest: skipped, as specified */
        }
        if (node >= max_nodes) {
            return "record for a node the device does not have";
        }
        if (seen[node] & BIT(tag - 1)) {
            return "duplicate record";
        }
        seen[node] |= BIT(tag - 1);
        rep->reported[node] = true;
        switch (tag) {
        case VIRTIO_NUMA_R_STATE:
            if (value >= (VIRTIO_NUMA_NODE_ADDED << 1)) {
                return "unknown node state bits";
            }
            break;
        case VIRTIO_NUMA_R_GUEST_NODE:
            if (value >= nr_node_ids) {
                return "guest node id out of range";
            }
            break;
        case VIRTIO_NUMA_R_CPUS:
            if (value > MACHINE(qdev_get_machine())->smp.max_cpus) {
                return "more CPUs than the machine has";
            }
            break;
        case VIRTIO_NUMA_R_TRANSPLANTED_PAGES:
            /* A running total: it outgrows the machine by design. */
            break;
        default:
            if (!virtio_numa_pages_ok(value, page_shift)) {
                return "more pages than the machine has";
            }
        }
        rep->values[node][tag - 1] = value;
    }
    for (i = 0; i < max_nodes; i++) {
        const uint64_t *v = rep->values[i];

        /*
         * A relayout moves present pages at once, and managed ones as
         * they are freed: until then they are the node's pending pages,
         * of which some cannot migrate (slab, page tables, other).
         */
        if (v[VIRTIO_NUMA_R_PENDING_SLAB - 1] >
                v[VIRTIO_NUMA_R_PENDING_PAGES - 1] ||
            v[VIRTIO_NUMA_R_PENDING_PGTABLE - 1] >
                v[VIRTIO_NUMA_R_PENDING_PAGES - 1] ||
            v[VIRTIO_NUMA_R_PENDING_OTHER - 1] >
                v[VIRTIO_NUMA_R_PENDING_PAGES - 1]) {
            return "node with more unmovable pending pages than pending";
        }
        if (v[VIRTIO_NUMA_R_MANAGED_PAGES - 1] >
                v[VIRTIO_NUMA_R_PRESENT_PAGES - 1] +
                v[VIRTIO_NUMA_R_PENDING_PAGES - 1] ||
            v[VIRTIO_NUMA_R_PENDING_PAGES - 1] >
                v[VIRTIO_NUMA_R_MANAGED_PAGES - 1] ||
            v[VIRTIO_NUMA_R_FREE_PAGES - 1] >
                v[VIRTIO_NUMA_R_MANAGED_PAGES - 1]) {
            return "node with more managed pages than present and pending, "
                   "more pending than managed, or more free than managed";
        }
    }
    return NULL;
}

/*
 * Whether the command in flight is one the guest can report progress on
 * and stop early: NODE_REMOVE, and RELAYOUT with MIGRATE.
 */
static bool virtio_numa_cmd_long(VirtIONuma *vn, const VirtIONumaCmd *cmd)
{
    const struct virtio_numa_cmd_hdr *hdr = (const void *)cmd->buf;

    if (!virtio_vdev_has_feature(VIRTIO_DEVICE(vn), VIRTIO_NUMA_F_PROGRESS) ||
        cmd->size < sizeof(*hdr)) {
        return false;
    }
    return cmd->type == VIRTIO_NUMA_CMD_NODE_REMOVE ||
           (cmd->type == VIRTIO_NUMA_CMD_RELAYOUT &&
            (le16_to_cpu(hdr->flags) & VIRTIO_NUMA_RELAYOUT_F_MIGRATE));
}

/*
 * Check a PROGRESS event: for the command in flight, a long one, with
 * exactly its two records, and on success fill @done and @total (bytes).
 * Returns NULL or what was wrong.
 */
static const char *
virtio_numa_check_progress(VirtIONuma *vn, const struct virtio_numa_event *ev,
                           size_t size, uint64_t *done, uint64_t *total)
{
    uint16_t page_shift = le16_to_cpu(ev->page_shift);
    uint64_t v[2] = {};
    bool seen[2] = {};
    unsigned int i;

    if (size != sizeof(*ev) + 2 * sizeof(ev->records[0]) ||
        le16_to_cpu(ev->nr_records) != 2) {
        return "progress without exactly two records";
    }
    if (page_shift < 12 || page_shift > 30) {
        return "page_shift out of range";
    }
    if (ev->status || ev->field || ev->detail) {
        return "progress with a status";
    }
    if (!vn->in_flight ||
        le64_to_cpu(ev->id) != vn->queue[vn->queue_head].id ||
        !virtio_numa_cmd_long(vn, &vn->queue[vn->queue_head])) {
        return "progress of a command not in flight, or not a long one";
    }
    for (i = 0; i < 2; i++) {
        const struct virtio_numa_record *r = &ev->records[i];
        uint16_t tag = le16_to_cpu(r->tag);
        unsigned int k = tag - VIRTIO_NUMA_R_PROGRESS_DONE;

        if ((tag != VIRTIO_NUMA_R_PROGRESS_DONE &&
             tag != VIRTIO_NUMA_R_PROGRESS_TOTAL) || r->node || seen[k]) {
            return "progress records other than done and total of node 0";
        }
        seen[k] = true;
        v[k] = le64_to_cpu(r->value);
    }
    if (!virtio_numa_pages_ok(v[1], page_shift) || v[0] > v[1]) {
        return "progress beyond its total, or more pages than the machine has";
    }
    *done = v[0] << page_shift;
    *total = v[1] << page_shift;
    return NULL;
}

static void virtio_numa_cmd_ended(VirtIONuma *vn, const VirtIONumaCmd *cmd,
                                  uint16_t status);

static void virtio_numa_process_event(VirtIONuma *vn, const void *buf,
                                      size_t size)
{
    const struct virtio_numa_event *ev = buf;
    g_autofree VirtIONumaReport *rep = g_new0(VirtIONumaReport, 1);
    uint64_t done, total;
    const char *err;

    if (le16_to_cpu(ev->type) == VIRTIO_NUMA_EVENT_PROGRESS) {
        err = virtio_numa_check_progress(vn, ev, size, &done, &total);
        if (!err) {
            vn->progress_done = done;
            vn->progress_total = total;
            trace_virtio_numa_progress(virtio_numa_id(vn),
                                       le64_to_cpu(ev->id), done, total);
            return;
        }
    } else {
        err = virtio_numa_check_event(vn, ev, size, rep);
    }
    if (err) {
        vn->bogus_events++;
        trace_virtio_numa_event_dropped(virtio_numa_id(vn), size, err);
        qemu_log_mask(LOG_GUEST_ERROR, "virtio-numa %s: dropped event of "
                      "%zu bytes: %s\n", virtio_numa_id(vn), size, err);
        return;
    }

    /* Valid: it replaces the last report as a whole. */
    vn->reports++;
    vn->report_seq = le64_to_cpu(ev->seq);
    trace_virtio_numa_report(virtio_numa_id(vn), vn->report_seq);
    vn->page_shift = le16_to_cpu(ev->page_shift);
    vn->guest_nr_node_ids = le16_to_cpu(ev->nr_node_ids);
    vn->report = *rep;

    if (le16_to_cpu(ev->type) == VIRTIO_NUMA_EVENT_COMPLETION) {
        virtio_numa_cmd_ended(vn, &vn->queue[vn->queue_head],
                              le16_to_cpu(ev->status));
        virtio_numa_record_done(vn, &vn->queue[vn->queue_head],
                                le16_to_cpu(ev->status),
                                le16_to_cpu(ev->field),
                                le32_to_cpu(ev->detail));
        virtio_numa_pop_cmd(vn);
    } else {
        g_autofree char *path = object_get_canonical_path(OBJECT(vn));

        qapi_event_send_virtio_numa_report(virtio_numa_id(vn), path,
                                           vn->report_seq);
    }
}

static void virtio_numa_handle_event(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIONuma *vn = VIRTIO_NUMA(vdev);
    VirtQueueElement *elem;

    while ((elem = virtqueue_pop(vq, sizeof(VirtQueueElement)))) {
        size_t size = iov_size(elem->out_sg, elem->out_num);

        if (elem->in_num || size < sizeof(struct virtio_numa_event) ||
            size > VIRTIO_NUMA_EVENT_MAX_SIZE) {
            vn->bogus_events++;
            trace_virtio_numa_event_dropped(virtio_numa_id(vn), size,
                                            "bad size");
            qemu_log_mask(LOG_GUEST_ERROR, "virtio-numa %s: dropped event "
                          "of %zu bytes: bad size\n", virtio_numa_id(vn),
                          size);
        } else {
            g_autofree void *buf = g_malloc(size);

            iov_to_buf(elem->out_sg, elem->out_num, 0, buf, size);
            virtio_numa_process_event(vn, buf, size);
        }
        virtqueue_push(vq, elem, 0);
        virtio_notify(vdev, vq);
        g_free(elem);
    }
    virtio_numa_send_next(vn);
}

/* --- QMP --- */

typedef struct VirtIONumaFind {
    const char *id;
    VirtIONuma *found;
    VirtioNumaInfoList **tail;
} VirtIONumaFind;

static int virtio_numa_find_one(Object *obj, void *opaque)
{
    VirtIONumaFind *f = opaque;

    if (object_dynamic_cast(obj, TYPE_VIRTIO_NUMA) &&
        !strcmp(virtio_numa_id(VIRTIO_NUMA(obj)), f->id)) {
        f->found = VIRTIO_NUMA(obj);
        return 1;
    }
    return 0;
}

/*
 * The device of id @id, or at QOM path @id (the proxy, such as
 * virtio-numa-pci, or the virtio device itself).
 */
static VirtIONuma *virtio_numa_find(const char *id, Error **errp)
{
    VirtIONumaFind f = { .id = id };

    if (id[0] == '/') {
        Object *obj = object_resolve_path(id, NULL);
        Object *child = obj ? object_resolve_path_component(obj,
                                                            "virtio-backend")
                            : NULL;

        f.found = (VirtIONuma *)object_dynamic_cast(child ?: obj,
                                                    TYPE_VIRTIO_NUMA);
    } else {
        object_child_foreach_recursive(object_get_root(),
                                       virtio_numa_find_one, &f);
    }
    if (!f.found) {
        error_set(errp, ERROR_CLASS_DEVICE_NOT_FOUND,
                  "Device '%s' is not a virtio-numa device", id);
    }
    return f.found;
}

/*
 * Whether the guest was asked to eject the device (device_del): the
 * request is pending on the proxy that plugged us until the guest lets
 * go.  No new work is given to a device that is going away.
 */
static bool virtio_numa_unplugging(VirtIONuma *vn)
{
    Object *parent = OBJECT(vn)->parent;

    return parent && object_dynamic_cast(parent, TYPE_DEVICE) &&
           DEVICE(parent)->pending_deleted_event;
}

/*
 * Find the device and check that the machine lets it take a command now:
 * the device's state is not about to be replaced by a migration's, nor
 * taken along by one, and the device stays.
 */
static VirtIONuma *virtio_numa_find_stable(const char *id, Error **errp)
{
    VirtIONuma *vn = virtio_numa_find(id, errp);

    if (!vn) {
        return NULL;
    }
    if (runstate_check(RUN_STATE_INMIGRATE)) {
        error_setg(errp, "virtio-numa '%s' is on the destination of an "
                   "incoming migration: send commands to the source, or "
                   "here once the migration has completed", id);
        return NULL;
    }
    if (migration_is_running()) {
        error_setg(errp, "virtio-numa '%s' is busy: a migration is running; "
                   "try again after it", id);
        return NULL;
    }
    if (virtio_numa_unplugging(vn)) {
        error_setg(errp, "virtio-numa '%s' is being unplugged", id);
        return NULL;
    }
    return vn;
}

/* Find the device and check that a command may be queued on it now. */
static VirtIONuma *virtio_numa_find_for_cmd(const char *id, Error **errp)
{
    VirtIONuma *vn = virtio_numa_find_stable(id, errp);

    if (!vn) {
        return NULL;
    }
    /*
     * A command is for the driver that is ready now, and ends with it: it
     * is refused at once when there is none (the guest has not bound one
     * yet, is suspended, or unbound it), rather than waiting for a driver
     * that may never come.
     */
    if (!(VIRTIO_DEVICE(vn)->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        error_setg(errp, "virtio-numa '%s' has no driver ready in the guest "
                   "(not bound yet, suspended, or unbound); try again once "
                   "query-virtio-numa shows driver-ready", id);
        return NULL;
    }
    if (vn->queue_len == VIRTIO_NUMA_QUEUE_MAX) {
        error_setg(errp, "virtio-numa '%s' has %d commands queued already; "
                   "wait for completions", id, VIRTIO_NUMA_QUEUE_MAX);
        return NULL;
    }
    return vn;
}

/* The free slot at the tail of the queue, cleared.  The queue has room. */
static VirtIONumaCmd *virtio_numa_tail(VirtIONuma *vn)
{
    VirtIONumaCmd *cmd = &vn->queue[(vn->queue_head + vn->queue_len) %
                                    VIRTIO_NUMA_QUEUE_MAX];

    memset(cmd, 0, sizeof(*cmd));
    return cmd;
}

/* Queue the filled tail slot, send it if we can, and return its id. */
static VirtioNumaCommandId *virtio_numa_push(VirtIONuma *vn,
                                             const VirtIONumaCmd *cmd)
{
    VirtioNumaCommandId *ret = g_new0(VirtioNumaCommandId, 1);

    ret->command_id = cmd->id;
    trace_virtio_numa_cmd_queued(virtio_numa_id(vn), cmd->id, cmd->type);
    vn->queue_len++;
    virtio_numa_send_next(vn);
    return ret;
}

/* Fill the tail slot with a command of @len payload bytes, new id. */
static VirtIONumaCmd *virtio_numa_fill(VirtIONuma *vn, uint16_t type,
                                       uint16_t flags, const void *payload,
                                       uint32_t len)
{
    VirtIONumaCmd *cmd = virtio_numa_tail(vn);
    struct virtio_numa_cmd_hdr *hdr = (void *)cmd->buf;

    assert(sizeof(*hdr) + len <= sizeof(cmd->buf));
    cmd->id = ++vn->next_id;
    cmd->type = type;
    cmd->size = sizeof(*hdr) + len;
    hdr->id = cpu_to_le64(cmd->id);
    hdr->type = cpu_to_le16(type);
    hdr->flags = cpu_to_le16(flags);
    hdr->len = cpu_to_le32(len);
    /* REPORT has no payload: memcpy() from NULL is undefined even then. */
    if (len) {
        memcpy(hdr + 1, payload, len);
    }
    return cmd;
}

/* Queue a command of @len payload bytes; returns its id. */
static VirtioNumaCommandId *virtio_numa_queue(VirtIONuma *vn, uint16_t type,
                                              uint16_t flags,
                                              const void *payload,
                                              uint32_t len)
{
    return virtio_numa_push(vn, virtio_numa_fill(vn, type, flags, payload,
                                                 len));
}

VirtioNumaCommandId *qmp_virtio_numa_report(const char *id, Error **errp)
{
    VirtIONuma *vn = virtio_numa_find_for_cmd(id, errp);

    if (!vn) {
        return NULL;
    }
    return virtio_numa_queue(vn, VIRTIO_NUMA_CMD_REPORT, 0, NULL, 0);
}

VirtioNumaCommandId *qmp_virtio_numa_set_report_interval(const char *id,
                                                         uint32_t interval,
                                                         Error **errp)
{
    struct virtio_numa_cmd_report_interval ri = {
        .interval_ms = cpu_to_le32(interval),
    };
    VirtIONuma *vn;

    if (interval && (interval < VIRTIO_NUMA_REPORT_INTERVAL_MIN_MS ||
                     interval > VIRTIO_NUMA_REPORT_INTERVAL_MAX_MS)) {
        error_setg(errp, "'interval' must be 0 or %d to %d milliseconds, "
                   "not %" PRIu32, VIRTIO_NUMA_REPORT_INTERVAL_MIN_MS,
                   VIRTIO_NUMA_REPORT_INTERVAL_MAX_MS, interval);
        return NULL;
    }
    vn = virtio_numa_find_for_cmd(id, errp);
    if (!vn) {
        return NULL;
    }
    vn->report_interval_ms = interval;
    return virtio_numa_queue(vn, VIRTIO_NUMA_CMD_SET_REPORT_INTERVAL, 0, &ri,
                             sizeof(ri));
}

/*
 * Whether guest-physical [addr, addr + size) is all RAM.  The flat view
 * may cut it into pieces (below 1 MiB it does: PAM segments), so walk
 * it section by section; the size check before bounds the walk.
 */
static bool virtio_numa_is_ram(uint64_t addr, uint64_t size)
{
    uint64_t off = 0;

    while (off < size) {
        MemoryRegionSection mrs = memory_region_find(get_system_memory(),
                                                     addr + off, size - off);
        bool ram = mrs.mr && memory_region_is_ram(mrs.mr) &&
                   !memory_region_is_ram_device(mrs.mr) &&
                   mrs.offset_within_address_space == addr + off &&
                   int128_nz(mrs.size);

        if (ram) {
            off += int128_get64(mrs.size);
        }
        if (mrs.mr) {
            memory_region_unref(mrs.mr);
        }
        if (!ram) {
            return false;
        }
    }
    return true;
}

/* Check guest range @i: whole blocks of guest RAM. */
static bool virtio_numa_check_span(VirtIONuma *vn, unsigned int i,
                                   uint64_t addr, uint64_t size,
                                   Error **errp)
{
    uint64_t end;

    if (!QEMU_IS_ALIGNED(addr, vn->block_size)) {
        error_setg(errp, "'ranges[%u].addr' 0x%" PRIx64 " is not a multiple "
                   "of the block size 0x%" PRIx64, i, addr, vn->block_size);
        return false;
    }
    if (!size || !QEMU_IS_ALIGNED(size, vn->block_size) ||
        uadd64_overflow(addr, size, &end)) {
        error_setg(errp, "'ranges[%u].size' 0x%" PRIx64 " is not a non-zero "
                   "multiple of the block size 0x%" PRIx64, i, size,
                   vn->block_size);
        return false;
    }
    /* Bounds the block-by-block RAM check below, too. */
    if (size > virtio_numa_max_ram()) {
        error_setg(errp, "'ranges[%u].size' 0x%" PRIx64 " is larger than "
                   "the guest's memory", i, size);
        return false;
    }
    if (!virtio_numa_is_ram(addr, size)) {
        error_setg(errp, "'ranges[%u]' 0x%" PRIx64 "+0x%" PRIx64 " is not "
                   "all guest RAM", i, addr, size);
        return false;
    }
    return true;
}

/* Check range @i against the device and the machine; fill @w. */
static bool virtio_numa_check_range(VirtIONuma *vn, unsigned int i,
                                    const VirtioNumaRange *r,
                                    struct virtio_numa_range *w,
                                    Error **errp)
{
    uint64_t unit = vn->report.relayout_unit;

    if (!virtio_numa_check_span(vn, i, r->addr, r->size, errp)) {
        return false;
    }
    /*
     * The guest checks its unit too (0: not reported yet); refused here,
     * a request never becomes a command the guest must refuse.
     */
    if (unit && !QEMU_IS_ALIGNED(r->addr | r->size, unit)) {
        error_setg(errp, "'ranges[%u]' 0x%" PRIx64 "+0x%" PRIx64 " is not "
                   "whole units of 0x%" PRIx64 ", the guest's "
                   "'guest-relayout-unit'", i, r->addr, r->size, unit);
        return false;
    }
    if (r->node >= virtio_numa_max_nodes()) {
        error_setg(errp, "'ranges[%u].node' %u is not a node of this "
                   "machine (it has %u)", i, r->node,
                   virtio_numa_max_nodes());
        return false;
    }
    w->addr = cpu_to_le64(r->addr);
    w->size = cpu_to_le64(r->size);
    w->node = cpu_to_le32(r->node);
    return true;
}

/* A command moves 1 to VIRTIO_NUMA_MAX_RANGES ranges. */
static bool virtio_numa_check_nr_ranges(unsigned int nr, Error **errp)
{
    if (!nr || nr > VIRTIO_NUMA_MAX_RANGES) {
        error_setg(errp, "'ranges' must have 1 to %d entries, not %u",
                   VIRTIO_NUMA_MAX_RANGES, nr);
        return false;
    }
    return true;
}

static int virtio_numa_range_cmp(const void *a, const void *b)
{
    uint64_t x = le64_to_cpu(((const struct virtio_numa_range *)a)->addr);
    uint64_t y = le64_to_cpu(((const struct virtio_numa_range *)b)->addr);

    return x < y ? -1 : x > y;
}

/* Overlap shows between neighbours of sorted ranges; name it. */
static bool virtio_numa_check_overlap(const struct virtio_numa_range *r,
                                      unsigned int nr, Error **errp)
{
    unsigned int i;

    for (i = 1; i < nr; i++) {
        if (le64_to_cpu(r[i - 1].addr) + le64_to_cpu(r[i - 1].size) >
            le64_to_cpu(r[i].addr)) {
            error_setg(errp, "'ranges' overlap at 0x%" PRIx64,
                       le64_to_cpu(r[i].addr));
            return false;
        }
    }
    return true;
}

/*
 * A host move has ended (its thread is joined).  Its own command
 * completes here; a relayout waiting for it goes to the guest now,
 * unless it was cancelled or binding failed.  A relayout that is no
 * longer queued was cancelled with the driver.
 */
static void virtio_numa_move_ended(void *opaque, VirtIONumaMove *m)
{
    VirtIONuma *vn = opaque;
    bool cancelled = qatomic_read(&m->cancel);
    uint16_t status = VIRTIO_NUMA_STATUS_OK;
    VirtIONumaCmd own = {
        .id = m->cmd_id, .type = m->type, .host = m->result,
    };
    VirtIONumaCmd *cmd = &own;
    int pos = -1;

    assert(vn->move == m);
    vn->move = NULL;
    if (cancelled) {
        status = VIRTIO_NUMA_STATUS_CANCELLED;
    } else if (m->result.error) {
        status = VIRTIO_NUMA_STATUS_FAILED;
    } else if (m->result.elsewhere) {
        status = VIRTIO_NUMA_STATUS_PARTIAL;
    }
    if (m->type != VIRTIO_NUMA_HOST_CMD_MOVE) {
        pos = virtio_numa_queue_pos(vn, m->cmd_id);
        if (pos < 0) {
            virtio_numa_move_free(m);
            return;
        }
        cmd = &vn->queue[(vn->queue_head + pos) % VIRTIO_NUMA_QUEUE_MAX];
        cmd->host = m->result;
        cmd->moving = false;
        /* Pages that could not move: the guest is told all the same. */
        if (status == VIRTIO_NUMA_STATUS_PARTIAL) {
            status = VIRTIO_NUMA_STATUS_OK;
        }
    }
    if (pos < 0 || status != VIRTIO_NUMA_STATUS_OK) {
        virtio_numa_record_done(vn, cmd, status, VIRTIO_NUMA_FIELD_NONE,
                                status == VIRTIO_NUMA_STATUS_FAILED ?
                                m->result.error : 0);
        if (pos >= 0) {
            virtio_numa_unqueue(vn, pos);
        }
    }
    virtio_numa_move_free(m);
    virtio_numa_send_next(vn);
}

/* Start @m for command @cmd_id of @type; takes @m. */
static bool virtio_numa_start_move(VirtIONuma *vn, VirtIONumaMove *m,
                                   uint64_t cmd_id, uint16_t type,
                                   Error **errp)
{
    if (!virtio_numa_move_start(m, DEVICE(vn), cmd_id, type,
                                virtio_numa_move_ended, vn, errp)) {
        virtio_numa_move_free(m);
        return false;
    }
    vn->move = m;
    return true;
}

static bool virtio_numa_move_busy(VirtIONuma *vn, Error **errp)
{
    if (vn->move) {
        error_setg(errp, "virtio-numa '%s' is moving host memory for "
                   "command %" PRIu64 " already; wait for its completion "
                   "or cancel it", virtio_numa_id(vn), vn->move->cmd_id);
        return true;
    }
    return false;
}

VirtioNumaCommandId *qmp_virtio_numa_relayout(const char *id,
                                              VirtioNumaRangeList *ranges,
                                              bool has_migrate, bool migrate,
                                              Error **errp)
{
    struct virtio_numa_range r[VIRTIO_NUMA_MAX_RANGES] = {};
    struct virtio_numa_cmd_relayout hdr = {};
    uint8_t payload[sizeof(hdr) + sizeof(r)];
    VirtIONumaMoveRange mr[VIRTIO_NUMA_MAX_RANGES];
    g_autofree char *what = NULL;
    VirtIONumaMove *m = NULL;
    VirtioNumaRangeList *l;
    unsigned int i, nr, nr_move = 0;
    VirtIONumaCmd *c;
    VirtIONuma *vn;

    vn = virtio_numa_find_for_cmd(id, errp);
    if (!vn) {
        return NULL;
    }
    if (!virtio_vdev_has_feature(VIRTIO_DEVICE(vn), VIRTIO_NUMA_F_RELAYOUT)) {
        error_setg(errp, "virtio-numa '%s': the guest driver has not "
                   "accepted relayout (no driver, or one without it)", id);
        return NULL;
    }
    nr = QAPI_LIST_LENGTH(ranges);
    if (!virtio_numa_check_nr_ranges(nr, errp)) {
        return NULL;
    }
    for (l = ranges, i = 0; l; l = l->next, i++) {
        if (!virtio_numa_check_range(vn, i, l->value, &r[i], errp)) {
            return NULL;
        }
        if (!l->value->has_host_nodes) {
            continue;
        }
        g_free(what);
        what = g_strdup_printf("ranges[%u].host-nodes", i);
        if (!virtio_numa_host_nodes(l->value->host_nodes, what,
                                    mr[nr_move].nodes, errp)) {
            return NULL;
        }
        mr[nr_move].index = i;
        mr[nr_move].addr = l->value->addr;
        mr[nr_move].size = l->value->size;
        nr_move++;
    }
    /* The wire wants them sorted. */
    qsort(r, nr, sizeof(r[0]), virtio_numa_range_cmp);
    if (!virtio_numa_check_overlap(r, nr, errp)) {
        return NULL;
    }
    if (nr_move) {
        if (virtio_numa_move_busy(vn, errp)) {
            return NULL;
        }
        m = virtio_numa_move_new(mr, nr_move, errp);
        if (!m) {
            return NULL;
        }
    }
    hdr.nr_ranges = cpu_to_le32(nr);
    memcpy(payload, &hdr, sizeof(hdr));
    memcpy(payload + sizeof(hdr), r, nr * sizeof(r[0]));
    c = virtio_numa_fill(vn, VIRTIO_NUMA_CMD_RELAYOUT,
                         migrate ? VIRTIO_NUMA_RELAYOUT_F_MIGRATE : 0,
                         payload, sizeof(hdr) + nr * sizeof(r[0]));
    if (m) {
        if (!virtio_numa_start_move(vn, m, c->id, c->type, errp)) {
            return NULL;
        }
        c->moving = true;
    }
    return virtio_numa_push(vn, c);
}

VirtioNumaCommandId *qmp_virtio_numa_host_move(const char *id,
                                               VirtioNumaHostRangeList *ranges,
                                               Error **errp)
{
    struct virtio_numa_range sorted[VIRTIO_NUMA_MAX_RANGES];
    VirtIONumaMoveRange mr[VIRTIO_NUMA_MAX_RANGES];
    g_autofree char *what = NULL;
    VirtioNumaCommandId *ret;
    VirtioNumaHostRangeList *l;
    unsigned int i, nr;
    VirtIONumaMove *m;
    VirtIONuma *vn;

    /* No driver needed: the guest is not told. */
    vn = virtio_numa_find_stable(id, errp);
    if (!vn) {
        return NULL;
    }
    nr = QAPI_LIST_LENGTH(ranges);
    if (!virtio_numa_check_nr_ranges(nr, errp)) {
        return NULL;
    }
    for (l = ranges, i = 0; l; l = l->next, i++) {
        if (!virtio_numa_check_span(vn, i, l->value->addr, l->value->size,
                                    errp)) {
            return NULL;
        }
        g_free(what);
        what = g_strdup_printf("ranges[%u].host-nodes", i);
        if (!virtio_numa_host_nodes(l->value->host_nodes, what, mr[i].nodes,
                                    errp)) {
            return NULL;
        }
        mr[i].index = i;
        mr[i].addr = l->value->addr;
        mr[i].size = l->value->size;
        sorted[i].addr = cpu_to_le64(l->value->addr);
        sorted[i].size = cpu_to_le64(l->value->size);
    }
    qsort(sorted, nr, sizeof(sorted[0]), virtio_numa_range_cmp);
    if (!virtio_numa_check_overlap(sorted, nr, errp) ||
        virtio_numa_move_busy(vn, errp)) {
        return NULL;
    }
    m = virtio_numa_move_new(mr, nr, errp);
    if (!m || !virtio_numa_start_move(vn, m, vn->next_id + 1,
                                      VIRTIO_NUMA_HOST_CMD_MOVE, errp)) {
        return NULL;
    }
    ret = g_new0(VirtioNumaCommandId, 1);
    ret->command_id = ++vn->next_id;
    return ret;
}

void qmp_virtio_numa_cancel(const char *id, uint64_t command_id,
                            Error **errp)
{
    VirtIONuma *vn = virtio_numa_find(id, errp);
    VirtIONumaCmd *cmd;
    int pos;

    if (!vn) {
        return;
    }
    /* Its completion comes when the thread has stopped. */
    if (vn->move && vn->move->cmd_id == command_id) {
        virtio_numa_move_cancel(vn->move);
        return;
    }
    pos = virtio_numa_queue_pos(vn, command_id);
    if (pos < 0) {
        error_setg(errp, "virtio-numa '%s' has no command %" PRIu64 " "
                   "queued, moving or with the guest", id, command_id);
        return;
    }
    if (pos == 0 && vn->in_flight) {
        cmd = &vn->queue[vn->queue_head];
        if (!virtio_numa_cmd_long(vn, cmd)) {
            error_setg(errp, "virtio-numa '%s': command %" PRIu64 " is with "
                       "the guest already and cannot be stopped: only "
                       "node-remove and relayout with migrate can, with a "
                       "driver that supports it", id, command_id);
            return;
        }
        /* It ends with the guest's completion, as far as it came. */
        vn->cancel_id = command_id;
        trace_virtio_numa_cancel_asked(virtio_numa_id(vn), command_id);
        virtio_notify_config(VIRTIO_DEVICE(vn));
        return;
    }
    cmd = &vn->queue[(vn->queue_head + pos) % VIRTIO_NUMA_QUEUE_MAX];
    virtio_numa_record_done(vn, cmd, VIRTIO_NUMA_STATUS_CANCELLED,
                            VIRTIO_NUMA_FIELD_NONE, 0);
    virtio_numa_unqueue(vn, pos);
    virtio_numa_send_next(vn);
}

VirtioNumaCommandId *qmp_x_virtio_numa_inject(const char *id,
                                              const char *data,
                                              Error **errp)
{
    g_autofree uint8_t *bytes = NULL;
    VirtIONumaCmd *cmd;
    VirtIONuma *vn;
    size_t len;

    vn = virtio_numa_find_for_cmd(id, errp);
    if (!vn) {
        return NULL;
    }
    if (!vn->allow_inject) {
        error_setg(errp, "virtio-numa '%s' was not created with %s=on",
                   id, VIRTIO_NUMA_ALLOW_INJECT_PROP);
        return NULL;
    }
    bytes = qbase64_decode(data, -1, &len, errp);
    if (!bytes) {
        return NULL;
    }
    if (!len || len > VIRTIO_NUMA_CMD_MAX_SIZE) {
        error_setg(errp, "'data' must be 1 to %zu bytes, not %zu",
                   (size_t)VIRTIO_NUMA_CMD_MAX_SIZE, len);
        return NULL;
    }
    cmd = virtio_numa_tail(vn);
    memcpy(cmd->buf, bytes, len);
    cmd->size = len;
    /* The guest answers to the id in the bytes, if there is a whole one. */
    if (len >= sizeof(struct virtio_numa_cmd_hdr)) {
        const struct virtio_numa_cmd_hdr *hdr = (const void *)bytes;

        cmd->id = le64_to_cpu(hdr->id);
        cmd->type = le16_to_cpu(hdr->type);
        /* Not a wire type: the guest's answer would be to a raw command. */
        if (cmd->type == VIRTIO_NUMA_HOST_CMD_MOVE) {
            cmd->type = 0;
        }
    }
    return virtio_numa_push(vn, cmd);
}

static VirtioNumaProgress *virtio_numa_progress(VirtIONumaMove *m)
{
    VirtioNumaProgress *p = g_new0(VirtioNumaProgress, 1);

    p->done = virtio_numa_move_done(m);
    p->total = m->total;
    return p;
}

static VirtioNumaCommandInfo *virtio_numa_cmd_info(uint64_t id, uint16_t type,
                                                   VirtioNumaCommandState st)
{
    VirtioNumaCommandInfo *ci = g_new0(VirtioNumaCommandInfo, 1);

    ci->command_id = id;
    ci->type = virtio_numa_qapi_type(type);
    ci->state = st;
    return ci;
}

/*
 * Guest RAM by memory backend: each backend under /objects whose memory
 * region the flat view of the system address space shows, with the node
 * it is the memory of.  RAM that is not a backend's (ROMs, video memory)
 * is left out.
 */
typedef struct VirtIONumaRamBackend {
    HostMemoryBackend *be;
    const MemoryRegion *mr;
    int node;                       /* -1: no node's memory */
} VirtIONumaRamBackend;

typedef struct VirtIONumaRamWalk {
    GArray *backends;               /* of VirtIONumaRamBackend */
    VirtioNumaRamRangeList **tail;
    VirtioNumaRamRange *last;       /* the range @last_be ends */
    const VirtIONumaRamBackend *last_be;
} VirtIONumaRamWalk;

static VirtIONumaRamBackend *virtio_numa_ram_find(VirtIONumaRamWalk *w,
                                                  const MemoryRegion *mr)
{
    unsigned int i;

    for (i = 0; i < w->backends->len; i++) {
        VirtIONumaRamBackend *b = &g_array_index(w->backends,
                                                 VirtIONumaRamBackend, i);

        if (b->mr == mr) {
            return b;
        }
    }
    return NULL;
}

static void virtio_numa_ram_set_node(VirtIONumaRamWalk *w,
                                     HostMemoryBackend *be, unsigned int node)
{
    MemoryRegion *mr = be ? host_memory_backend_get_memory(be) : NULL;
    VirtIONumaRamBackend *b = mr ? virtio_numa_ram_find(w, mr) : NULL;

    if (b) {
        b->node = node;
    }
}

static int virtio_numa_ram_add_backend(Object *obj, void *opaque)
{
    VirtIONumaRamWalk *w = opaque;
    VirtIONumaRamBackend b = { .node = -1 };

    b.be = (HostMemoryBackend *)object_dynamic_cast(obj, TYPE_MEMORY_BACKEND);
    b.mr = b.be ? host_memory_backend_get_memory(b.be) : NULL;
    if (b.mr) {
        g_array_append_val(w->backends, b);
    }
    return 0;
}

/* The nodes virtio-numa-node-add added, on any virtio-numa device. */
static int virtio_numa_ram_added_nodes(Object *obj, void *opaque)
{
    VirtIONuma *vn;
    unsigned int i;

    if (!object_dynamic_cast(obj, TYPE_VIRTIO_NUMA)) {
        return 0;
    }
    vn = VIRTIO_NUMA(obj);
    for (i = 0; i < MAX_NODES; i++) {
        virtio_numa_ram_set_node(opaque, vn->added[i].memdev, i);
    }
    return 0;
}

/* One range of the flat view, in ascending order. */
static bool virtio_numa_ram_range(Int128 start, Int128 len,
                                  const MemoryRegion *mr,
                                  hwaddr offset_in_region, void *opaque)
{
    VirtIONumaRamWalk *w = opaque;
    const VirtIONumaRamBackend *b = virtio_numa_ram_find(w, mr);
    VirtioNumaRamRange *r;
    uint64_t addr, size;

    if (!b) {
        return false;
    }
    addr = int128_get64(start);
    size = int128_get64(len);
    if (w->last_be == b && w->last->addr + w->last->size == addr) {
        w->last->size += size;
        return false;
    }
    r = g_new0(VirtioNumaRamRange, 1);
    r->addr = addr;
    r->size = size;
    r->memdev = g_strdup(object_get_canonical_path_component(OBJECT(b->be)));
    if (b->node >= 0) {
        r->has_node = true;
        r->node = b->node;
    }
    QAPI_LIST_APPEND(w->tail, r);
    w->last = r;
    w->last_be = b;
    return false;
}

static VirtioNumaRamRangeList *virtio_numa_ram(void)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    VirtioNumaRamRangeList *list = NULL;
    VirtIONumaRamWalk w = {
        .backends = g_array_new(false, false, sizeof(VirtIONumaRamBackend)),
        .tail = &list,
    };
    unsigned int i;

    object_child_foreach(object_get_objects_root(),
                         virtio_numa_ram_add_backend, &w);
    for (i = 0; ms->numa_state && i < ms->numa_state->num_nodes; i++) {
        virtio_numa_ram_set_node(&w, ms->numa_state->nodes[i].node_memdev, i);
    }
    object_child_foreach_recursive(object_get_root(),
                                   virtio_numa_ram_added_nodes, &w);
    WITH_RCU_READ_LOCK_GUARD() {
        FlatView *fv = address_space_to_flatview(&address_space_memory);

        flatview_for_each_range(fv, virtio_numa_ram_range, &w);
    }
    g_array_free(w.backends, true);
    return list;
}

static VirtioNumaInfo *virtio_numa_info(VirtIONuma *vn)
{
    VirtioNumaInfo *info = g_new0(VirtioNumaInfo, 1);
    VirtioNumaNodeInfoList **ntail = &info->nodes;
    VirtioNumaCommandInfoList **ctail = &info->commands;
    uint16List **etail = &info->expected_nodes;
    unsigned int i;

    info->id = g_strdup(virtio_numa_id(vn));
    info->qom_path = object_get_canonical_path(OBJECT(vn));
    info->block_size = vn->block_size;
    info->max_nodes = virtio_numa_max_nodes();
    info->driver_ready = VIRTIO_DEVICE(vn)->status & VIRTIO_CONFIG_S_DRIVER_OK;
    info->report_interval = vn->report_interval_ms;
    info->reports = vn->reports;
    info->bogus_events = vn->bogus_events;
    if (vn->reports) {
        info->has_guest_nr_node_ids = true;
        info->guest_nr_node_ids = vn->guest_nr_node_ids;
        info->has_page_size = true;
        info->page_size = 1ULL << vn->page_shift;
        info->has_report_seq = true;
        info->report_seq = vn->report_seq;
    }
    if (vn->report.relayout_unit) {
        info->has_guest_relayout_unit = true;
        info->guest_relayout_unit = vn->report.relayout_unit;
    }
    if (vn->report.add_unit) {
        info->has_guest_add_unit = true;
        info->guest_add_unit = vn->report.add_unit;
    }
    for (i = 0; i < MAX_NODES; i++) {
        const uint64_t *v = vn->report.values[i];
        VirtioNumaNodeInfo *ni;
        uint64_t st;

        if (!vn->report.reported[i]) {
            continue;
        }
        st = v[VIRTIO_NUMA_R_STATE - 1];
        ni = g_new0(VirtioNumaNodeInfo, 1);
        ni->node = i;
        ni->guest_node = v[VIRTIO_NUMA_R_GUEST_NODE - 1];
        ni->possible = st & VIRTIO_NUMA_NODE_POSSIBLE;
        ni->online = st & VIRTIO_NUMA_NODE_ONLINE;
        ni->with_memory = st & VIRTIO_NUMA_NODE_HAS_MEMORY;
        ni->with_cpus = st & VIRTIO_NUMA_NODE_HAS_CPU;
        ni->added = st & VIRTIO_NUMA_NODE_ADDED;
        ni->present_pages = v[VIRTIO_NUMA_R_PRESENT_PAGES - 1];
        ni->managed_pages = v[VIRTIO_NUMA_R_MANAGED_PAGES - 1];
        ni->free_pages = v[VIRTIO_NUMA_R_FREE_PAGES - 1];
        ni->pending_pages = v[VIRTIO_NUMA_R_PENDING_PAGES - 1];
        ni->transplanted_pages = v[VIRTIO_NUMA_R_TRANSPLANTED_PAGES - 1];
        ni->pending_slab_pages = v[VIRTIO_NUMA_R_PENDING_SLAB - 1];
        ni->pending_pagetable_pages = v[VIRTIO_NUMA_R_PENDING_PGTABLE - 1];
        ni->pending_other_pages = v[VIRTIO_NUMA_R_PENDING_OTHER - 1];
        ni->cpus = v[VIRTIO_NUMA_R_CPUS - 1];
        QAPI_LIST_APPEND(ntail, ni);
    }

    /* Oldest first: completed, then in flight, then queued. */
    for (i = 0; i < vn->done_count; i++) {
        unsigned int k = (vn->done_next + VIRTIO_NUMA_HISTORY -
                          vn->done_count + i) % VIRTIO_NUMA_HISTORY;
        const VirtIONumaDone *d = &vn->done[k];
        VirtioNumaCommandInfo *ci;

        ci = virtio_numa_cmd_info(d->id, d->type,
                                  VIRTIO_NUMA_COMMAND_STATE_DONE);
        ci->has_status = true;
        ci->status = d->status;
        if (d->status == VIRTIO_NUMA_S_INVALID) {
            ci->has_field = true;
            ci->field = d->field;
        }
        ci->has_detail = true;
        ci->detail = d->detail;
        ci->host_move = virtio_numa_host_moved(&d->host);
        QAPI_LIST_APPEND(ctail, ci);
    }
    for (i = 0; i < vn->queue_len; i++) {
        const VirtIONumaCmd *c =
            &vn->queue[(vn->queue_head + i) % VIRTIO_NUMA_QUEUE_MAX];
        VirtioNumaCommandState st = !i && vn->in_flight ?
            VIRTIO_NUMA_COMMAND_STATE_SENT : VIRTIO_NUMA_COMMAND_STATE_QUEUED;
        VirtioNumaCommandInfo *ci;

        if (c->moving) {
            st = VIRTIO_NUMA_COMMAND_STATE_MOVING;
        } else if (!i && vn->in_flight && vn->cancel_id == c->id) {
            st = VIRTIO_NUMA_COMMAND_STATE_CANCELLING;
        }
        ci = virtio_numa_cmd_info(c->id, c->type, st);
        ci->host_move = virtio_numa_host_moved(&c->host);
        if (c->moving && vn->move) {
            ci->progress = virtio_numa_progress(vn->move);
        } else if (!i && vn->in_flight && vn->progress_total) {
            ci->progress = g_new0(VirtioNumaProgress, 1);
            ci->progress->done = vn->progress_done;
            ci->progress->total = vn->progress_total;
        }
        QAPI_LIST_APPEND(ctail, ci);
    }
    if (vn->move && vn->move->type == VIRTIO_NUMA_HOST_CMD_MOVE) {
        VirtioNumaCommandInfo *ci =
            virtio_numa_cmd_info(vn->move->cmd_id, vn->move->type,
                                 VIRTIO_NUMA_COMMAND_STATE_MOVING);

        ci->progress = virtio_numa_progress(vn->move);
        QAPI_LIST_APPEND(ctail, ci);
    }
    for (i = 0; i < MAX_NODES; i++) {
        if (vn->expected[i]) {
            QAPI_LIST_APPEND(etail, i);
        }
    }
    return info;
}

static int virtio_numa_query_one(Object *obj, void *opaque)
{
    VirtIONumaFind *f = opaque;

    if (object_dynamic_cast(obj, TYPE_VIRTIO_NUMA)) {
        QAPI_LIST_APPEND(f->tail, virtio_numa_info(VIRTIO_NUMA(obj)));
    }
    return 0;
}

VirtioNumaRamRangeList *qmp_query_virtio_numa_ram(Error **errp)
{
    return virtio_numa_ram();
}

VirtioNumaHostRamRangeList *qmp_query_virtio_numa_host_ram(Error **errp)
{
    g_autoptr(VirtioNumaRamRangeList) ram = virtio_numa_ram();

    return virtio_numa_host_ram(ram, errp);
}

VirtioNumaInfoList *qmp_query_virtio_numa(Error **errp)
{
    VirtioNumaInfoList *list = NULL;
    VirtIONumaFind f = { .tail = &list };

    object_child_foreach_recursive(object_get_root(), virtio_numa_query_one,
                                   &f);
    return list;
}

/* --- device memory: where the memory of added nodes lives --- */

/*
 * The container the machine maps at memaddr.  Called before realize, by
 * the memory device pre-plug, so the properties are checked here too.
 * Without a region-size the device has no memory and no node hotplug.
 */
MemoryRegion *virtio_numa_get_memory_region(VirtIONuma *vn, Error **errp)
{
    if (!vn->region_size) {
        return NULL;
    }
    if (!vn->mr) {
        if (!is_power_of_2(vn->block_size) ||
            !QEMU_IS_ALIGNED(vn->region_size, vn->block_size)) {
            error_setg(errp, "'%s' must be a multiple of '%s' (0x%" PRIx64
                       "), a power of two, not 0x%" PRIx64,
                       VIRTIO_NUMA_REGION_SIZE_PROP,
                       VIRTIO_NUMA_BLOCK_SIZE_PROP, vn->block_size,
                       vn->region_size);
            return NULL;
        }
        vn->mr = g_new0(MemoryRegion, 1);
        memory_region_init(vn->mr, OBJECT(vn), "virtio-numa",
                           vn->region_size);
        /* Nodes are mapped at block_size multiples, and so is the region. */
        vn->mr->align = vn->block_size;
    }
    return vn->mr;
}

uint64_t virtio_numa_plugged_size(VirtIONuma *vn)
{
    uint64_t size = 0;
    unsigned int i;

    for (i = 0; i < MAX_NODES; i++) {
        size += vn->added[i].size;
    }
    return size;
}

/* Each added node is one memory slot; any node without boot memory may be. */
unsigned int virtio_numa_memslots(VirtIONuma *vn)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    unsigned int i, n = 0;

    for (i = 0; ms->numa_state && i < ms->numa_state->num_nodes; i++) {
        n += !ms->numa_state->nodes[i].node_mem;
    }
    return MAX(n, 1);
}

void virtio_numa_fill_device_info(VirtIONuma *vn, VirtioNUMADeviceInfo *vi)
{
    VirtioNUMADeviceNodeList **tail = &vi->nodes;
    unsigned int i;

    vi->memaddr = vn->addr;
    vi->region_size = vn->region_size;
    vi->block_size = vn->block_size;
    vi->size = virtio_numa_plugged_size(vn);
    for (i = 0; i < MAX_NODES; i++) {
        const VirtIONumaAdded *a = &vn->added[i];
        VirtioNUMADeviceNode *n;

        if (!a->memdev) {
            continue;
        }
        n = g_new0(VirtioNUMADeviceNode, 1);
        n->node = i;
        n->memdev = object_get_canonical_path(OBJECT(a->memdev));
        n->memaddr = vn->addr + a->offset;
        n->size = a->size;
        QAPI_LIST_APPEND(tail, n);
    }
}

bool virtio_numa_unplug_check(VirtIONuma *vn, Error **errp)
{
    if (virtio_numa_plugged_size(vn)) {
        error_setg(errp, "virtio-numa '%s' still has nodes added; remove "
                   "them first", virtio_numa_id(vn));
        return false;
    }
    return true;
}

/* The lowest offset in the region where @size bytes fit, or UINT64_MAX. */
static uint64_t virtio_numa_find_gap(VirtIONuma *vn, uint64_t size,
                                     uint64_t align)
{
    /* Aligned in guest-physical addresses: the region's own may be less. */
    uint64_t off = ROUND_UP(vn->addr, align) - vn->addr;
    unsigned int i;
    bool moved;

    do {
        moved = false;
        for (i = 0; i < MAX_NODES && off <= vn->region_size - size; i++) {
            const VirtIONumaAdded *a = &vn->added[i];

            if (a->memdev && off < a->offset + a->size &&
                a->offset < off + size) {
                off = ROUND_UP(vn->addr + a->offset + a->size, align) -
                      vn->addr;
                moved = true;
            }
        }
    } while (moved && off <= vn->region_size - size);
    return off <= vn->region_size - size ? off : UINT64_MAX;
}

/*
 * Take @be for the device: nothing else may map it or delete it, and its
 * RAM block migrates under the device's path and the backend's id (the
 * destination registers the backend of the same id there).
 */
static void virtio_numa_claim(VirtIONuma *vn, HostMemoryBackend *be)
{
    object_ref(OBJECT(be));
    host_memory_backend_set_mapped(be, true);
    vmstate_register_ram(host_memory_backend_get_memory(be), DEVICE(vn));
}

static void virtio_numa_release(VirtIONuma *vn, HostMemoryBackend *be)
{
    vmstate_unregister_ram(host_memory_backend_get_memory(be), DEVICE(vn));
    host_memory_backend_set_mapped(be, false);
    object_unref(OBJECT(be));
}

static void virtio_numa_unmap(VirtIONuma *vn, unsigned int node)
{
    VirtIONumaAdded *a = &vn->added[node];

    if (!a->memdev) {
        return;
    }
    memory_region_del_subregion(vn->mr,
                                host_memory_backend_get_memory(a->memdev));
    trace_virtio_numa_node_unmapped(virtio_numa_id(vn), node);
    virtio_numa_release(vn, a->memdev);
    memset(a, 0, sizeof(*a));
}

/* Map @be, claimed already, for @node at offset @off of the region. */
static void virtio_numa_map_claimed(VirtIONuma *vn, unsigned int node,
                                    HostMemoryBackend *be, uint64_t off)
{
    MemoryRegion *mr = host_memory_backend_get_memory(be);
    VirtIONumaAdded *a = &vn->added[node];

    a->memdev = be;
    a->offset = off;
    a->size = memory_region_size(mr);
    memory_region_add_subregion(vn->mr, off, mr);
    trace_virtio_numa_node_mapped(virtio_numa_id(vn), node, off, a->size);
}

static void virtio_numa_unexpect(VirtIONuma *vn, unsigned int node)
{
    if (vn->expected[node]) {
        virtio_numa_release(vn, vn->expected[node]);
        vn->expected[node] = NULL;
    }
}

/* Map @be for @node at the lowest free offset of the region. */
static bool virtio_numa_map(VirtIONuma *vn, unsigned int node,
                            HostMemoryBackend *be, Error **errp)
{
    MemoryRegion *mr = host_memory_backend_get_memory(be);
    uint64_t size = memory_region_size(mr);
    uint64_t align = MAX(MAX(vn->block_size, vn->report.add_unit),
                         memory_region_get_alignment(mr));
    uint64_t off;

    off = size <= vn->region_size ?
          virtio_numa_find_gap(vn, size, align) : UINT64_MAX;
    if (off == UINT64_MAX) {
        error_setg(errp, "virtio-numa '%s': no free 0x%" PRIx64 " bytes "
                   "left in its region of 0x%" PRIx64 " ('%s')",
                   virtio_numa_id(vn), size, vn->region_size,
                   VIRTIO_NUMA_REGION_SIZE_PROP);
        return false;
    }
    virtio_numa_claim(vn, be);
    virtio_numa_map_claimed(vn, node, be, off);
    return true;
}

/* A host memory backend that can become a node's memory, or NULL. */
static HostMemoryBackend *virtio_numa_backend(VirtIONuma *vn,
                                              const char *memdev,
                                              Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                memdev);
    HostMemoryBackend *be;
    MemoryRegion *mr;
    uint64_t size;

    be = obj ? (HostMemoryBackend *)object_dynamic_cast(obj,
                                                        TYPE_MEMORY_BACKEND)
             : NULL;
    if (!be) {
        error_setg(errp, "'memdev': '%s' is not a memory backend object",
                   memdev);
        return NULL;
    }
    /* The id names the backend on a migration's destination. */
    if (strlen(memdev) >= VIRTIO_NUMA_MEMDEV_ID_MAX) {
        error_setg(errp, "'memdev': the id of memory backend '%.32s...' is "
                   "longer than %d bytes", memdev,
                   VIRTIO_NUMA_MEMDEV_ID_MAX - 1);
        return NULL;
    }
    if (host_memory_backend_is_mapped(be)) {
        error_setg(errp, "'memdev': memory backend '%s' is in use", memdev);
        return NULL;
    }
    mr = host_memory_backend_get_memory(be);
    if (!mr || !memory_region_is_ram(mr) || memory_region_is_rom(mr) ||
        !mr->ram_block) {
        error_setg(errp, "'memdev': memory backend '%s' is not RAM", memdev);
        return NULL;
    }
    size = memory_region_size(mr);
    if (!size || !QEMU_IS_ALIGNED(size, vn->block_size)) {
        error_setg(errp, "'memdev': memory backend '%s' has 0x%" PRIx64
                   " bytes, not a multiple of the block size 0x%" PRIx64,
                   memdev, size, vn->block_size);
        return NULL;
    }
    return be;
}

/* Host node @node for NODE_ADD: declared, empty at boot, not added yet. */
static bool virtio_numa_check_add_node(VirtIONuma *vn, uint16_t node,
                                       Error **errp)
{
    MachineState *ms = MACHINE(qdev_get_machine());
    uint16_t max_nodes = virtio_numa_max_nodes();

    if (node >= max_nodes) {
        error_setg(errp, "'node' must be below %u (the -numa nodes), "
                   "not %u", max_nodes, node);
        return false;
    }
    if (ms->numa_state->nodes[node].node_mem) {
        error_setg(errp, "'node': node %u has boot memory", node);
        return false;
    }
    if (vn->added[node].memdev) {
        error_setg(errp, "'node': node %u was added already", node);
        return false;
    }
    if (vn->expected[node]) {
        error_setg(errp, "'node': node %u is expected from a "
                   "migration or snapshot (virtio-numa-node-expect)", node);
        return false;
    }
    return true;
}

/* Distances for DISTANCE_SET: to other nodes, each named once, in range. */
static bool virtio_numa_check_distances(VirtIONuma *vn, uint16_t node,
                                        const VirtioNumaDistanceList *dl,
                                        unsigned int *nr, Error **errp)
{
    const VirtioNumaDistanceList *l, *m;

    *nr = 0;
    for (l = dl; l; l = l->next, (*nr)++) {
        const VirtioNumaDistance *d = l->value;

        if (d->node >= virtio_numa_max_nodes() || d->node == node) {
            error_setg(errp, "'distances': node %u is not another "
                       "node below %u", d->node, virtio_numa_max_nodes());
            return false;
        }
        if (d->distance <= NUMA_DISTANCE_MIN ||
            d->distance >= NUMA_DISTANCE_UNREACHABLE) {
            error_setg(errp, "'distances': distance to node %u"
                       " must be %d to %d, not %u", d->node,
                       NUMA_DISTANCE_MIN + 1, NUMA_DISTANCE_UNREACHABLE - 1,
                       d->distance);
            return false;
        }
        for (m = dl; m != l; m = m->next) {
            if (m->value->node == d->node) {
                error_setg(errp, "'distances': node %u named twice",
                           d->node);
                return false;
            }
        }
    }
    if (*nr && !virtio_vdev_has_feature(VIRTIO_DEVICE(vn),
                                        VIRTIO_NUMA_F_DISTANCE)) {
        error_setg(errp, "'distances': the guest driver of virtio-numa '%s' "
                   "cannot set distances", virtio_numa_id(vn));
        return false;
    }
    return true;
}

/* vCPUs for CPU_ASSIGN: existing, each named once. */
static bool virtio_numa_check_cpus(VirtIONuma *vn, const uint32List *cpus,
                                   unsigned int *nr, Error **errp)
{
    const uint32List *l, *m;

    *nr = 0;
    for (l = cpus; l; l = l->next, (*nr)++) {
        if (!qemu_get_cpu(l->value)) {
            error_setg(errp, "'cpus': there is no vCPU with cpu-index %"
                       PRIu32, l->value);
            return false;
        }
        for (m = cpus; m != l; m = m->next) {
            if (m->value == l->value) {
                error_setg(errp, "'cpus': vCPU %" PRIu32 " named twice",
                           l->value);
                return false;
            }
        }
    }
    if (*nr && !virtio_vdev_has_feature(VIRTIO_DEVICE(vn),
                                        VIRTIO_NUMA_F_CPU_ASSIGN)) {
        error_setg(errp, "'cpus': the guest driver of virtio-numa '%s' "
                   "cannot move vCPUs", virtio_numa_id(vn));
        return false;
    }
    return true;
}

VirtioNumaNodeAddResult *qmp_virtio_numa_node_add(
    const char *id, uint16_t node, const char *memdev, bool has_cpus,
    uint32List *cpus, bool has_distances, VirtioNumaDistanceList *distances,
    Error **errp)
{
    struct virtio_numa_cmd_node_add add = {};
    g_autofree VirtioNumaCommandId *cid = NULL;
    VirtioNumaNodeAddResult *ret;
    unsigned int nr_cpus, nr_dist;
    VirtioNumaDistanceList *dl;
    uint64List **tail;
    HostMemoryBackend *be;
    uint64_t size;
    uint32List *l;
    VirtIONuma *vn;

    vn = virtio_numa_find_for_cmd(id, errp);
    if (!vn) {
        return NULL;
    }
    if (!vn->region_size) {
        error_setg(errp, "virtio-numa '%s' has no device memory: create it "
                   "with '%s'", id, VIRTIO_NUMA_REGION_SIZE_PROP);
        return NULL;
    }
    if (!virtio_vdev_has_feature(VIRTIO_DEVICE(vn),
                                 VIRTIO_NUMA_F_NODE_HOTPLUG)) {
        error_setg(errp, "virtio-numa '%s': the guest driver has not "
                   "accepted node hotplug (no driver, or one without it)",
                   id);
        return NULL;
    }
    if (!virtio_numa_check_add_node(vn, node, errp) ||
        !virtio_numa_check_cpus(vn, cpus, &nr_cpus, errp) ||
        !virtio_numa_check_distances(vn, node, distances, &nr_dist, errp)) {
        return NULL;
    }
    if (vn->queue_len + 1 + nr_cpus + 2 * nr_dist > VIRTIO_NUMA_QUEUE_MAX) {
        error_setg(errp, "virtio-numa '%s' has room for %u more commands, "
                   "not %u", id, VIRTIO_NUMA_QUEUE_MAX - vn->queue_len,
                   1 + nr_cpus + 2 * nr_dist);
        return NULL;
    }
    be = virtio_numa_backend(vn, memdev, errp);
    if (!be) {
        return NULL;
    }
    size = memory_region_size(host_memory_backend_get_memory(be));
    if (vn->report.add_unit && !QEMU_IS_ALIGNED(size, vn->report.add_unit)) {
        error_setg(errp, "'memdev': memory backend '%s' has 0x%" PRIx64
                   " bytes, not a multiple of the guest's unit of memory "
                   "it adds, 0x%" PRIx64 " ('guest-add-unit')", memdev, size,
                   vn->report.add_unit);
        return NULL;
    }
    if (!virtio_numa_map(vn, node, be, errp)) {
        return NULL;
    }

    add.node = cpu_to_le32(node);
    add.addr = cpu_to_le64(vn->addr + vn->added[node].offset);
    add.size = cpu_to_le64(vn->added[node].size);
    cid = virtio_numa_queue(vn, VIRTIO_NUMA_CMD_NODE_ADD, 0, &add,
                            sizeof(add));
    ret = g_new0(VirtioNumaNodeAddResult, 1);
    ret->command_id = cid->command_id;
    tail = &ret->cpu_command_ids;
    for (l = cpus; l; l = l->next) {
        struct virtio_numa_cmd_cpu_assign ca = {
            .node = cpu_to_le32(node),
            .cpu = cpu_to_le32(l->value),
        };
        g_autofree VirtioNumaCommandId *c =
            virtio_numa_queue(vn, VIRTIO_NUMA_CMD_CPU_ASSIGN, 0, &ca,
                              sizeof(ca));

        QAPI_LIST_APPEND(tail, c->command_id);
    }
    ret->has_cpu_command_ids = nr_cpus;
    /* Distances once the node is up; both directions, to the node first. */
    tail = &ret->distance_command_ids;
    for (dl = distances; dl; dl = dl->next) {
        struct virtio_numa_cmd_distance_set ds[2] = {
            { cpu_to_le32(dl->value->node), cpu_to_le32(node),
              cpu_to_le32(dl->value->distance) },
            { cpu_to_le32(node), cpu_to_le32(dl->value->node),
              cpu_to_le32(dl->value->distance) },
        };
        unsigned int i;

        for (i = 0; i < 2; i++) {
            g_autofree VirtioNumaCommandId *c =
                virtio_numa_queue(vn, VIRTIO_NUMA_CMD_DISTANCE_SET, 0,
                                  &ds[i], sizeof(ds[i]));

            QAPI_LIST_APPEND(tail, c->command_id);
        }
    }
    ret->has_distance_command_ids = nr_dist;
    return ret;
}

VirtioNumaCommandId *qmp_virtio_numa_node_remove(const char *id,
                                                 uint16_t node,
                                                 Error **errp)
{
    struct virtio_numa_cmd_node_remove rm = {};
    MachineState *ms = MACHINE(qdev_get_machine());
    VirtIONuma *vn;

    vn = virtio_numa_find_for_cmd(id, errp);
    if (!vn) {
        return NULL;
    }
    if (node >= virtio_numa_max_nodes()) {
        error_setg(errp, "'node' must be below %u (the -numa nodes), "
                   "not %u", virtio_numa_max_nodes(), node);
        return NULL;
    }
    if (ms->numa_state->nodes[node].node_mem) {
        error_setg(errp, "'node': node %u has boot memory, which "
                   "cannot be removed", node);
        return NULL;
    }
    if (!vn->added[node].memdev) {
        error_setg(errp, "'node': node %u was not added by "
                   "virtio-numa '%s'", node, id);
        return NULL;
    }
    rm.node = cpu_to_le32(node);
    return virtio_numa_queue(vn, VIRTIO_NUMA_CMD_NODE_REMOVE, 0, &rm,
                             sizeof(rm));
}

/*
 * Not a command for the guest: it readies this machine to take node
 * @node with backend @memdev from a migration stream or snapshot.  RAM's
 * load setup, which runs before any device state is read, only prepares
 * RAM blocks registered by then.
 */
/*
 * Whether the guest is gone for good, short of a reset: it shut down,
 * panicked or hit an internal error, and QEMU was told to stop there
 * (-no-shutdown, -action).  Its memory is no one's until the machine
 * resets, and the reset would unmap added nodes anyway.
 */
static bool virtio_numa_guest_gone(void)
{
    return runstate_check(RUN_STATE_SHUTDOWN) ||
           runstate_check(RUN_STATE_GUEST_PANICKED) ||
           runstate_check(RUN_STATE_INTERNAL_ERROR);
}

void qmp_virtio_numa_node_drop(const char *id, uint16_t node, Error **errp)
{
    VirtIONuma *vn = virtio_numa_find(id, errp);

    if (!vn) {
        return;
    }
    if (node >= MAX_NODES || !vn->added[node].memdev) {
        error_setg(errp, "'node': virtio-numa '%s' has no node %u added",
                   id, node);
        return;
    }
    /* A running (or only paused) guest may be using the memory. */
    if (!virtio_numa_guest_gone()) {
        error_setg(errp, "virtio-numa '%s': the guest may be using node "
                   "%u (the VM is %s): remove it with "
                   "virtio-numa-node-remove, or drop it once the guest is "
                   "gone (shut down, panicked or crashed)", id, node,
                   RunState_str(runstate_get()));
        return;
    }
    if (migration_is_running()) {
        error_setg(errp, "virtio-numa '%s' is busy: a migration is running",
                   id);
        return;
    }
    virtio_numa_unmap(vn, node);
}

void qmp_virtio_numa_node_expect(const char *id, uint16_t node,
                                 const char *memdev, Error **errp)
{
    VirtIONuma *vn = virtio_numa_find(id, errp);
    HostMemoryBackend *be;

    if (!vn) {
        return;
    }
    if (migration_is_running()) {
        error_setg(errp, "virtio-numa '%s' is busy: a migration is running",
                   id);
        return;
    }
    if (!vn->region_size) {
        error_setg(errp, "virtio-numa '%s' has no device memory: create it "
                   "with '%s'", id, VIRTIO_NUMA_REGION_SIZE_PROP);
        return;
    }
    if (!memdev) {
        if (node < MAX_NODES && vn->expected[node]) {
            virtio_numa_unexpect(vn, node);
            return;
        }
        error_setg(errp, "'node': node %u is not expected", node);
        return;
    }
    if (!virtio_numa_check_add_node(vn, node, errp)) {
        return;
    }
    be = virtio_numa_backend(vn, memdev, errp);
    if (!be) {
        return;
    }
    virtio_numa_claim(vn, be);
    vn->expected[node] = be;
}

/*
 * A command ended.  The guest took no memory of a NODE_ADD that did not
 * complete OK, and gave back a node's memory when NODE_REMOVE did: only
 * then is the backend unmapped.  A PARTIAL or FAILED removal leaves it.
 */
static void virtio_numa_cmd_ended(VirtIONuma *vn, const VirtIONumaCmd *cmd,
                                  uint16_t status)
{
    const struct virtio_numa_cmd_hdr *hdr = (const void *)cmd->buf;
    uint32_t node;

    if (cmd->type == VIRTIO_NUMA_CMD_NODE_ADD && status != VIRTIO_NUMA_S_OK) {
        const struct virtio_numa_cmd_node_add *add = (const void *)(hdr + 1);

        /*
         * Memory the guest had before: only FAILED says it has none now
         * (an old driver refuses the flag, and may still use it).
         */
        if ((le16_to_cpu(hdr->flags) & VIRTIO_NUMA_NODE_ADD_F_PRESENT) &&
            status != VIRTIO_NUMA_S_FAILED) {
            return;
        }
        node = le32_to_cpu(add->node);
        /* Injected bytes may name a node added by another command. */
        if (node >= MAX_NODES || !vn->added[node].memdev ||
            le64_to_cpu(add->addr) != vn->addr + vn->added[node].offset) {
            return;
        }
    } else if (cmd->type == VIRTIO_NUMA_CMD_NODE_REMOVE &&
               status == VIRTIO_NUMA_S_OK) {
        const struct virtio_numa_cmd_node_remove *rm =
            (const void *)(hdr + 1);

        node = le32_to_cpu(rm->node);
    } else {
        return;
    }
    if (node < MAX_NODES) {
        virtio_numa_unmap(vn, node);
    }
}

/*
 * The machine resets: the guest that used added nodes is gone, and the
 * next one boots with the nodes it had at boot and no driver yet.
 * Commands still queued were meant for the old guest; its report and the
 * report interval it was given describe a guest that no longer exists.
 * A wake-up from suspend to RAM is not such a reset: the guest and its
 * memory live on, and its driver restores itself.
 */
static void virtio_numa_system_reset_hold(Object *obj, ResetType type)
{
    VirtIONuma *vn = VIRTIO_NUMA_SYSTEM_RESET(obj)->vn;
    unsigned int i;

    trace_virtio_numa_system_reset(virtio_numa_id(vn), type);
    if (type == RESET_TYPE_WAKEUP) {
        return;
    }
    virtio_numa_cancel_all(vn);
    for (i = 0; i < MAX_NODES; i++) {
        virtio_numa_unmap(vn, i);
    }
    vn->report_interval_ms = 0;
    vn->reports = 0;
    vn->report_seq = 0;
    vn->page_shift = 0;
    vn->guest_nr_node_ids = 0;
    memset(&vn->report, 0, sizeof(vn->report));
}

static ResettableState *virtio_numa_system_reset_get_state(Object *obj)
{
    return &VIRTIO_NUMA_SYSTEM_RESET(obj)->reset_state;
}

static void virtio_numa_system_reset_class_init(ObjectClass *klass,
                                                void *data)
{
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    rc->get_state = virtio_numa_system_reset_get_state;
    rc->phases.hold = virtio_numa_system_reset_hold;
}

static const TypeInfo virtio_numa_system_reset_info = {
    .name = TYPE_VIRTIO_NUMA_SYSTEM_RESET,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(VirtIONumaSystemReset),
    .class_init = virtio_numa_system_reset_class_init,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_RESETTABLE_INTERFACE },
        { }
    },
};

/* --- virtio --- */

static void virtio_numa_get_config(VirtIODevice *vdev, uint8_t *config_data)
{
    VirtIONuma *vn = VIRTIO_NUMA(vdev);
    struct virtio_numa_config *config = (void *)config_data;

    memset(config, 0, sizeof(*config));
    config->block_size = cpu_to_le64(vn->block_size);
    config->region_addr = cpu_to_le64(vn->region_size ? vn->addr : 0);
    config->region_size = cpu_to_le64(vn->region_size);
    config->max_nodes = cpu_to_le16(virtio_numa_max_nodes());
    config->max_ranges = cpu_to_le16(VIRTIO_NUMA_MAX_RANGES);
    config->cancel_id = cpu_to_le64(vn->cancel_id);
}

static uint64_t virtio_numa_get_features(VirtIODevice *vdev, uint64_t features,
                                         Error **errp)
{
    VirtIONuma *vn = VIRTIO_NUMA(vdev);

    /* Nodes can be added only into device memory. */
    if (vn->region_size) {
        virtio_add_feature(&features, VIRTIO_NUMA_F_NODE_HOTPLUG);
    }
    virtio_add_feature(&features, VIRTIO_NUMA_F_RELAYOUT);
    virtio_add_feature(&features, VIRTIO_NUMA_F_CPU_ASSIGN);
    virtio_add_feature(&features, VIRTIO_NUMA_F_DISTANCE);
    virtio_add_feature(&features, VIRTIO_NUMA_F_PROGRESS);
    return features;
}

/*
 * A driver is ready after a reset: the nodes still mapped are the guest's
 * from before (an earlier driver added them, or a command the reset cut
 * off), and the new driver must know them to give them back.  Each goes
 * to it as a NODE_ADD with PRESENT, ahead of anything else.
 */
static void virtio_numa_present_nodes(VirtIONuma *vn)
{
    unsigned int i;

    if (!virtio_vdev_has_feature(VIRTIO_DEVICE(vn),
                                 VIRTIO_NUMA_F_NODE_HOTPLUG)) {
        return;
    }
    for (i = 0; i < MAX_NODES; i++) {
        const VirtIONumaAdded *a = &vn->added[i];
        struct virtio_numa_cmd_node_add add = {
            .node = cpu_to_le32(i),
            .addr = cpu_to_le64(vn->addr + a->offset),
            .size = cpu_to_le64(a->size),
        };

        if (!a->memdev) {
            continue;
        }
        /* A reset left the queue empty: room for 32 nodes. */
        if (vn->queue_len == VIRTIO_NUMA_QUEUE_MAX) {
            warn_report("virtio-numa '%s': no room to tell the driver about "
                        "node %u", virtio_numa_id(vn), i);
            continue;
        }
        g_free(virtio_numa_queue(vn, VIRTIO_NUMA_CMD_NODE_ADD,
                                 VIRTIO_NUMA_NODE_ADD_F_PRESENT, &add,
                                 sizeof(add)));
    }
}

static void virtio_numa_set_status(VirtIODevice *vdev, uint8_t status)
{
    /* vdev->status is still the old one. */
    if ((status & VIRTIO_CONFIG_S_DRIVER_OK) &&
        !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        virtio_numa_present_nodes(VIRTIO_NUMA(vdev));
    }
    if (status & VIRTIO_CONFIG_S_DRIVER_OK) {
        virtio_numa_send_next(VIRTIO_NUMA(vdev));
    }
}

/*
 * The device is reset: by the guest when a driver binds, unbinds or
 * suspends, and as part of a machine reset.  Commands in flight or queued
 * end as cancelled with the driver they were for (a new driver starts
 * with nothing to do), and the report interval was that driver's.  Added
 * nodes stay mapped: the guest may still be using their memory.
 */
static void virtio_numa_reset(VirtIODevice *vdev)
{
    VirtIONuma *vn = VIRTIO_NUMA(vdev);

    virtio_numa_cancel_all(vn);
    vn->report_interval_ms = 0;
}

static void virtio_numa_device_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIONuma *vn = VIRTIO_NUMA(dev);
    uint16_t max_nodes = virtio_numa_max_nodes();

    if (!max_nodes) {
        error_setg(errp, "'%s' needs a NUMA machine: give -numa node options",
                   TYPE_VIRTIO_NUMA);
        return;
    }
    if (!is_power_of_2(vn->block_size) ||
        vn->block_size < qemu_real_host_page_size()) {
        error_setg(errp, "'%s' property must be a power of two of at least "
                   "the host page size (%zu), not %" PRIu64,
                   VIRTIO_NUMA_BLOCK_SIZE_PROP, qemu_real_host_page_size(),
                   vn->block_size);
        return;
    }

    if (vn->region_size && !vn->mr) {
        error_setg(errp, "'%s' needs the device plugged as a memory device "
                   "(on a machine with 'maxmem')",
                   VIRTIO_NUMA_REGION_SIZE_PROP);
        return;
    }

    virtio_init(vdev, VIRTIO_ID_NUMA, sizeof(struct virtio_numa_config));
    vn->cmd_vq = virtio_add_queue(vdev, VIRTIO_NUMA_QUEUE_SIZE,
                                  virtio_numa_handle_cmd);
    vn->event_vq = virtio_add_queue(vdev, VIRTIO_NUMA_QUEUE_SIZE,
                                    virtio_numa_handle_event);
    vmstate_register_any(VMSTATE_IF(vn), &vmstate_virtio_numa_early, vn);
    vn->system_reset = VIRTIO_NUMA_SYSTEM_RESET(
        object_new(TYPE_VIRTIO_NUMA_SYSTEM_RESET));
    vn->system_reset->vn = vn;
    qemu_register_resettable(OBJECT(vn->system_reset));
}

static void virtio_numa_device_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIONuma *vn = VIRTIO_NUMA(dev);
    unsigned int i;

    qemu_unregister_resettable(OBJECT(vn->system_reset));
    object_unref(OBJECT(vn->system_reset));
    vmstate_unregister(VMSTATE_IF(vn), &vmstate_virtio_numa_early, vn);
    /* Stops and joins a host move; its command is cancelled below. */
    virtio_numa_move_free(vn->move);
    vn->move = NULL;
    /*
     * The guest let the device go (or it never had a driver): commands
     * end, and added nodes, which only an ejected-without-remove guest
     * could still hold, are unmapped so their backends can go.
     */
    virtio_numa_cancel_all(vn);
    for (i = 0; i < MAX_NODES; i++) {
        virtio_numa_unmap(vn, i);
        virtio_numa_unexpect(vn, i);
    }
    virtio_delete_queue(vn->cmd_vq);
    virtio_delete_queue(vn->event_vq);
    virtio_cleanup(vdev);
}

/* The core unreferenced the container when the device was unplugged. */
static void virtio_numa_instance_finalize(Object *obj)
{
    g_free(VIRTIO_NUMA(obj)->mr);
}

/* The stream is input too: refuse indices and sizes we could not use. */
static int virtio_numa_post_load(void *opaque, int version_id)
{
    VirtIONuma *vn = opaque;
    unsigned int i;

    if (vn->queue_head >= VIRTIO_NUMA_QUEUE_MAX ||
        vn->queue_len > VIRTIO_NUMA_QUEUE_MAX ||
        (vn->in_flight && !vn->queue_len) ||
        vn->done_next >= VIRTIO_NUMA_HISTORY ||
        vn->done_count > VIRTIO_NUMA_HISTORY ||
        (vn->reports && (vn->page_shift < 12 || vn->page_shift > 30)) ||
        (vn->cancel_id && (!vn->in_flight ||
                           vn->cancel_id != vn->queue[vn->queue_head].id))) {
        return -EINVAL;
    }
    for (i = 0; i < VIRTIO_NUMA_QUEUE_MAX; i++) {
        if (vn->queue[i].size > VIRTIO_NUMA_CMD_MAX_SIZE) {
            return -EINVAL;
        }
    }
    for (i = 0; i < VIRTIO_NUMA_HISTORY; i++) {
        if (vn->done[i].field >= VIRTIO_NUMA_QAPI_FIELD__MAX ||
            vn->done[i].status > VIRTIO_NUMA_STATUS_CANCELLED) {
            return -EINVAL;
        }
    }
    return 0;
}

/* --- Added nodes, migrated ahead of RAM --- */

static int virtio_numa_pre_save_early(void *opaque)
{
    VirtIONuma *vn = opaque;
    unsigned int i;

    vn->mig_nr_nodes = 0;
    for (i = 0; i < MAX_NODES; i++) {
        const VirtIONumaAdded *a = &vn->added[i];
        VirtIONumaMigNode *m;

        if (!a->memdev) {
            continue;
        }
        m = &vn->mig_nodes[vn->mig_nr_nodes++];
        memset(m, 0, sizeof(*m));
        m->node = i;
        m->offset = a->offset;
        m->size = a->size;
        /* virtio_numa_backend() refused longer ids. */
        pstrcpy((char *)m->memdev, sizeof(m->memdev),
                object_get_canonical_path_component(OBJECT(a->memdev)));
    }
    return 0;
}

static bool virtio_numa_mig_nr_ok(void *opaque, int version_id)
{
    return ((VirtIONuma *)opaque)->mig_nr_nodes <= MAX_NODES;
}

/*
 * The backend named by the source for added node @m, if RAM's load setup
 * has seen its RAM block: one management expected for that node, or one
 * mapped here already (a snapshot loaded over a running machine).
 */
static HostMemoryBackend *virtio_numa_mig_backend(VirtIONuma *vn,
                                                  const VirtIONumaMigNode *m,
                                                  Error **errp)
{
    const char *memdev = (const char *)m->memdev;
    unsigned int i;

    for (i = 0; i < MAX_NODES; i++) {
        HostMemoryBackend *be = vn->expected[i] ? vn->expected[i] :
                                vn->added[i].memdev;

        if (!be ||
            strcmp(object_get_canonical_path_component(OBJECT(be)), memdev)) {
            continue;
        }
        if (vn->expected[i] && i != m->node) {
            error_setg(errp, "memory backend '%s' was expected for node %u",
                       memdev, i);
            return NULL;
        }
        return be;
    }
    error_setg(errp, "memory backend '%s' was not expected: create it and "
               "run virtio-numa-node-expect before the migration or "
               "snapshot-load", memdev);
    return NULL;
}

/*
 * One added node from the source (@m, the @nr-th): a node we may add, a
 * place in the region that no other of the source's nodes takes, and a
 * backend of that id and size made ready for it.  Returns the backend,
 * or NULL with @errp set.
 */
static HostMemoryBackend *virtio_numa_check_mig_node(VirtIONuma *vn,
                                                     unsigned int nr,
                                                     Error **errp)
{
    const VirtIONumaMigNode *m = &vn->mig_nodes[nr];
    HostMemoryBackend *be;
    uint64_t size;
    unsigned int i;

    if (!memchr(m->memdev, 0, sizeof(m->memdev))) {
        error_setg(errp, "its backend's id is not terminated");
        return NULL;
    }
    if (m->node >= virtio_numa_max_nodes() ||
        MACHINE(qdev_get_machine())->numa_state->nodes[m->node].node_mem) {
        error_setg(errp, "not a node this machine can add (it has %u -numa "
                   "nodes)", virtio_numa_max_nodes());
        return NULL;
    }
    if (!m->size || !QEMU_IS_ALIGNED(m->offset | m->size, vn->block_size) ||
        m->offset > vn->region_size || m->size > vn->region_size - m->offset) {
        error_setg(errp, "[0x%" PRIx64 ", +0x%" PRIx64 ") does not fit the "
                   "region of 0x%" PRIx64 " bytes here ('%s')", m->offset,
                   m->size, vn->region_size, VIRTIO_NUMA_REGION_SIZE_PROP);
        return NULL;
    }
    for (i = 0; i < nr; i++) {
        const VirtIONumaMigNode *o = &vn->mig_nodes[i];

        if (o->node == m->node) {
            error_setg(errp, "sent twice");
            return NULL;
        }
        if (!strcmp((const char *)o->memdev, (const char *)m->memdev)) {
            error_setg(errp, "its memory backend '%s' is node %u's too",
                       (const char *)m->memdev, o->node);
            return NULL;
        }
        if (m->offset < o->offset + o->size &&
            o->offset < m->offset + m->size) {
            error_setg(errp, "overlaps node %u in the region", o->node);
            return NULL;
        }
    }
    be = virtio_numa_mig_backend(vn, m, errp);
    if (!be) {
        return NULL;
    }
    size = memory_region_size(host_memory_backend_get_memory(be));
    if (size != m->size) {
        error_setg(errp, "memory backend '%s' has 0x%" PRIx64 " bytes here, "
                   "0x%" PRIx64 " on the source", (const char *)m->memdev,
                   size, m->size);
        return NULL;
    }
    return be;
}

/*
 * The source's added nodes arrive before any RAM, after RAM's load
 * setup: map the backends management made ready here under the same ids
 * (expected, or mapped already), at the same places.  Everything is
 * checked before anything changes; a mismatch fails the migration,
 * naming the node and what differs.
 */
static int virtio_numa_post_load_early(void *opaque, int version_id)
{
    VirtIONuma *vn = opaque;
    HostMemoryBackend *be[MAX_NODES];
    Error *err = NULL;
    unsigned int i, j;

    if (vn->mig_nr_nodes && !vn->region_size) {
        error_report("virtio-numa '%s': the source has %u nodes added, and "
                     "this device has no '%s'", virtio_numa_id(vn),
                     vn->mig_nr_nodes, VIRTIO_NUMA_REGION_SIZE_PROP);
        return -EINVAL;
    }
    for (i = 0; i < vn->mig_nr_nodes; i++) {
        be[i] = virtio_numa_check_mig_node(vn, i, &err);
        if (!be[i]) {
            error_reportf_err(err, "virtio-numa '%s': cannot take node %u "
                              "added on the migration source: ",
                              virtio_numa_id(vn), vn->mig_nodes[i].node);
            return -EINVAL;
        }
    }
    for (i = 0; i < MAX_NODES; i++) {
        for (j = 0; vn->expected[i] && j < vn->mig_nr_nodes; j++) {
            if (vn->mig_nodes[j].node == i) {
                break;
            }
        }
        if (vn->expected[i] && j == vn->mig_nr_nodes) {
            error_report("virtio-numa '%s': node %u was expected, and the "
                         "migration source has not added it",
                         virtio_numa_id(vn), i);
            return -EINVAL;
        }
    }

    /*
     * The expected backends, claimed already, become added nodes; of the
     * nodes mapped here, those whose backend the source names too keep
     * their claim (their RAM blocks stay registered).
     */
    for (i = 0; i < MAX_NODES; i++) {
        HostMemoryBackend *old = vn->added[i].memdev;

        vn->expected[i] = NULL;
        if (!old) {
            continue;
        }
        memory_region_del_subregion(vn->mr,
                                    host_memory_backend_get_memory(old));
        for (j = 0; j < vn->mig_nr_nodes && be[j] != old; j++) {
            /* look for it */
        }
        if (j == vn->mig_nr_nodes) {
            virtio_numa_release(vn, old);
        }
        memset(&vn->added[i], 0, sizeof(vn->added[i]));
    }
    for (i = 0; i < vn->mig_nr_nodes; i++) {
        virtio_numa_map_claimed(vn, vn->mig_nodes[i].node, be[i],
                                vn->mig_nodes[i].offset);
    }
    return 0;
}

static const VMStateDescription vmstate_virtio_numa_mig_node = {
    .name = "virtio-numa-node",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(node, VirtIONumaMigNode),
        VMSTATE_UINT64(offset, VirtIONumaMigNode),
        VMSTATE_UINT64(size, VirtIONumaMigNode),
        VMSTATE_BUFFER(memdev, VirtIONumaMigNode),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * Sent in the setup phase, and ahead of RAM's own setup (the priority):
 * the destination must have mapped the backends before RAM migration
 * names their RAM blocks.  No command can change them meanwhile: they
 * are refused while a migration runs.
 */
static const VMStateDescription vmstate_virtio_numa_early = {
    .name = "virtio-numa-early",
    .version_id = 1,
    .minimum_version_id = 1,
    .early_setup = true,
    .priority = MIG_PRI_VIRTIO_MEM,
    .pre_save = virtio_numa_pre_save_early,
    .post_load = virtio_numa_post_load_early,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(mig_nr_nodes, VirtIONuma),
        VMSTATE_VALIDATE("added nodes at most MAX_NODES",
                         virtio_numa_mig_nr_ok),
        VMSTATE_STRUCT_VARRAY_UINT32(mig_nodes, VirtIONuma, mig_nr_nodes, 1,
                                     vmstate_virtio_numa_mig_node,
                                     VirtIONumaMigNode),
        VMSTATE_END_OF_LIST()
    },
};

/* A command's host move, done (a running move blocks migration). */
static const VMStateDescription vmstate_virtio_numa_host_moved = {
    .name = "virtio-numa-host-moved",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_BOOL(valid, VirtIONumaHostMoved),
        VMSTATE_INT32(error, VirtIONumaHostMoved),
        VMSTATE_UINT64(size, VirtIONumaHostMoved),
        VMSTATE_UINT64(moved, VirtIONumaHostMoved),
        VMSTATE_UINT64(on_nodes, VirtIONumaHostMoved),
        VMSTATE_UINT64(elsewhere, VirtIONumaHostMoved),
        VMSTATE_UINT64(not_resident, VirtIONumaHostMoved),
        VMSTATE_UINT64(duration_us, VirtIONumaHostMoved),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_numa_cmd = {
    .name = "virtio-numa-cmd",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(id, VirtIONumaCmd),
        VMSTATE_UINT16(type, VirtIONumaCmd),
        VMSTATE_UINT32(size, VirtIONumaCmd),
        VMSTATE_UINT8_ARRAY(buf, VirtIONumaCmd, VIRTIO_NUMA_CMD_MAX_SIZE),
        VMSTATE_STRUCT(host, VirtIONumaCmd, 1, vmstate_virtio_numa_host_moved,
                       VirtIONumaHostMoved),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_numa_done = {
    .name = "virtio-numa-done",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(id, VirtIONumaDone),
        VMSTATE_UINT16(type, VirtIONumaDone),
        VMSTATE_UINT16(status, VirtIONumaDone),
        VMSTATE_UINT16(field, VirtIONumaDone),
        VMSTATE_UINT32(detail, VirtIONumaDone),
        VMSTATE_STRUCT(host, VirtIONumaDone, 1,
                       vmstate_virtio_numa_host_moved, VirtIONumaHostMoved),
        VMSTATE_END_OF_LIST()
    },
};

static bool virtio_numa_units_needed(void *opaque)
{
    VirtIONuma *vn = VIRTIO_NUMA(opaque);

    return vn->report.relayout_unit || vn->report.add_unit;
}

/* As virtio_numa_check_unit() would have accepted them, or not reported. */
static int virtio_numa_units_post_load(void *opaque, int version_id)
{
    VirtIONuma *vn = VIRTIO_NUMA(opaque);
    const uint64_t units[] = { vn->report.relayout_unit, vn->report.add_unit };
    unsigned int i;

    for (i = 0; i < ARRAY_SIZE(units); i++) {
        if (units[i] && !virtio_numa_unit_ok(units[i], vn->page_shift)) {
            error_report("virtio-numa %s: migrated guest unit 0x%" PRIx64
                         " is not a power of two between a page and the RAM",
                         virtio_numa_id(vn), units[i]);
            return -EINVAL;
        }
    }
    return 0;
}

/* The guest's units from its last report (tags RELAYOUT_UNIT, ADD_UNIT). */
static const VMStateDescription vmstate_virtio_numa_units = {
    .name = "virtio-numa-device/guest-units",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = virtio_numa_units_needed,
    .post_load = virtio_numa_units_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(report.relayout_unit, VirtIONuma),
        VMSTATE_UINT64(report.add_unit, VirtIONuma),
        VMSTATE_END_OF_LIST()
    },
};

static bool virtio_numa_cancel_needed(void *opaque)
{
    return VIRTIO_NUMA(opaque)->cancel_id;
}

/* A cancel the guest was asked for: the destination's config says it too. */
static const VMStateDescription vmstate_virtio_numa_cancel = {
    .name = "virtio-numa-device/cancel",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = virtio_numa_cancel_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(cancel_id, VirtIONuma),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_numa_device = {
    .name = "virtio-numa-device",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = virtio_numa_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(next_id, VirtIONuma),
        VMSTATE_STRUCT_ARRAY(queue, VirtIONuma, VIRTIO_NUMA_QUEUE_MAX, 1,
                             vmstate_virtio_numa_cmd, VirtIONumaCmd),
        VMSTATE_UINT32(queue_head, VirtIONuma),
        VMSTATE_UINT32(queue_len, VirtIONuma),
        VMSTATE_BOOL(in_flight, VirtIONuma),
        VMSTATE_STRUCT_ARRAY(done, VirtIONuma, VIRTIO_NUMA_HISTORY, 1,
                             vmstate_virtio_numa_done, VirtIONumaDone),
        VMSTATE_UINT32(done_next, VirtIONuma),
        VMSTATE_UINT32(done_count, VirtIONuma),
        VMSTATE_UINT32(report_interval_ms, VirtIONuma),
        VMSTATE_UINT64(reports, VirtIONuma),
        VMSTATE_UINT64(bogus_events, VirtIONuma),
        VMSTATE_UINT64(report_seq, VirtIONuma),
        VMSTATE_UINT16(page_shift, VirtIONuma),
        VMSTATE_UINT16(guest_nr_node_ids, VirtIONuma),
        VMSTATE_BOOL_ARRAY(report.reported, VirtIONuma, MAX_NODES),
        VMSTATE_UINT64_2DARRAY(report.values, VirtIONuma, MAX_NODES,
                               VIRTIO_NUMA_NR_TAGS),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_virtio_numa_cancel,
        &vmstate_virtio_numa_units,
        NULL
    },
};

static const VMStateDescription vmstate_virtio_numa = {
    .name = "virtio-numa",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_VIRTIO_DEVICE,
        VMSTATE_END_OF_LIST()
    },
};

static const Property virtio_numa_properties[] = {
    DEFINE_PROP_SIZE(VIRTIO_NUMA_BLOCK_SIZE_PROP, VirtIONuma, block_size,
                     VIRTIO_NUMA_DEFAULT_BLOCK_SIZE),
    DEFINE_PROP_BOOL(VIRTIO_NUMA_ALLOW_INJECT_PROP, VirtIONuma, allow_inject,
                     false),
    DEFINE_PROP_UINT64(VIRTIO_NUMA_ADDR_PROP, VirtIONuma, addr, 0),
    DEFINE_PROP_SIZE(VIRTIO_NUMA_REGION_SIZE_PROP, VirtIONuma, region_size, 0),
};

static void virtio_numa_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    device_class_set_props(dc, virtio_numa_properties);
    dc->vmsd = &vmstate_virtio_numa;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    vdc->realize = virtio_numa_device_realize;
    vdc->unrealize = virtio_numa_device_unrealize;
    vdc->get_config = virtio_numa_get_config;
    vdc->get_features = virtio_numa_get_features;
    vdc->set_status = virtio_numa_set_status;
    vdc->reset = virtio_numa_reset;
    vdc->vmsd = &vmstate_virtio_numa_device;
}

static const TypeInfo virtio_numa_type_info = {
    .name = TYPE_VIRTIO_NUMA,
    .parent = TYPE_VIRTIO_DEVICE,
    .instance_size = sizeof(VirtIONuma),
    .instance_finalize = virtio_numa_instance_finalize,
    .class_init = virtio_numa_class_init,
};

static void virtio_numa_register_types(void)
{
    type_register_static(&virtio_numa_type_info);
    type_register_static(&virtio_numa_system_reset_info);
}

type_init(virtio_numa_register_types)
