# SPDX-License-Identifier: GPL-2.0
"""The host memory behind guest ranges: a relayout with host nodes binds
and moves it before the guest is told, virtio-numa-host-move moves it
alone, query-virtio-numa-host-ram says where it really is, and commands
not yet with the guest can be cancelled.

This host has one NUMA node, so what is checked here is the call and its
accounting: the binding the kernel shows in QEMU's numa_maps, the pages
counted on node 0, the guest's data intact.  Movement between two host
nodes is proven by test_hostmem_nested.py, which runs QEMU inside a
two-node guest."""

import os
import re

import pytest

from vnuma.device import command, wait_completion
from vnuma.guest import Node, Topology
from vnuma.mem import start_mem, stop_mem
from vnuma.nested import parse_bound_mappings
from vnuma.qmp import QMPError

MiB = 1 << 20
PAGE = 4096
# Node 0 owns [0, 1G), node 1 [1G, 1.5G); 2 is empty, for adding.
TOPO = Topology([Node(1024, [0]), Node(512, [1]), Node(0, [])],
                maxmem_mib=1536 + 512)
DEVICE = 'id=vnuma0,region-size=512M'
# Node 1's first 256 MiB, where the guest holds data (vnuma-mem -n 1).
RANGE = (1024 * MiB, 256 * MiB)


def host_bound_mappings(pid):
    """parse_bound_mappings() of a process on this host."""
    with open(f'/proc/{pid}/maps') as m, open(f'/proc/{pid}/numa_maps') as n:
        return parse_bound_mappings(m.read(), n.read())


def qemu_log(g):
    """QEMU's log (-D): guest errors and trace events."""
    with open(os.path.join(g.dir, 'qemu.log')) as f:
        return f.read()


def host_ram(g, addr):
    """The query-virtio-numa-host-ram range that holds @addr."""
    return next(r for r in g.qmp.cmd('query-virtio-numa-host-ram')
                if r['addr'] <= addr < r['addr'] + r['size'])


def test_relayout_binds_and_moves_host_memory(boot):
    """A relayout with host nodes binds the range's host memory before
    the guest is told: the completion counts it, QEMU's numa_maps shows
    the binding on exactly the range's mapping, the host-ram query
    agrees page for page, and the guest's data is intact."""
    g = boot(TOPO, vnuma=DEVICE)
    # Node 1 manages about 440 of its 512 MiB (the rest is reserved at
    # boot).  A hold of 384 MiB left less than the min watermark plus
    # what other CPUs' per-cpu lists kept of node 1, and the guest
    # OOM-killed the holder once; 256 MiB still uses some of the range.
    start_mem(g, 'hold', 'hold -n 1 -m 256')
    before = host_ram(g, 0)
    assert before['policy'] == 'default' and before['host-nodes'] == []

    addr, size = RANGE
    done = command(g, 'virtio-numa-relayout',
                   ranges=[{'addr': addr, 'size': size, 'node': 0,
                            'host-nodes': [0]}])
    assert done['status'] == 'ok', done
    hm = done['host-move']
    assert hm['size'] == size and hm['error'] == 0, hm
    assert hm['elsewhere'] == 0, hm
    assert hm['on-nodes'] + hm['not-resident'] == size, hm
    assert hm['on-nodes'] > 0, hm       # the guest uses some of it

    # The query splits RAM where the binding changes.
    r = host_ram(g, addr)
    assert (r['addr'], r['size'], r['policy'], r['host-nodes']) == \
        (addr, size, 'bind', [0])
    assert r['memdev'] == 'ram-node1' and r['node'] == 1
    assert r['sample-stride'] == 1
    resident = sum(n['size'] for n in r['resident'])
    assert [n['node'] for n in r['resident']] == [0]
    assert resident + r['not-resident'] == size
    assert host_ram(g, addr - 1)['policy'] == 'default'
    # One range per stretch of one backend and one policy, however the
    # flat view cuts it (below 1 MiB it does).
    hr = g.qmp.cmd('query-virtio-numa-host-ram')
    for x, y in zip(hr, hr[1:]):
        assert x['addr'] + x['size'] <= y['addr'], (x, y)
        assert (x['memdev'], x['addr'] + x['size'], x['policy'],
                x['host-nodes']) != \
            (y['memdev'], y['addr'], y['policy'], y['host-nodes']), (x, y)
    assert host_ram(g, addr + size)['policy'] == 'default'

    # The kernel's view: one mapping of exactly the range, bound to 0,
    # its pages on node 0 (the guest may have touched more since).
    bound = [m for m in host_bound_mappings(g.proc.pid) if m[1] == 'bind:0']
    assert [m[0] for m in bound] == [size], bound
    assert bound[0][2].get(0, 0) * PAGE >= hm['on-nodes']

    info = g.qmp.cmd('query-virtio-numa')[0]
    last = [c for c in info['commands'] if c['type'] == 'relayout'][-1]
    assert last['host-move'] == hm
    assert 'mismatches' in (line := stop_mem(g, 'hold')) and \
        ' 0 mismatches' in line, line


