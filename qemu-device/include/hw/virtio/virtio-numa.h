/*
 * Virtio NUMA device
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_VIRTIO_NUMA_H
#define HW_VIRTIO_NUMA_H

#include "standard-headers/linux/virtio_numa.h"
#include "hw/virtio/virtio.h"
#include "qapi/qapi-types-machine.h"
#include "system/hostmem.h"
#include "system/numa.h"
#include "hw/resettable.h"
#include "qapi/qapi-types-virtio-numa.h"
#include "qemu/thread.h"
#include "qom/object.h"

#define TYPE_VIRTIO_NUMA "virtio-numa"
#define TYPE_VIRTIO_NUMA_SYSTEM_RESET "virtio-numa-system-reset"

OBJECT_DECLARE_SIMPLE_TYPE(VirtIONuma, VIRTIO_NUMA)
OBJECT_DECLARE_SIMPLE_TYPE(VirtIONumaSystemReset, VIRTIO_NUMA_SYSTEM_RESET)

#define VIRTIO_NUMA_BLOCK_SIZE_PROP "block-size"
#define VIRTIO_NUMA_ALLOW_INJECT_PROP "x-allow-inject"
#define VIRTIO_NUMA_ADDR_PROP "memaddr"
#define VIRTIO_NUMA_REGION_SIZE_PROP "region-size"

/* Host commands waiting or in flight; QMP refuses more. */
#define VIRTIO_NUMA_QUEUE_MAX 32
/* Completed commands kept for query-virtio-numa. */
#define VIRTIO_NUMA_HISTORY 32
/* Record tags we keep, VIRTIO_NUMA_R_STATE .. VIRTIO_NUMA_R_PENDING_OTHER. */
#define VIRTIO_NUMA_NR_TAGS VIRTIO_NUMA_R_PENDING_OTHER
/* The largest event a guest may send. */
#define VIRTIO_NUMA_EVENT_MAX_SIZE \
    (sizeof(struct virtio_numa_event) + \
     VIRTIO_NUMA_MAX_RECORDS * sizeof(struct virtio_numa_record))

/* What a host move did, for the command's completion. */
typedef struct VirtIONumaHostMoved {
    bool valid;
    int32_t error;                  /* errno mbind() gave, or 0 */
    uint64_t size;                  /* bytes bound */
    uint64_t moved;                 /* bytes on the nodes now, not before */
    uint64_t on_nodes;              /* bytes on the nodes asked, after */
    uint64_t elsewhere;             /* bytes that stayed on other nodes */
    uint64_t not_resident;          /* bytes with no page yet */
    uint64_t duration_us;
} VirtIONumaHostMoved;

/* A host command, kept as the bytes sent to the guest. */
typedef struct VirtIONumaCmd {
    uint64_t id;
    uint16_t type;
    bool moving;                    /* its host memory is being moved */
    uint32_t size;
    uint8_t buf[VIRTIO_NUMA_CMD_MAX_SIZE];
    VirtIONumaHostMoved host;       /* what its host move did */
} VirtIONumaCmd;

/* A completed command, for query-virtio-numa. */
typedef struct VirtIONumaDone {
    uint64_t id;
    uint16_t type;
    uint16_t status;
    uint16_t field;
    uint32_t detail;
    VirtIONumaHostMoved host;
} VirtIONumaDone;

/*
 * Memory of a node the guest was given with NODE_ADD: a host memory
 * backend mapped into our region.  It stays mapped until the guest has
 * confirmed NODE_REMOVE (or the machine resets), so it cannot be deleted
 * while the guest may use it.
 */
typedef struct VirtIONumaAdded {
    HostMemoryBackend *memdev;      /* NULL: the node has nothing added */
    uint64_t offset;                /* in the region */
    uint64_t size;
} VirtIONumaAdded;

/* The longest backend id an added node may have: it migrates. */
#define VIRTIO_NUMA_MEMDEV_ID_MAX 256

/*
 * An added node as it migrates, ahead of RAM: the destination maps the
 * backend of the same id (which management created there) at the same
 * place before RAM migration names its RAM block.
 */
typedef struct VirtIONumaMigNode {
    uint32_t node;
    uint64_t offset;
    uint64_t size;
    uint8_t memdev[VIRTIO_NUMA_MEMDEV_ID_MAX];  /* NUL-terminated */
} VirtIONumaMigNode;

/*
 * Not a wire type: a host memory move that involves no guest
 * (virtio-numa-host-move).  Wire types are below it.
 */
#define VIRTIO_NUMA_HOST_CMD_MOVE 0x8000

/* A guest range to bind to host nodes; @index names it in errors. */
typedef struct VirtIONumaMoveRange {
    unsigned int index;
    uint64_t addr;
    uint64_t size;
    unsigned long nodes[BITS_TO_LONGS(MAX_NODES + 1)];
} VirtIONumaMoveRange;

/* A piece of host memory a move binds: one RAM block's, referenced. */
typedef struct VirtIONumaMovePiece {
    MemoryRegion *mr;
    uint8_t *host;
    uint64_t len;
    size_t pagesize;
    unsigned long nodes[BITS_TO_LONGS(MAX_NODES + 1)];
} VirtIONumaMovePiece;

/* Bytes of host memory by the host node they are on. */
typedef struct VirtIONumaResidency {
    uint64_t node_bytes[MAX_NODES];
    uint64_t not_resident;
} VirtIONumaResidency;

