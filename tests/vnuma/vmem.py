# SPDX-License-Identifier: GPL-2.0
"""virtio-mem devices of a guest, driven over QMP: the benchmarks compare
virtio-numa with them."""

import time


def vmem_size(g, dev):
    """The memory the virtio-mem device @dev has plugged now."""
    return g.qmp.cmd('qom-get', path=f'/machine/peripheral/{dev}', property='size')


def vmem_request(g, sizes):
    """Set requested-size of each device in @sizes ({id: bytes})."""
    for dev, size in sizes.items():
        g.qmp.cmd('qom-set', path=f'/machine/peripheral/{dev}',
                  property='requested-size', value=size)


def vmem_set(g, sizes, timeout=600):
    """Set requested-size of each device in @sizes ({id: bytes}); wait
    until all have that size."""
    vmem_request(g, sizes)
    deadline = time.monotonic() + timeout
    while any(vmem_size(g, d) != s for d, s in sizes.items()):
        if time.monotonic() > deadline:
            raise TimeoutError({d: vmem_size(g, d) for d in sizes})
        time.sleep(0.002)
