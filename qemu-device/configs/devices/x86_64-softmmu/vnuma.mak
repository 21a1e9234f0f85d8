# Devices of the virtio-numa test QEMU (configure --without-default-devices
# --with-devices-x86_64=vnuma): the q35 machine and what the tests plug.
CONFIG_Q35=y
CONFIG_PCIE_PORT=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_SERIAL=y
CONFIG_VIRTIO_MEM=y
CONFIG_VIRTIO_BALLOON=y
CONFIG_ISA_DEBUG=y
CONFIG_VIRTIO_NUMA=y