/*
 * A host move running in its own thread.  The thread reads @pieces and
 * @cancel and writes @done and @result; the main loop reads
 * @done (progress) while it runs and the rest only after @ended was
 * called, from a bottom half, with the thread joined.  A migration
 * blocker stays until the move is freed: the command it belongs to
 * cannot migrate half moved.
 */
typedef struct VirtIONumaMove {
    GArray *pieces;                 /* of VirtIONumaMovePiece */
    uint64_t total;                 /* bytes */
    uint64_t cmd_id;
    uint16_t type;                  /* the command's: relayout or host move */
    bool running;
    bool cancel;                    /* atomic */
    uint64_t done;                  /* atomic: bytes bound so far */
    VirtIONumaHostMoved result;
    Error *blocker;
    QemuThread thread;
    QEMUBH *bh;
    void (*ended)(void *opaque, struct VirtIONumaMove *m);
    void *opaque;
} VirtIONumaMove;

/* A guest report: per host node, its records by tag. */
typedef struct VirtIONumaReport {
    bool reported[MAX_NODES];
    uint64_t values[MAX_NODES][VIRTIO_NUMA_NR_TAGS];
    /* The guest's units (RELAYOUT_UNIT, ADD_UNIT); 0: not reported. */
    uint64_t relayout_unit;
    uint64_t add_unit;
} VirtIONumaReport;

/*
 * The machine's reset, apart from the device's own (which the guest does
 * too, when a driver binds or unbinds): it knows the reset type, and a
 * wake-up from suspend to RAM keeps everything (the guest's RAM, and so
 * its added nodes, survive it).
 */
struct VirtIONumaSystemReset {
    Object parent;
    ResettableState reset_state;
    VirtIONuma *vn;
};

struct VirtIONuma {
    VirtIODevice parent_obj;

    VirtQueue *cmd_vq;
    VirtQueue *event_vq;

    /* Properties, checked in realize. */
    uint64_t block_size;
    bool allow_inject;
    uint64_t addr;                  /* memaddr: set by the machine */
    uint64_t region_size;

    /*
     * Device memory: a container of region_size bytes the machine maps at
     * @addr; added nodes' backends are mapped into it.  Created on first
     * use, which comes before realize (memory device pre-plug).
     */
    MemoryRegion *mr;
    VirtIONumaAdded added[MAX_NODES];
    /*
     * Backends management said will arrive as added nodes
     * (virtio-numa-node-expect): their RAM blocks are registered for
     * migration before the incoming stream starts, as RAM's load setup
     * needs, and the early section maps them.
     */
    HostMemoryBackend *expected[MAX_NODES];
    /* @added as it migrates, in the early section (before RAM). */
    uint32_t mig_nr_nodes;
    VirtIONumaMigNode mig_nodes[MAX_NODES];
    VirtIONumaSystemReset *system_reset;
    /* The host move running, at most one; not migrated (it blocks). */
    VirtIONumaMove *move;

    /*
     * Migrated state.  queue[queue_head] is in flight when @in_flight;
     * the guest has it and its completion may arrive on the destination.
     */
    uint64_t next_id;
    VirtIONumaCmd queue[VIRTIO_NUMA_QUEUE_MAX];
    uint32_t queue_head;
    uint32_t queue_len;
    bool in_flight;
    VirtIONumaDone done[VIRTIO_NUMA_HISTORY];
    uint32_t done_next;
    uint32_t done_count;
    uint32_t report_interval_ms;
    uint64_t reports;
    uint64_t bogus_events;
    /*
     * The command in flight virtio-numa-cancel asked the guest to stop
     * (config space cancel_id), or 0; only while it is in flight.
     */
    uint64_t cancel_id;
    /*
     * How far the guest says the command in flight has come, in bytes
     * (PROGRESS events); @progress_total 0: it said nothing yet.  Not
     * migrated: the guest's next event says it again.
     */
    uint64_t progress_done;
    uint64_t progress_total;

    /* The last report that passed validation, replaced as a whole. */
    uint64_t report_seq;
    uint16_t page_shift;
    uint16_t guest_nr_node_ids;
    VirtIONumaReport report;
};

MemoryRegion *virtio_numa_get_memory_region(VirtIONuma *vn, Error **errp);
uint64_t virtio_numa_plugged_size(VirtIONuma *vn);
unsigned int virtio_numa_memslots(VirtIONuma *vn);
void virtio_numa_fill_device_info(VirtIONuma *vn, VirtioNUMADeviceInfo *vi);
bool virtio_numa_unplug_check(VirtIONuma *vn, Error **errp);

/* virtio-numa-host.c */
bool virtio_numa_host_nodes(const uint16List *list, const char *what,
                            unsigned long *mask, Error **errp);
VirtIONumaMove *virtio_numa_move_new(const VirtIONumaMoveRange *r,
                                     unsigned int nr, Error **errp);
bool virtio_numa_move_start(VirtIONumaMove *m, DeviceState *dev,
                            uint64_t cmd_id, uint16_t type,
                            void (*ended)(void *, VirtIONumaMove *),
                            void *opaque, Error **errp);
void virtio_numa_move_cancel(VirtIONumaMove *m);
uint64_t virtio_numa_move_done(VirtIONumaMove *m);
void virtio_numa_move_free(VirtIONumaMove *m);
VirtioNumaHostRamRangeList *virtio_numa_host_ram(VirtioNumaRamRangeList *ram,
                                                 Error **errp);

#endif
