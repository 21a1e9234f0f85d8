/*
 * QMP commands of virtio-numa, for builds without the device
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-virtio-numa.h"

static void *virtio_numa_not_built(Error **errp)
{
    error_setg(errp, "virtio-numa is not built into this QEMU");
    return NULL;
}

VirtioNumaInfoList *qmp_query_virtio_numa(Error **errp)
{
    return virtio_numa_not_built(errp);
}

VirtioNumaCommandId *qmp_virtio_numa_report(const char *id, Error **errp)
{
    return virtio_numa_not_built(errp);
}

VirtioNumaCommandId *qmp_virtio_numa_set_report_interval(const char *id,
                                                         uint32_t interval,
                                                         Error **errp)
{
    return virtio_numa_not_built(errp);
}

VirtioNumaCommandId *qmp_x_virtio_numa_inject(const char *id,
                                              const char *data,
                                              Error **errp)
{
    return virtio_numa_not_built(errp);
}

VirtioNumaCommandId *qmp_virtio_numa_relayout(const char *id,
                                              VirtioNumaRangeList *ranges,
                                              bool has_migrate, bool migrate,
                                              Error **errp)
{
    return virtio_numa_not_built(errp);
}

VirtioNumaNodeAddResult *qmp_virtio_numa_node_add(
    const char *id, uint16_t node, const char *memdev, bool has_cpus,
    uint32List *cpus, bool has_distances, VirtioNumaDistanceList *distances,
    Error **errp)
{
    return virtio_numa_not_built(errp);
}

VirtioNumaCommandId *qmp_virtio_numa_node_remove(const char *id,
                                                 uint16_t node,
                                                 Error **errp)
{
    return virtio_numa_not_built(errp);
}

void qmp_virtio_numa_node_expect(const char *id, uint16_t node,
                                 const char *memdev, Error **errp)
{
    virtio_numa_not_built(errp);
}

VirtioNumaCommandId *qmp_virtio_numa_host_move(const char *id,
                                               VirtioNumaHostRangeList *ranges,
                                               Error **errp)
{
    return virtio_numa_not_built(errp);
}

void qmp_virtio_numa_cancel(const char *id, uint64_t command_id,
                            Error **errp)
{
    virtio_numa_not_built(errp);
}

VirtioNumaRamRangeList *qmp_query_virtio_numa_ram(Error **errp)
{
    return virtio_numa_not_built(errp);
}

VirtioNumaHostRamRangeList *qmp_query_virtio_numa_host_ram(Error **errp)
{
    return virtio_numa_not_built(errp);
}

void qmp_virtio_numa_node_drop(const char *id, uint16_t node, Error **errp)
{
    virtio_numa_not_built(errp);
}
