# SPDX-License-Identifier: GPL-2.0
"""Host memory really moving between host nodes.  This machine has one
NUMA node, so the "host" here is a test guest with two: our QEMU runs
inside it (tests/vnuma/nested.py), and the guest kernel's numa_maps and
move_pages say where the inner VM's memory is."""

import pytest

from vnuma.nested import HOST, MiB, PAGE, bound_mappings, done_command, \
    ex, host_move, host_ram, qemu_cpio, qmp, start_inner


@pytest.fixture(scope='module')
def cpio(tmp_path_factory):
    return qemu_cpio(str(tmp_path_factory.mktemp('nested')))


def test_host_move_between_two_host_nodes(boot, cpio, figures):
    """virtio-numa-host-move moves the inner VM's memory from host node 0
    to host node 1: the completion counts every page as moved, the
    kernel's numa_maps shows the two bindings with their pages on their
    nodes, and query-virtio-numa-host-ram agrees.  A second move,
    cancelled as it starts, stops early with its progress shown."""
    g = boot(HOST, vnuma=None, initrd_extra=[cpio])
    pid = start_inner(g, 256)
    # Preallocated and bound to node 0: all 256 MiB there.
    assert bound_mappings(g, pid) == [(256 * MiB, 'bind:0',
                                       {0: 256 * MiB // PAGE})]

    half = 128 * MiB
    done = host_move(g, half, half, [1])
    assert done['status'] == 'ok', done
    hm = done['host-move']
    assert hm['error'] == 0 and hm['size'] == half, hm
    assert hm['moved'] == half and hm['on-nodes'] == half, hm
    assert hm['elsewhere'] == 0 and hm['not-resident'] == 0, hm
    # The kernel's view: the mapping split in two, each on its node.
    assert bound_mappings(g, pid) == sorted([
        (half, 'bind:0', {0: half // PAGE}),
        (half, 'bind:1', {1: half // PAGE})])
    ram = host_ram(g)
    assert (half, half, 'bind', [1], {1: half}) in ram, ram
    assert sum(x[4].get(0, 0) for x in ram) >= half - MiB, ram
    gib_s = half / (1 << 30) / (hm['duration-us'] / 1e6)
    figures(f'host move, nested (TCG guest as the host): 128 MiB node 0 -> '
            f'1 in {hm["duration-us"] / 1000:.1f} ms, {gib_s:.2f} GiB/s')

    # Move the first half too, and cancel it at once (its first chunk
    # is moving by then): it ends cancelled, having moved part of it.
    cid = done['command-id'] + 1
    # A second move meanwhile is refused: one at a time.
    replies, _ = qmp(g, ex('virtio-numa-host-move', id='vn0',
                           ranges=[{'addr': 0, 'size': half,
                                    'host-nodes': [1]}]),
                     ex('query-virtio-numa'),
                     ex('virtio-numa-host-move', id='vn0',
                        ranges=[{'addr': half, 'size': half,
                                 'host-nodes': [0]}]),
                     ex('virtio-numa-cancel', id='vn0',
                        **{'command-id': cid}), errors=True)
    assert replies[0]['return']['command-id'] == cid
    assert f'is moving host memory for command {cid} already' in \
        replies[2]['error']['desc'], replies[2]
    replies = replies[:2] + replies[3:]
    moving = [c for c in replies[1]['return'][0]['commands']
              if c['command-id'] == cid]
    assert moving and moving[0]['state'] == 'moving', moving
    assert moving[0]['progress']['total'] == half, moving
    assert 'return' in replies[2], replies
    done = done_command(g, cid)
    assert done['status'] == 'cancelled', done
    assert 0 < done['host-move']['size'] < half, done
    assert done['host-move']['moved'] < half, done
    qmp(g, ex('quit'))
