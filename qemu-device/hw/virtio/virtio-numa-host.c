/*
 * Virtio NUMA device: the host memory behind guest ranges
 *
 * A relayout tells the guest that a range of its memory belongs to
 * another node; the host memory behind the range should then be that
 * node's too.  A host move binds the host mapping of guest-physical
 * ranges to host nodes and moves the pages already there
 * (mbind(MPOL_BIND, MPOL_MF_MOVE)).  It runs in a thread, a chunk at a
 * time, so that it shows progress and stops when cancelled; the main
 * loop learns that it ended from a bottom half.  Where the pages of a
 * range really are is counted with move_pages(2) (a query: no node
 * given, nothing moves).
 *
 * Everything that can refuse a move is checked before anything changes:
 * pages another process maps, guest_memfd memory and pinned memory do
 * not move, so their ranges are refused, naming the backend.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "exec/address-spaces.h"
#include "exec/cpu-common.h"
#include "exec/memory.h"
#include "hw/virtio/virtio-numa.h"
#include "migration/blocker.h"
#include "system/hostmem.h"
#include "trace.h"

#ifdef CONFIG_NUMA
#include <numaif.h>
#endif

/* Moved per mbind() call: the unit of progress and of cancelling. */
#define VIRTIO_NUMA_MOVE_CHUNK (32 * MiB)
/* Pages asked per move_pages() call when counting. */
#define VIRTIO_NUMA_COUNT_BATCH 1024
/* The most pages of one range a query looks at. */
#define VIRTIO_NUMA_QUERY_SAMPLES 65536

/* The name of the memory a region is, for messages. */
static const char *virtio_numa_mr_name(MemoryRegion *mr)
{
    Object *owner = memory_region_owner(mr);

    if (owner && object_dynamic_cast(owner, TYPE_MEMORY_BACKEND)) {
        return object_get_canonical_path_component(owner);
    }
    return memory_region_name(mr);
}

bool virtio_numa_host_nodes(const uint16List *list, const char *what,
                            unsigned long *mask, Error **errp)
{
#ifdef CONFIG_NUMA
    unsigned long allowed[BITS_TO_LONGS(MAX_NODES + 1)] = {};
    const uint16List *l;

    if (!list) {
        error_setg(errp, "'%s' must name at least one host node", what);
        return false;
    }
    /* The nodes our cpuset lets us use; the kernel refuses others. */
    if (get_mempolicy(NULL, allowed, MAX_NODES + 1, NULL,
                      MPOL_F_MEMS_ALLOWED)) {
        error_setg_errno(errp, errno, "cannot read the host nodes QEMU "
                         "may use");
        return false;
    }
    bitmap_zero(mask, MAX_NODES + 1);
    for (l = list; l; l = l->next) {
        if (l->value >= MAX_NODES || !test_bit(l->value, allowed)) {
            error_setg(errp, "'%s': host node %u is not a node this QEMU "
                       "may use", what, l->value);
            return false;
        }
        set_bit(l->value, mask);
    }
    return true;
#else
    error_setg(errp, "'%s': this QEMU was built without NUMA support "
               "(libnuma)", what);
    return false;
#endif
}

/*
 * Add guest-physical [addr, addr + size) to @m as pieces of host
 * memory, checking that each can move.  The caller checked that the
 * range is all RAM.
 */
