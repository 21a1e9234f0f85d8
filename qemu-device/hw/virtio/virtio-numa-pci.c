/*
 * Virtio NUMA PCI device
 *
 * A virtio-md-pci device: the machine reserves device memory for it,
 * into which the memory of nodes added at run time is mapped.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/mem/memory-device.h"
#include "hw/virtio/virtio-md-pci.h"
#include "hw/virtio/virtio-numa.h"
#include "hw/qdev-properties.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "qom/object.h"

typedef struct VirtIONumaPCI VirtIONumaPCI;

#define TYPE_VIRTIO_NUMA_PCI "virtio-numa-pci-base"
DECLARE_INSTANCE_CHECKER(VirtIONumaPCI, VIRTIO_NUMA_PCI, TYPE_VIRTIO_NUMA_PCI)

struct VirtIONumaPCI {
    VirtIOMDPCI parent_obj;
    VirtIONuma vdev;
};

static const Property virtio_numa_pci_properties[] = {
    DEFINE_PROP_UINT32("vectors", VirtIOPCIProxy, nvectors,
                       DEV_NVECTORS_UNSPECIFIED),
};

static void virtio_numa_pci_realize(VirtIOPCIProxy *vpci_dev, Error **errp)
{
    VirtIONumaPCI *dev = VIRTIO_NUMA_PCI(vpci_dev);

    if (vpci_dev->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        vpci_dev->nvectors = 3;     /* config, cmd, event */
    }
    /* A new device: there is no legacy virtio-numa. */
    virtio_pci_force_virtio_1(vpci_dev);
    qdev_realize(DEVICE(&dev->vdev), BUS(&vpci_dev->bus), errp);
}

static VirtIONuma *virtio_numa_pci_vdev(const MemoryDeviceState *md)
{
    return &VIRTIO_NUMA_PCI(md)->vdev;
}

static void virtio_numa_pci_set_addr(MemoryDeviceState *md, uint64_t addr,
                                     Error **errp)
{
    object_property_set_uint(OBJECT(md), VIRTIO_NUMA_ADDR_PROP, addr, errp);
}

static uint64_t virtio_numa_pci_get_addr(const MemoryDeviceState *md)
{
    return virtio_numa_pci_vdev(md)->addr;
}

static MemoryRegion *virtio_numa_pci_get_memory_region(MemoryDeviceState *md,
                                                       Error **errp)
{
    return virtio_numa_get_memory_region(virtio_numa_pci_vdev(md), errp);
}

static unsigned int virtio_numa_pci_get_memslots(MemoryDeviceState *md)
{
    return virtio_numa_memslots(virtio_numa_pci_vdev(md));
}

static uint64_t virtio_numa_pci_get_plugged_size(const MemoryDeviceState *md,
                                                 Error **errp)
{
    return virtio_numa_plugged_size(virtio_numa_pci_vdev(md));
}

static uint64_t virtio_numa_pci_get_min_alignment(const MemoryDeviceState *md)
{
    return virtio_numa_pci_vdev(md)->block_size;
}

static void virtio_numa_pci_fill_device_info(const MemoryDeviceState *md,
                                             MemoryDeviceInfo *info)
{
    VirtioNUMADeviceInfo *vi = g_new0(VirtioNUMADeviceInfo, 1);
    DeviceState *dev = DEVICE(md);

    if (dev->id) {
        vi->id = g_strdup(dev->id);
    }
    virtio_numa_fill_device_info(virtio_numa_pci_vdev(md), vi);
    info->u.virtio_numa.data = vi;
    info->type = MEMORY_DEVICE_INFO_KIND_VIRTIO_NUMA;
}

static void virtio_numa_pci_unplug_request_check(VirtIOMDPCI *vmd,
                                                 Error **errp)
{
    virtio_numa_unplug_check(&VIRTIO_NUMA_PCI(vmd)->vdev, errp);
}

static void virtio_numa_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioPCIClass *k = VIRTIO_PCI_CLASS(klass);
    PCIDeviceClass *pcidev_k = PCI_DEVICE_CLASS(klass);
    MemoryDeviceClass *mdc = MEMORY_DEVICE_CLASS(klass);
    VirtIOMDPCIClass *vmdc = VIRTIO_MD_PCI_CLASS(klass);

    k->realize = virtio_numa_pci_realize;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    pcidev_k->revision = VIRTIO_PCI_ABI_VERSION;
    pcidev_k->class_id = PCI_CLASS_OTHERS;
    device_class_set_props(dc, virtio_numa_pci_properties);

    mdc->get_addr = virtio_numa_pci_get_addr;
    mdc->set_addr = virtio_numa_pci_set_addr;
    mdc->get_plugged_size = virtio_numa_pci_get_plugged_size;
    mdc->get_memory_region = virtio_numa_pci_get_memory_region;
    mdc->get_memslots = virtio_numa_pci_get_memslots;
    mdc->get_min_alignment = virtio_numa_pci_get_min_alignment;
    mdc->fill_device_info = virtio_numa_pci_fill_device_info;
    vmdc->unplug_request_check = virtio_numa_pci_unplug_request_check;
}

static void virtio_numa_pci_instance_init(Object *obj)
{
    VirtIONumaPCI *dev = VIRTIO_NUMA_PCI(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_NUMA);
}

static const VirtioPCIDeviceTypeInfo virtio_numa_pci_info = {
    .base_name = TYPE_VIRTIO_NUMA_PCI,
    .parent = TYPE_VIRTIO_MD_PCI,
    .generic_name = "virtio-numa-pci",
    .instance_size = sizeof(VirtIONumaPCI),
    .instance_init = virtio_numa_pci_instance_init,
    .class_init = virtio_numa_pci_class_init,
};

static void virtio_numa_pci_register_types(void)
{
    virtio_pci_types_register(&virtio_numa_pci_info);
}

type_init(virtio_numa_pci_register_types)
