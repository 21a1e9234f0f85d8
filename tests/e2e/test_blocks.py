# SPDX-License-Identifier: GPL-2.0
"""Relayout finer than memory blocks.  An x86 guest with 64 GiB of boot
memory or more has 2 GiB memory blocks, but the Dynamic NUMA map is per
128 MiB section, and relayout moves sections: a memory block may then
have memory of two nodes.  Such a block is linked to each node in sysfs
and has no zone (valid_zones "none"), so it cannot go offline, as for a
block that spans nodes at boot; moved back, it is one node's and one
zone's again and goes offline and online as before.

The guest says what it moves and adds memory in (query-virtio-numa's
guest-relayout-unit and guest-add-unit), and the device refuses what
would not be whole units of them before the guest sees a command.

Only on the debug kernel: on KASAN the shadow of 62 GiB would be 8 GiB
of host memory.  The guest's RAM is not reserved on the host (TCG
touches only what the guest uses)."""

import re

import pytest

from vnuma.device import nodes, relayout, report
from vnuma.dnuma import audit, layout, wait_settled
from vnuma.guest import Node, Topology
from vnuma.node import add_node, new_backend, remove_node
from vnuma.qmp import QMPError

MiB = 1 << 20
GiB = 1 << 30
PAGE = 4096
# Node 0: [0, 2G) and [4G, 34G); node 1: [34G, 64G).  Memory ends at
# 64 GiB, so the guest picks 2 GiB memory blocks.  Node 2 is for adding.
TOPO = Topology([Node(32 * 1024, [0]), Node(30 * 1024, [1]), Node(0, [])],
                maxmem_mib=(62 + 4) * 1024, noreserve=True)
BLOCK = 2 * GiB
# The device's blocks are smaller than the guest's sections.
DEVICE = 'id=vnuma0,region-size=4G,block-size=64M'
# A section inside block 3 ([6G, 8G)), and three sections across the
# boundary of blocks 3 and 4: both blocks get memory of node 1.
RANGES = [(6 * GiB + 512 * MiB, 128 * MiB), (8 * GiB - 128 * MiB, 384 * MiB)]
MOVED = sum(s for _, s in RANGES) // PAGE
MEM = '/sys/devices/system/memory'


def block_nodes(g, block):
    """The nodes memory block @block is linked to, and they to it."""
    out = g.sh(f'ls {MEM}/memory{block}; '
               f'ls -d /sys/devices/system/node/node*/memory{block}')
    mine = sorted(int(n) for n in re.findall(r'^node(\d+)$', out, re.M))
    theirs = sorted(int(n) for n in
                    re.findall(rf'/node(\d+)/memory{block}$', out, re.M))
    assert mine == theirs, out
    return mine


def test_relayout_sections_of_2g_memory_blocks(boot):
    g = boot(TOPO, vnuma=DEVICE, boot_timeout=600)
    assert int(g.read(f'{MEM}/block_size_bytes'), 16) == BLOCK
    pxm = g.pxm_to_node()
    n0, n1 = pxm[0], pxm[1]
    report(g)
    base = nodes(g)
    for b in (3, 4):
        assert block_nodes(g, b) == [n0]
        assert g.read(f'{MEM}/memory{b}/valid_zones').strip() == 'Normal'

    done = relayout(g, [(a, s, 1) for a, s in RANGES])
    assert done['status'] == 'ok', done
    assert layout(g) == [(6 * GiB + 512 * MiB, 128 * MiB, n1),
                         (8 * GiB - 128 * MiB, 384 * MiB, n1)]
    ns = nodes(g)
    assert ns[1]['present-pages'] == base[1]['present-pages'] + MOVED
    assert ns[0]['present-pages'] == base[0]['present-pages'] - MOVED
    # Blocks 3 and 4 have memory of both nodes now: linked to both, no
    # zone of their own, and so they cannot go offline.
    for b in (3, 4):
        assert block_nodes(g, b) == sorted([n0, n1])
        assert g.read(f'{MEM}/memory{b}/valid_zones').strip() == 'none'
        st, out = g.run(f'echo offline > {MEM}/memory{b}/state')
        assert st != 0 and 'Invalid argument' in out, out
        assert g.read(f'{MEM}/memory{b}/state').strip() == 'online'
    assert block_nodes(g, 2) == [n0] and block_nodes(g, 5) == [n0]
    audit(g)
    # The moved sections serve node 1: its free memory grew by them.
    mi = g.node_meminfo(n1)
    assert mi['MemTotal'] >= (base[1]['managed-pages'] + MOVED * 9 // 10) * 4

    done = relayout(g, [(a, s, 0) for a, s in RANGES])
    assert done['status'] == 'ok', done
    ns = wait_settled(g, [(a, s, 0) for a, s in RANGES])
    for key in ('present-pages', 'managed-pages'):
        assert ns[0][key] == base[0][key] and ns[1][key] == base[1][key], \
            (key, ns, base)
    for b in (3, 4):
        assert block_nodes(g, b) == [n0]
        assert g.read(f'{MEM}/memory{b}/valid_zones').strip() == 'Normal'
    audit(g)
    # One node's and one zone's again: block 3 goes offline and online.
    g.sh(f'echo offline > {MEM}/memory3/state', timeout=300)
    g.sh(f'echo online_kernel > {MEM}/memory3/state', timeout=300)
    assert g.read(f'{MEM}/memory3/valid_zones').strip() == 'Normal'
    assert block_nodes(g, 3) == [n0]
    audit(g)


def test_device_keeps_to_the_guests_units(boot):
    """The guest reports its units; the device refuses a relayout range
    or a node's memory that is not whole units of them, naming them, and
    maps a node's memory at a guest memory block boundary."""
    g = boot(TOPO, vnuma=DEVICE, boot_timeout=600)
    _, info = report(g)
    assert (info['block-size'], info['guest-relayout-unit'],
            info['guest-add-unit']) == (64 * MiB, 128 * MiB, BLOCK)
    with pytest.raises(QMPError, match=r"'ranges\[0\]' 0x180000000\+0x4000000 "
                       r"is not whole units of 0x8000000, the guest's "
                       r"'guest-relayout-unit'"):
        relayout(g, [(6 * GiB, 64 * MiB, 1)])
    new_backend(g, 'small', 256)
    with pytest.raises(QMPError, match="memory backend 'small' has 0x10000000 "
                       "bytes, not a multiple of the guest's unit of memory "
                       "it adds, 0x80000000"):
        g.qmp.cmd('virtio-numa-node-add', id='vnuma0', node=2, memdev='small')
    assert not [c for c in g.qmp.cmd('query-virtio-numa')[0]['commands']
                if c['type'] != 'report']
    # A node of one memory block: placed at a block boundary, added.
    done, _ = add_node(g, 2, 2048)
    assert done['status'] == 'ok', done
    dev = next(d['data'] for d in g.qmp.cmd('query-memory-devices')
               if d['type'] == 'virtio-numa')
    assert dev['nodes'][0]['memaddr'] % BLOCK == 0, dev
    assert nodes(g)[2]['present-pages'] == BLOCK // PAGE
    assert remove_node(g, 2)['status'] == 'ok'