static bool virtio_numa_move_add(VirtIONumaMove *m, unsigned int i,
                                 uint64_t addr, uint64_t size,
                                 const unsigned long *nodes, Error **errp)
{
    uint64_t off = 0;

    while (off < size) {
        MemoryRegionSection mrs = memory_region_find(get_system_memory(),
                                                     addr + off, size - off);
        MemoryRegion *mr = mrs.mr;
        VirtIONumaMovePiece p = {};
        uint64_t len;

        if (!mr || !int128_nz(mrs.size) || !mr->ram_block ||
            !memory_region_is_ram(mr) || memory_region_is_ram_device(mr)) {
            error_setg(errp, "'ranges[%u]' 0x%" PRIx64 " is not guest RAM",
                       i, addr + off);
            goto fail;
        }
        len = int128_get64(mrs.size);
        if (memory_region_has_guest_memfd(mr)) {
            error_setg(errp, "'ranges[%u]': the memory of '%s' is "
                       "guest_memfd memory, which the host cannot move", i,
                       virtio_numa_mr_name(mr));
            goto fail;
        }
        if (qemu_ram_is_shared(mr->ram_block)) {
            error_setg(errp, "'ranges[%u]': the memory of '%s' is shared "
                       "(share=on): another process (vhost-user, a second "
                       "QEMU) may map it, and pages it maps do not move", i,
                       virtio_numa_mr_name(mr));
            goto fail;
        }
        p.pagesize = qemu_ram_pagesize(mr->ram_block);
        p.host = (uint8_t *)memory_region_get_ram_ptr(mr) +
                 mrs.offset_within_region;
        if (!QEMU_PTR_IS_ALIGNED(p.host, p.pagesize) ||
            !QEMU_IS_ALIGNED(len, p.pagesize)) {
            error_setg(errp, "'ranges[%u]' 0x%" PRIx64 "+0x%" PRIx64 " is "
                       "not a whole number of the host pages (0x%zx) of "
                       "'%s'", i, addr + off, len, p.pagesize,
                       virtio_numa_mr_name(mr));
            goto fail;
        }
        p.mr = mr;      /* keeps the reference memory_region_find took */
        p.len = len;
        bitmap_copy(p.nodes, nodes, MAX_NODES + 1);
        g_array_append_val(m->pieces, p);
        m->total += len;
        off += len;
        continue;
fail:
        if (mr) {
            memory_region_unref(mr);
        }
        return false;
    }
    return true;
}

VirtIONumaMove *virtio_numa_move_new(const VirtIONumaMoveRange *r,
                                     unsigned int nr, Error **errp)
{
    VirtIONumaMove *m = g_new0(VirtIONumaMove, 1);
    unsigned int i;

    m->pieces = g_array_new(false, false, sizeof(VirtIONumaMovePiece));
    /* Pinned pages do not move; with discard disabled, something pins. */
    if (ram_block_discard_is_disabled()) {
        error_setg(errp, "guest memory is pinned (a device such as "
                   "vfio-pci disabled RAM discard), and pinned pages do not "
                   "move");
        goto fail;
    }
    for (i = 0; i < nr; i++) {
        if (!virtio_numa_move_add(m, r[i].index, r[i].addr, r[i].size,
                                  r[i].nodes, errp)) {
            goto fail;
        }
    }
    return m;
fail:
    virtio_numa_move_free(m);
    return NULL;
}

#ifdef CONFIG_NUMA
/*
 * Count where the pages of [host, host + len) are, looking at every
 * @stride'th page and weighing it for the pages up to the next one.
 */
static void virtio_numa_count(uint8_t *host, uint64_t len, size_t pagesize,
                              uint64_t stride, VirtIONumaResidency *res)
{
    void *pages[VIRTIO_NUMA_COUNT_BATCH];
    uint64_t weight[VIRTIO_NUMA_COUNT_BATCH];
    int status[VIRTIO_NUMA_COUNT_BATCH];
    uint64_t npages = len / pagesize, i = 0;

    while (i < npages) {
        unsigned int n = 0, k;

        for (; n < VIRTIO_NUMA_COUNT_BATCH && i < npages; n++, i += stride) {
            pages[n] = host + i * pagesize;
            weight[n] = MIN(stride, npages - i) * pagesize;
        }
        if (move_pages(0, n, pages, NULL, status, 0)) {
            for (k = 0; k < n; k++) {
                status[k] = -errno;
            }
        }
        for (k = 0; k < n; k++) {
            if (status[k] >= 0 && status[k] < MAX_NODES) {
                res->node_bytes[status[k]] += weight[k];
            } else {
                res->not_resident += weight[k];
            }
        }
    }
}
#endif

