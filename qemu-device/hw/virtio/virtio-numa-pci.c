/*
 * Virtio NUMA PCI device
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/virtio/virtio-pci.h"
#include "hw/virtio/virtio-numa.h"
#include "hw/qdev-properties.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "qom/object.h"

typedef struct VirtIONumaPCI VirtIONumaPCI;

#define TYPE_VIRTIO_NUMA_PCI "virtio-numa-pci-base"
DECLARE_INSTANCE_CHECKER(VirtIONumaPCI, VIRTIO_NUMA_PCI, TYPE_VIRTIO_NUMA_PCI)

struct VirtIONumaPCI {
    VirtIOPCIProxy parent_obj;
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

static void virtio_numa_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioPCIClass *k = VIRTIO_PCI_CLASS(klass);
    PCIDeviceClass *pcidev_k = PCI_DEVICE_CLASS(klass);

    k->realize = virtio_numa_pci_realize;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    pcidev_k->revision = VIRTIO_PCI_ABI_VERSION;
    pcidev_k->class_id = PCI_CLASS_OTHERS;
    device_class_set_props(dc, virtio_numa_pci_properties);
}

static void virtio_numa_pci_instance_init(Object *obj)
{
    VirtIONumaPCI *dev = VIRTIO_NUMA_PCI(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_NUMA);
}

static const VirtioPCIDeviceTypeInfo virtio_numa_pci_info = {
    .base_name = TYPE_VIRTIO_NUMA_PCI,
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