def test_host_move_needs_no_driver(boot):
    """virtio-numa-host-move does not involve the guest: it completes
    with its own completion while no driver is bound, and the guest
    never sees a command.  Its trace events say what happened."""
    g = boot(TOPO, vnuma=DEVICE, extra_args=['-trace', 'virtio_numa_*'])
    dev = g.sh('ls /sys/bus/virtio/drivers/virtio_numa/ | grep virtio').strip()
    g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/unbind')
    addr, size = 128 * MiB, 128 * MiB
    done = command(g, 'virtio-numa-host-move',
                   ranges=[{'addr': addr, 'size': size, 'host-nodes': [0]}])
    assert (done['type'], done['status']) == ('host-move', 'ok'), done
    assert done['host-move']['size'] == size
    assert host_ram(g, addr)['policy'] == 'bind'
    info = g.qmp.cmd('query-virtio-numa')[0]
    assert not info['driver-ready']
    assert [c['state'] for c in info['commands']] == ['done']
    cid = done['command-id']
    trace = qemu_log(g)
    assert f'virtio_numa_move_start command {cid} bytes 0x8000000' in trace
    assert re.search(rf'virtio_numa_move_end command {cid} bound 0x8000000 '
                     r'moved 0x\w+ elsewhere 0x0 in \d+ us error 0', trace)
    assert f'virtio_numa_cmd_done vnuma0: command {cid} type 32768 ' \
        'status 0' in trace
    assert 'virtio_numa_cmd_sent' not in trace.split('move_start')[1]


@pytest.mark.parametrize('ranges, message', [
    ([{'addr': 512 * MiB, 'size': 128 * MiB, 'node': 1,
       'host-nodes': [7]}],
     "'ranges[0].host-nodes': host node 7 is not a node this QEMU may use"),
    ([{'addr': 512 * MiB, 'size': 128 * MiB, 'node': 1, 'host-nodes': []}],
     "'ranges[0].host-nodes' must name at least one host node"),
    ([{'addr': 0, 'size': 128 * MiB, 'node': 1},
      {'addr': 0xf8000000, 'size': 128 * MiB, 'node': 1,
       'host-nodes': [0]}],
     "is not all guest RAM"),
])
def test_relayout_host_nodes_refused(boot, ranges, message):
    """Bad host nodes are refused at once, naming the range, and nothing
    changes: no command, no binding."""
    g = boot(TOPO, vnuma=DEVICE)
    with pytest.raises(QMPError, match=re.escape(message)):
        g.qmp.cmd('virtio-numa-relayout', id='vnuma0', ranges=ranges)
    assert g.qmp.cmd('query-virtio-numa')[0]['commands'] == []
    assert all(r['policy'] == 'default'
               for r in g.qmp.cmd('query-virtio-numa-host-ram'))


def test_shared_memory_refused(boot):
    """Memory another process may map does not move: a node whose
    backend is shared is refused before anything changes, naming the
    backend."""
    g = boot(TOPO, vnuma=DEVICE)
    g.qmp.cmd('object-add', **{'qom-type': 'memory-backend-memfd',
                               'id': 'shared2', 'size': 128 * MiB,
                               'share': True})
    done = command(g, 'virtio-numa-node-add', node=2, memdev='shared2')
    assert done['status'] == 'ok', done
    addr = next(r['addr'] for r in g.qmp.cmd('query-virtio-numa-host-ram')
                if r['memdev'] == 'shared2')
    with pytest.raises(QMPError, match=r"the memory of 'shared2' is shared"):
        g.qmp.cmd('virtio-numa-host-move', id='vnuma0',
                  ranges=[{'addr': addr, 'size': 128 * MiB,
                           'host-nodes': [0]}])
    assert host_ram(g, addr)['policy'] == 'default'


def test_cancel_queued_command(boot):
    """A command still queued can be cancelled: it completes once, as
    cancelled, and the queue goes on; one with the guest cannot be.  The
    vCPUs are stopped meanwhile, so that the guest answers nothing.  The
    trace shows each command queued, sent once and done once."""
    g = boot(TOPO, vnuma=DEVICE, extra_args=['-trace', 'virtio_numa_cmd_*'])
    g.qmp.cmd('stop')
    ids = [g.qmp.cmd('virtio-numa-report', id='vnuma0')['command-id']
           for _ in range(4)]
    states = [c['state'] for c in g.qmp.cmd('query-virtio-numa')[0]['commands']]
    assert states == ['sent', 'queued', 'queued', 'queued']
    # Only node-remove and relayout with migrate can be stopped there.
    with pytest.raises(QMPError, match='is with the guest already and '
                       'cannot be stopped'):
        g.qmp.cmd('virtio-numa-cancel', id='vnuma0',
                  **{'command-id': ids[0]})
    g.qmp.cmd('virtio-numa-cancel', id='vnuma0', **{'command-id': ids[2]})
    assert wait_completion(g, ids[2])['status'] == 'cancelled'
    for bad in (ids[2], ids[3] + 1):
        with pytest.raises(QMPError, match='has no command .* queued, moving or with the guest'):
            g.qmp.cmd('virtio-numa-cancel', id='vnuma0', **{'command-id': bad})
    with pytest.raises(QMPError, match='DeviceNotFound|not a virtio-numa'):
        g.qmp.cmd('virtio-numa-cancel', id='nosuch', **{'command-id': 1})
    g.qmp.cmd('cont')
    for i in (0, 1, 3):
        assert wait_completion(g, ids[i])['status'] == 'ok'
    done = {c['command-id']: c['status']
            for c in g.qmp.cmd('query-virtio-numa')[0]['commands']}
    assert done == {ids[0]: 'ok', ids[1]: 'ok', ids[2]: 'cancelled',
                    ids[3]: 'ok'}
    trace = qemu_log(g)
    for i, cid in enumerate(ids):
        assert trace.count(f'cmd_queued vnuma0: command {cid} type 1\n') == 1
        assert trace.count(f'cmd_sent vnuma0: command {cid}\n') == \
            (0 if i == 2 else 1)
        assert trace.count(f'cmd_done vnuma0: command {cid} ') == 1