/* Bytes of @res on the nodes of @nodes. */
static uint64_t virtio_numa_on_nodes(const VirtIONumaResidency *res,
                                     const unsigned long *nodes)
{
    uint64_t sum = 0;
    unsigned int n;

    for (n = 0; n < MAX_NODES; n++) {
        if (test_bit(n, nodes)) {
            sum += res->node_bytes[n];
        }
    }
    return sum;
}

static void *virtio_numa_move_thread(void *opaque)
{
    VirtIONumaMove *m = opaque;
    int64_t start = get_clock();
    unsigned int i;

#ifdef CONFIG_NUMA
    for (i = 0; i < m->pieces->len; i++) {
        VirtIONumaMovePiece *p = &g_array_index(m->pieces,
                                                VirtIONumaMovePiece, i);
        VirtIONumaResidency before = {}, after = {};
        uint64_t off, chunk = ROUND_UP(VIRTIO_NUMA_MOVE_CHUNK, p->pagesize);
        uint64_t on, on_before;

        virtio_numa_count(p->host, p->len, p->pagesize, 1, &before);
        for (off = 0; off < p->len && !m->result.error; off += chunk) {
            uint64_t len = MIN(chunk, p->len - off);

            if (qatomic_read(&m->cancel)) {
                break;
            }
            /*
             * STRICT: EIO says some pages did not move (in use by the
             * kernel, mapped elsewhere); the count below says how many.
             * maxnode is one more than the bits, as in hostmem.c.
             */
            if (mbind(p->host + off, len, MPOL_BIND, p->nodes,
                      MAX_NODES + 1, MPOL_MF_MOVE | MPOL_MF_STRICT) &&
                errno != EIO) {
                m->result.error = errno;
            }
            qatomic_add(&m->done, len);
        }
        virtio_numa_count(p->host, p->len, p->pagesize, 1, &after);
        on = virtio_numa_on_nodes(&after, p->nodes);
        on_before = virtio_numa_on_nodes(&before, p->nodes);
        m->result.on_nodes += on;
        m->result.elsewhere += p->len - after.not_resident - on;
        m->result.not_resident += after.not_resident;
        m->result.moved += on - MIN(on, on_before);
        if (m->result.error || qatomic_read(&m->cancel)) {
            break;
        }
    }
#else
    m->result.error = ENOSYS;
#endif
    m->result.size = qatomic_read(&m->done);
    m->result.duration_us = (get_clock() - start) / 1000;
    m->result.valid = true;
    qemu_bh_schedule(m->bh);
    return NULL;
}

/* In the main loop: the thread has ended. */
static void virtio_numa_move_bh(void *opaque)
{
    VirtIONumaMove *m = opaque;

    qemu_thread_join(&m->thread);
    m->running = false;
    trace_virtio_numa_move_end(m->cmd_id, m->result.size, m->result.moved,
                               m->result.elsewhere, m->result.duration_us,
                               m->result.error);
    m->ended(m->opaque, m);
}

bool virtio_numa_move_start(VirtIONumaMove *m, DeviceState *dev,
                            uint64_t cmd_id, uint16_t type,
                            void (*ended)(void *, VirtIONumaMove *),
                            void *opaque, Error **errp)
{
    /* A migration would take the command along without its move. */
    error_setg(&m->blocker, "virtio-numa: host memory of command %" PRIu64
               " is being moved", cmd_id);
    if (migrate_add_blocker(&m->blocker, errp) < 0) {
        return false;
    }
    m->cmd_id = cmd_id;
    m->type = type;
    m->ended = ended;
    m->opaque = opaque;
    m->bh = qemu_bh_new_guarded(virtio_numa_move_bh, m,
                                &dev->mem_reentrancy_guard);
    m->running = true;
    trace_virtio_numa_move_start(cmd_id, m->total);
    qemu_thread_create(&m->thread, "virtio-numa-move",
                       virtio_numa_move_thread, m, QEMU_THREAD_JOINABLE);
    return true;
}

void virtio_numa_move_cancel(VirtIONumaMove *m)
{
    qatomic_set(&m->cancel, true);
}

uint64_t virtio_numa_move_done(VirtIONumaMove *m)
{
    return qatomic_read(&m->done);
}

void virtio_numa_move_free(VirtIONumaMove *m)
{
    unsigned int i;

    if (!m) {
        return;
    }
    if (m->running) {
        /* Unrealize: the device goes, so the move stops now. */
        virtio_numa_move_cancel(m);
        qemu_thread_join(&m->thread);
    }
    if (m->bh) {
        qemu_bh_delete(m->bh);
    }
    migrate_del_blocker(&m->blocker);
    for (i = 0; i < m->pieces->len; i++) {
        memory_region_unref(g_array_index(m->pieces, VirtIONumaMovePiece,
                                          i).mr);
    }
    g_array_free(m->pieces, true);
    g_free(m);
}

/* --- where the host memory of guest RAM is --- */

#ifdef CONFIG_NUMA
/* The policy of the host page at @host, as QAPI names it. */
static bool virtio_numa_policy(void *host, int *mode, unsigned long *nodes)
{
    bitmap_zero(nodes, MAX_NODES + 1);
    return !get_mempolicy(mode, nodes, MAX_NODES + 1, host, MPOL_F_ADDR);
}

static HostMemPolicy virtio_numa_qapi_policy(int mode)
{
    switch (mode) {
    case MPOL_BIND:
        return HOST_MEM_POLICY_BIND;
    case MPOL_INTERLEAVE:
        return HOST_MEM_POLICY_INTERLEAVE;
    case MPOL_PREFERRED:
#ifdef MPOL_PREFERRED_MANY
    case MPOL_PREFERRED_MANY:
#endif
        return HOST_MEM_POLICY_PREFERRED;
    default:
        return HOST_MEM_POLICY_DEFAULT;
    }
}

/*
 * The range being built: pieces of one RAM map range that follow each
 * other with one policy are one range (the flat view cuts RAM below
 * 1 MiB into many sections).
 */
typedef struct VirtIONumaHostWalk {
    VirtioNumaHostRamRangeList **tail;
    const VirtioNumaRamRange *r;    /* NULL: nothing being built */
    uint64_t addr;
    uint64_t size;
    int mode;
    unsigned long nodes[BITS_TO_LONGS(MAX_NODES + 1)];
    uint64_t stride;
    VirtIONumaResidency res;
} VirtIONumaHostWalk;

static void virtio_numa_host_flush(VirtIONumaHostWalk *w)
{
    VirtioNumaHostRamRange *h;
    VirtioNumaHostNodeSizeList **ntail;
    uint16List **btail;
    unsigned int n;

    if (!w->r) {
        return;
    }
    h = g_new0(VirtioNumaHostRamRange, 1);
    ntail = &h->resident;
    btail = &h->host_nodes;
    h->addr = w->addr;
    h->size = w->size;
    h->memdev = g_strdup(w->r->memdev);
    h->has_node = w->r->has_node;
    h->node = w->r->node;
    h->policy = virtio_numa_qapi_policy(w->mode);
    for (n = 0; n < MAX_NODES; n++) {
        if (test_bit(n, w->nodes)) {
            QAPI_LIST_APPEND(btail, n);
        }
        if (w->res.node_bytes[n]) {
            VirtioNumaHostNodeSize *ns = g_new0(VirtioNumaHostNodeSize, 1);

            ns->node = n;
            ns->size = w->res.node_bytes[n];
            QAPI_LIST_APPEND(ntail, ns);
        }
    }
    h->not_resident = w->res.not_resident;
    h->sample_stride = w->stride;
    QAPI_LIST_APPEND(w->tail, h);
    w->r = NULL;
}

/* One piece of one policy: count its pages, add it to the range. */
static void virtio_numa_host_piece(VirtIONumaHostWalk *w,
                                   const VirtioNumaRamRange *r,
                                   uint64_t addr, uint8_t *host,
                                   uint64_t len, size_t pagesize, int mode,
                                   const unsigned long *nodes)
{
    uint64_t stride = MAX(1, DIV_ROUND_UP(len / pagesize,
                                          VIRTIO_NUMA_QUERY_SAMPLES));

    if (w->r != r || w->addr + w->size != addr || w->mode != mode ||
        !bitmap_equal(w->nodes, nodes, MAX_NODES)) {
        virtio_numa_host_flush(w);
        memset(&w->res, 0, sizeof(w->res));
        w->r = r;
        w->addr = addr;
        w->size = 0;
        w->mode = mode;
        bitmap_copy(w->nodes, nodes, MAX_NODES + 1);
        w->stride = 1;
    }
    w->size += len;
    w->stride = MAX(w->stride, stride);
    virtio_numa_count(host, len, pagesize, stride, &w->res);
}

/*
 * One piece of guest RAM with one host mapping, split where its host
 * policy changes, each part counted.  Policies are looked at every 2 MiB
 * (or host page, if larger): a host move binds whole blocks, of 2 MiB
 * or more in any sensible configuration, and a backend's own policy
 * covers all of it.
 */
static void virtio_numa_host_section(VirtIONumaHostWalk *w,
                                     const VirtioNumaRamRange *r,
                                     uint64_t addr, uint8_t *host,
                                     uint64_t len, size_t pagesize)
{
    unsigned long nodes[BITS_TO_LONGS(MAX_NODES + 1)];
    unsigned long cur[BITS_TO_LONGS(MAX_NODES + 1)];
    uint64_t off, start = 0, step = MAX(pagesize, 2 * MiB);
    int mode, cur_mode;

    if (!virtio_numa_policy(host, &cur_mode, cur)) {
        cur_mode = MPOL_DEFAULT;
        bitmap_zero(cur, MAX_NODES + 1);
    }
    /* Policies change at host addresses aligned to @step. */
    for (off = QEMU_ALIGN_PTR_UP(host + 1, step) - host; off < len;
         off += step) {
        if (!virtio_numa_policy(host + off, &mode, nodes)) {
            continue;
        }
        if (mode != cur_mode || !bitmap_equal(nodes, cur, MAX_NODES)) {
            virtio_numa_host_piece(w, r, addr + start, host + start,
                                   off - start, pagesize, cur_mode, cur);
            start = off;
            cur_mode = mode;
            bitmap_copy(cur, nodes, MAX_NODES + 1);
        }
    }
    virtio_numa_host_piece(w, r, addr + start, host + start, len - start,
                           pagesize, cur_mode, cur);
}

/* One range of the RAM map, section by section of the flat view. */
static void virtio_numa_host_range(VirtIONumaHostWalk *w,
                                   const VirtioNumaRamRange *r)
{
    uint64_t off = 0;

    while (off < r->size) {
        MemoryRegionSection mrs = memory_region_find(get_system_memory(),
                                                     r->addr + off,
                                                     r->size - off);
        uint64_t len;

        if (!mrs.mr) {
            return;
        }
        len = int128_get64(mrs.size);
        if (len && mrs.mr->ram_block) {
            size_t pagesize = qemu_ram_pagesize(mrs.mr->ram_block);
            uint8_t *host = (uint8_t *)memory_region_get_ram_ptr(mrs.mr) +
                            mrs.offset_within_region;
            /* Count whole host pages: the map's ends are page-aligned. */
            uint8_t *end = QEMU_ALIGN_PTR_DOWN(host + len, pagesize);
            uint8_t *first = QEMU_ALIGN_PTR_UP(host, pagesize);

            if (end > first) {
                virtio_numa_host_section(w, r,
                                         r->addr + off + (first - host),
                                         first, end - first, pagesize);
            }
        }
        memory_region_unref(mrs.mr);
        if (!len) {
            return;
        }
        off += len;
    }
}
#endif

VirtioNumaHostRamRangeList *virtio_numa_host_ram(VirtioNumaRamRangeList *ram,
                                                 Error **errp)
{
#ifdef CONFIG_NUMA
    VirtioNumaHostRamRangeList *list = NULL;
    VirtIONumaHostWalk w = { .tail = &list };
    VirtioNumaRamRangeList *l;

    for (l = ram; l; l = l->next) {
        virtio_numa_host_range(&w, l->value);
    }
    virtio_numa_host_flush(&w);
    return list;
#else
    error_setg(errp, "this QEMU was built without NUMA support (libnuma)");
    return NULL;
#endif
}
