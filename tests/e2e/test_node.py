# SPDX-License-Identifier: GPL-2.0
"""Node add and remove end to end: QMP virtio-numa-node-add/-remove, the
device's memory region, the guest driver's memory and CPU hotplug, and
what the guest shows afterwards, with data verified throughout."""

import base64
import os
import struct
import time

import pytest

from vnuma.device import CMD, EVENT_PROGRESS, R, \
    cmd_bytes, command_info, event_bytes, guest_inject_event, nodes, \
    progress_trace, report, totals, wait_completion
from vnuma.guest import Node, Topology
from vnuma.layout import zoneinfo
from vnuma.mem import start_mem, stop_mem
from vnuma.node import add_node, added_nodes, cpu_node, guest_node, \
    meminfo, new_backend, node_cpus, online_nodes, remove_node
from vnuma.qmp import QMPError

MiB = 1 << 20
PAGE = 4096
# Nodes 0 and 1 boot with memory and CPUs; 2 and 3 are empty, for adding.
# 2 GiB of device memory for the nodes added at run time.
TOPO = Topology([Node(1024, [0, 1]), Node(512, [2]), Node(0, []), Node(0, [])],
                maxmem_mib=1536 + 2048 + 1024)
DEVICE = 'id=vnuma0,region-size=2G,x-allow-inject=on'
# Where pages are pinned on purpose, a memory block that cannot go
# offline is given up after 3 s (the default, 10 s, elsewhere).
PINNED_APPEND = 'virtio_numa.offline_timeout_ms=3000'
# Add/remove rounds of the same node (make stress: more).
ROUNDS = int(os.environ.get('VNUMA_NODE_ROUNDS', '20'))


def boot_node_guest(boot, **kw):
    kw.setdefault('vnuma', DEVICE)
    return boot(TOPO, **kw)


def assert_sane(ns):
    for n in ns.values():
        assert n['free-pages'] <= n['managed-pages'] <= n['present-pages'], n


def test_spare_nodes_from_srat(boot):
    """Empty -numa nodes are possible in a stock guest through the SRAT."""
    g = boot_node_guest(boot)
    assert g.read('/sys/devices/system/node/possible').strip() == '0-3'
    pxm = g.pxm_to_node()
    assert set(pxm) == {0, 1, 2, 3}, pxm
    assert online_nodes(g) == '0-1'


def test_older_machine_types_keep_their_srat(boot):
    """A machine type older than the SRAT change keeps the tables its
    guests were started with (a VM migrated from an older QEMU, or
    rebooted after it): no entries for empty nodes, unless asked."""
    g = boot_node_guest(boot, vnuma='id=vnuma0',
                        extra_args=['-machine', 'pc-q35-9.2'])
    assert g.qmp.cmd('qom-get', path='/machine',
                     property='x-srat-empty-nodes') is False
    # Only the last node, owner of the hotplug range, besides 0 and 1.
    assert set(g.pxm_to_node()) == {0, 1, 3}
    g = boot_node_guest(boot, vnuma='id=vnuma0',
                        extra_args=['-machine',
                                    'pc-q35-9.2,x-srat-empty-nodes=on'])
    assert set(g.pxm_to_node()) == {0, 1, 2, 3}


def test_node_add_remove(boot):
    """Add node 2 with 512 MiB, vCPU 2 and its distances, use it, remove
    it: the memory is usable at once, data on every node survives, the
    accounting is exact after each step and the backend can be deleted
    afterwards."""
    # A distance table (SLIT) at boot, which the guest can then change.
    dist = {(0, 1): 21, (0, 2): 20, (0, 3): 20, (1, 2): 20, (1, 3): 20,
            (2, 3): 20}
    g = boot_node_guest(boot, extra_args=sum(
        (['-numa', f'dist,src={a},dst={b},val={d}'] for (a, b), d in dist.items()),
        []))
    report(g)
    base = nodes(g)
    base_total = meminfo(g)['MemTotal']
    # Data everywhere, verified all along: held on nodes 0 and 1, and
    # churned preferring node 2 (which has no memory yet: node 0 then).
    start_mem(g, 'n0', 'hold -n 0 -m 200')
    start_mem(g, 'n1', 'hold -n 1 -m 100')

    t0 = time.monotonic()
    done, more = add_node(g, 2, 512, cpus=[2], distances={0: 17, 1: 28})
    t_add = time.monotonic() - t0
    assert done['status'] == 'ok', done
    assert [c['status'] for c in more] == ['ok'] * 5, more
    g2 = guest_node(g, 2)
    ns = nodes(g)
    assert_sane(ns)
    assert ns[2]['online'] and ns[2]['with-memory'] and ns[2]['added']
    assert ns[2]['present-pages'] == 512 * MiB // PAGE
    assert ns[2]['cpus'] == 1 and ns[1]['cpus'] == base[1]['cpus'] - 1
    assert totals(ns, 'present-pages') == totals(base, 'present-pages') + \
        512 * MiB // PAGE
    assert g.node_meminfo(g2)['MemTotal'] == ns[2]['managed-pages'] * 4
    assert meminfo(g)['MemTotal'] == base_total + ns[2]['managed-pages'] * 4
    # Onlined movable, so that it can be removed again.
    assert [(z['zone'], z['present']) for z in zoneinfo(g)
            if z['node'] == g2 and z.get('present')] == \
        [('Movable', 512 * MiB // PAGE)]
    assert cpu_node(g, 2) == g2 and node_cpus(g, g2) == '2'
    # Distances, in the order of online nodes (0, 1, then the new one).
    assert g.read(f'/sys/devices/system/node/node{g2}/distance').split() == \
        ['17', '28', '10']
    assert g.read('/sys/devices/system/node/node0/distance').split() == \
        ['10', '21', '17']
    assert added_nodes(g) == {2: 512 * MiB}
    # Usable at once: bound strictly to node 2, allocate and verify.
    start_mem(g, 'bound', f'hold -n {g2} -m 256')
    assert g.node_meminfo(g2)['MemUsed'] >= 256 * 1024
    assert stop_mem(g, 'bound').endswith(' 0 mismatches')
    # Churn data preferring node 2 while it goes away.  This test is about
    # what the removal leaves, not its speed: a KASAN guest on TCG beside
    # another test's guest took more than the default 10 s to migrate
    # one block of pages in use (status partial), so give each 60 s.
    g.sh('echo 60000 > /sys/module/virtio_numa/parameters/offline_timeout_ms')
    start_mem(g, 'n2', f'stress -p {g2} -m 128')

    t0 = time.monotonic()
    done = remove_node(g, 2)
    t_remove = time.monotonic() - t0
    assert done['status'] == 'ok', done
    report(g)
    ns = nodes(g)
    assert_sane(ns)
    assert not ns[2]['online'] and not ns[2]['added']
    assert ns[2]['present-pages'] == 0 and ns[2]['cpus'] == 0
    for key in ('present-pages', 'managed-pages'):
        assert totals(ns, key) == totals(base, key), key
    assert cpu_node(g, 2) == base[1]['guest-node']
    assert online_nodes(g) == '0-1'
    assert meminfo(g)['MemTotal'] == base_total
    # The device let go of the backend: it can be deleted now.
    assert added_nodes(g) == {}
    g.qmp.cmd('object-del', id='mem-node2')
    for name in ('n0', 'n1', 'n2'):
        assert stop_mem(g, name).endswith(' 0 mismatches'), name
    print(f'node add 512 MiB + 1 vCPU: {t_add * 1000:.0f} ms, '
          f'remove: {t_remove * 1000:.0f} ms (QMP to completion)')


def test_node_add_remove_rounds(boot, figures):
    """The same node added and removed again and again: the same
    accounting every round, nothing leaks in the guest or in QEMU."""
    g = boot_node_guest(boot)
    report(g)
    base = nodes(g)
    first = None
    for i in range(ROUNDS):
        done, _ = add_node(g, 3, 256, memdev=f'm{i}')
        assert done['status'] == 'ok', (i, done)
        ns = nodes(g)
        added = {k: ns[3][k] for k in ('present-pages', 'managed-pages')}
        assert added['present-pages'] == 256 * MiB // PAGE
        first = first or added
        assert added == first, i
        done = remove_node(g, 3)
        assert done['status'] == 'ok', (i, done)
        g.qmp.cmd('object-del', id=f'm{i}')
        ns = nodes(g)
        for key in ('present-pages', 'managed-pages'):
            assert totals(ns, key) == totals(base, key), (i, key)
        if i == 1:
            # After one round, caches (slab, per-node structures) are warm.
            warm = meminfo(g)
    after = meminfo(g)
    assert after['MemTotal'] == warm['MemTotal']
    # Slab may wander a little; a leak per round would add up.
    assert after["Slab"] - warm["Slab"] < 4096, (warm['Slab'], after['Slab'])
    assert added_nodes(g) == {}
    assert not [o for o in g.qmp.cmd('qom-list', path='/objects')
                if o['name'].startswith('m')]
    figures(f'{ROUNDS} rounds of node add/remove of 256 MiB: '
            f'Slab {warm["Slab"]} -> {after["Slab"]} kB')


def test_node_remove_pinned(boot):
    """Pages that cannot migrate keep their memory block: the removal
    completes partial (or failed), the guest keeps running with its data,
    the backend stays mapped, and a retry works once the pages are free."""
    g = boot_node_guest(boot, append=PINNED_APPEND)
    done, more = add_node(g, 2, 512, cpus=[2])
    assert done['status'] == 'ok' and more[0]['status'] == 'ok', (done, more)
    g2 = guest_node(g, 2)
    assert cpu_node(g, 2) == g2
    # Pin 16 MiB on node 2: spliced into pipes, they cannot migrate.
    # Memory offlining says so (DEBUG_VM dumps such pages, rate-limited).
    g.expected_log.append(r'page dumped because: migration failure')
    start_mem(g, 'pin', f'pin -n {g2} -m 16')
    done = remove_node(g, 2)
    assert done['status'] in ('partial', 'failed'), done
    assert done['detail'] == 16     # EBUSY
    report(g)
    ns = nodes(g)
    assert ns[2]['online'] and ns[2]['added']
    left = ns[2]['present-pages']
    assert 0 < left < 512 * MiB // PAGE or done['status'] == 'failed'
    assert added_nodes(g) == {2: 512 * MiB}
    with pytest.raises(QMPError, match="'mem-node2' is in use"):
        g.qmp.cmd('object-del', id='mem-node2')
    assert 'stays: pages in use did not migrate in time' in g.console()
    # The node keeps its CPU while it keeps memory.
    assert cpu_node(g, 2) == g2 and ns[2]['cpus'] == 1
    # The reason goes away: the retry removes the rest, then the CPU.
    assert stop_mem(g, 'pin').endswith(' 0 mismatches')
    done = remove_node(g, 2)
    assert done['status'] == 'ok', done
    assert not nodes(g)[2]['online']
    assert cpu_node(g, 2) != g2
    g.qmp.cmd('object-del', id='mem-node2')


def start_stuck_removal(g):
    """Add node 2 (512 MiB), pin 16 MiB on it and start its removal,
    which waits (virtio_numa.offline_timeout_ms) for each block with
    pinned pages; return the removal's command id."""
    done, _ = add_node(g, 2, 512)
    assert done['status'] == 'ok', done
    g.expected_log.append(r'page dumped because: migration failure')
    start_mem(g, 'pin', f'pin -n {guest_node(g, 2)} -m 16')
    return g.qmp.cmd('virtio-numa-node-remove', id='vnuma0',
                     node=2)['command-id']


def test_node_remove_progress_and_cancel(boot):
    """A removal that waits on pages that will not migrate shows how far
    it came in query-virtio-numa, and virtio-numa-cancel stops it at
    once: it ends failed with ECANCELED, the node keeps its memory and
    the backend stays mapped; once the pages are free, the next removal
    goes through, its progress traced to the end."""
    g = boot_node_guest(boot, append='virtio_numa.offline_timeout_ms=60000 '
                        'virtio_numa.allow_inject=1',
                        extra_args=['-trace', 'virtio_numa_progress',
                                    '-trace', 'virtio_numa_cancel_asked'])
    cid = start_stuck_removal(g)
    # The guest says where it is before its first step, which waits
    # (up to 60 s) for the pinned pages.
    deadline = time.monotonic() + 60
    while not (command_info(g, cid) or {}).get('progress'):
        assert time.monotonic() < deadline, command_info(g, cid)
        time.sleep(0.2)
    ci = command_info(g, cid)
    assert ci['state'] == 'sent' and \
        ci['progress'] == {'done': 0, 'total': 512 * MiB}, ci
    check_progress_events(g, cid)
    t0 = time.monotonic()
    g.qmp.cmd('virtio-numa-cancel', id='vnuma0', **{'command-id': cid})
    ci = command_info(g, cid)
    assert ci['state'] in ('cancelling', 'done'), ci
    done = wait_completion(g, cid, 60)
    took = time.monotonic() - t0
    assert took < 30, f'the removal took {took:.1f} s to stop'
    assert done['status'] == 'failed' and done['detail'] == 125, done
    assert added_nodes(g) == {2: 512 * MiB}
    report(g)
    assert nodes(g)[2]['present-pages'] == 512 * MiB // PAGE
    with pytest.raises(QMPError, match="'mem-node2' is in use"):
        g.qmp.cmd('object-del', id='mem-node2')
    # Done: nothing left to cancel.
    with pytest.raises(QMPError, match='has no command'):
        g.qmp.cmd('virtio-numa-cancel', id='vnuma0', **{'command-id': cid})
    assert stop_mem(g, 'pin').endswith(' 0 mismatches')
    done = remove_node(g, 2)
    assert done['status'] == 'ok', done
    g.qmp.cmd('object-del', id='mem-node2')
    log = open(os.path.join(g.dir, 'qemu.log')).read()
    assert f'cancel_asked vnuma0: command {cid}\n' in log
    steps = progress_trace(log, done['command-id'])
    assert steps[0] == (0, 512 * MiB) and steps[-1] == (512 * MiB,) * 2, \
        steps


def check_progress_events(g, cid):
    """While command @cid, a removal, is in flight: each way a PROGRESS
    event can be wrong is dropped, counted and named in QEMU's log, and
    changes nothing; a right one is taken."""
    done, total = R['progress-done'], R['progress-total']

    def progress(records, **kw):
        kw.setdefault('cid', cid)
        return event_bytes(records, etype=EVENT_PROGRESS, **kw)

    good = [(done, 0, 1024), (total, 0, 4096)]
    bad = [
        (progress(good + [(done, 0, 1)]), 'without exactly two records'),
        (progress(good, nr_records=3), 'without exactly two records'),
        (progress(good, page_shift=40), 'page_shift out of range'),
        (progress(good, page_shift=0), 'page_shift out of range'),
        (progress(good, status=1), 'progress with a status'),
        (progress(good, detail=5), 'progress with a status'),
        (progress(good, cid=cid + 100), 'of a command not in flight'),
        (progress(good, cid=0), 'of a command not in flight'),
        (progress([(done, 0, 1), (done, 0, 2)]), 'other than done and total'),
        (progress([(done, 1, 1), (total, 0, 2)]), 'other than done and total'),
        (progress([(R['free'], 0, 1), (total, 0, 2)]),
         'other than done and total'),
        (progress([(done, 0, 5), (total, 0, 4)]), 'beyond its total'),
        (progress([(done, 0, 0), (total, 0, 1 << 60)]), 'beyond its total'),
        (event_bytes(good, etype=EVENT_PROGRESS + 1, cid=cid),
         'unknown event type'),
    ]
    log = os.path.join(g.dir, 'qemu.log')
    for data, why in bad:
        bogus = g.qmp.cmd('query-virtio-numa')[0]['bogus-events']
        seen = len(open(log).read())
        assert guest_inject_event(g, data)[0] == 0
        deadline = time.monotonic() + 10
        while g.qmp.cmd('query-virtio-numa')[0]['bogus-events'] == bogus:
            assert time.monotonic() < deadline, f'not dropped: {why}'
            time.sleep(0.1)
        text = open(log).read()[seen:]
        assert 'dropped event' in text and why in text, (why, text)
        ci = command_info(g, cid)
        assert ci['state'] == 'sent' and \
            ci['progress'] == {'done': 0, 'total': 512 * MiB}, (why, ci)
    # Pages of the event's page_shift; the driver's next one replaces it.
    assert guest_inject_event(g, progress(good))[0] == 0
    deadline = time.monotonic() + 10
    while command_info(g, cid)['progress']['done'] == 0:
        assert time.monotonic() < deadline, command_info(g, cid)
        time.sleep(0.1)
    assert command_info(g, cid)['progress'] == \
        {'done': 1024 * PAGE, 'total': 4096 * PAGE}


def test_unbind_during_node_remove(boot):
    """A removal that waits on pages that will not migrate does not hold
    up unbinding the driver: the driver stops at the next memory block."""
    g = boot_node_guest(boot, append='virtio_numa.offline_timeout_ms=20000')
    cid = start_stuck_removal(g)
    # The removal is under way: it waits 20 s for each pinned block.
    deadline = time.monotonic() + 60
    while g.run('grep -qx vnuma-remove /proc/[0-9]*/comm')[0]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    dev = g.sh('ls /sys/bus/virtio/drivers/virtio_numa/ | grep virtio').split()[0]
    t0 = time.monotonic()
    g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/unbind', timeout=60)
    took = time.monotonic() - t0
    assert took < 15, f'unbind took {took:.1f} s'
    g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/bind')
    assert stop_mem(g, 'pin').endswith(' 0 mismatches')
    del cid


def test_node_spare_from_kernel_parameter(boot):
    """Firmware that does not describe empty nodes: numa_spare_nodes=
    makes a node possible, and the driver gives it to the host node."""
    g = boot_node_guest(boot, append='numa_spare_nodes=1',
                        extra_args=['-machine', 'x-srat-empty-nodes=off'])
    pxm = g.pxm_to_node()
    # PXM 2 is not described; PXM 3 only as the hotplug range's owner.
    assert 2 not in pxm and 3 in pxm
    assert g.read('/sys/devices/system/node/possible').strip() == '0-3'
    assert 'NUMA: 1 spare nodes: possible nodes now 0-3' in g.console()
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    g2 = guest_node(g, 2)
    assert g2 not in pxm.values()
    start_mem(g, 'h', f'hold -n {g2} -m 64')
    assert stop_mem(g, 'h').endswith(' 0 mismatches')
    assert remove_node(g, 2)['status'] == 'ok'
    # Host node 2 keeps its guest node: added again, it is the same one.
    g.qmp.cmd('object-del', id='mem-node2')
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok' and guest_node(g, 2) == g2
    # The driver goes and comes back: the spare node is still host node
    # 2's, its memory in the reports.
    dev = g.sh('ls /sys/bus/virtio/drivers/virtio_numa/ | grep virtio').split()[0]
    g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/unbind')
    g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/bind')
    report(g)
    assert nodes(g)[2]['guest-node'] == g2
    assert nodes(g)[2]['present-pages'] == 256 * MiB // PAGE


def inject(g, data):
    r = g.qmp.cmd('x-virtio-numa-inject', id='vnuma0',
                  data=base64.b64encode(data).decode())
    return wait_completion(g, r['command-id'])


def test_node_bad_requests(boot):
    """Each bad request is one clear QMP error or guest status; nothing
    changes: no backend mapped, no node online, no command queued."""
    g = boot_node_guest(boot)
    new_backend(g, 'ok', 256)
    new_backend(g, 'odd', 200)
    new_backend(g, 'huge', 3072)
    errors = {
        'node out of range': (dict(node=9, memdev='ok'),
                              r"'node' must be below 4 \(the -numa nodes\), not 9"),
        'node with boot memory': (dict(node=0, memdev='ok'),
                                  "'node': node 0 has boot memory"),
        'no such backend': (dict(node=2, memdev='nope'),
                            "'memdev': 'nope' is not a memory backend object"),
        'backend in use': (dict(node=2, memdev='ram-node0'),
                           "'memdev': memory backend 'ram-node0' is in use"),
        'unaligned size': (dict(node=2, memdev='odd'),
                           "'memdev': memory backend 'odd' has 0xc800000 bytes, "
                           "not a multiple of the block size 0x8000000"),
        'too big': (dict(node=2, memdev='huge'),
                    "no free 0xc0000000 bytes left in its region of 0x80000000"),
        'no such vCPU': (dict(node=2, memdev='ok', cpus=[7]),
                         "'cpus': there is no vCPU with cpu-index 7"),
        'vCPU twice': (dict(node=2, memdev='ok', cpus=[2, 2]),
                       "'cpus': vCPU 2 named twice"),
        'distance to itself': (dict(node=2, memdev='ok',
                                    distances=[{'node': 2, 'distance': 20}]),
                               "'distances': node 2 is not another node below 4"),
        'local distance': (dict(node=2, memdev='ok',
                                distances=[{'node': 0, 'distance': 10}]),
                           "'distances': distance to node 0 must be 11 to 254, not 10"),
        'distance twice': (dict(node=2, memdev='ok',
                                distances=[{'node': 0, 'distance': 20},
                                           {'node': 0, 'distance': 30}]),
                           "'distances': node 0 named twice"),
    }
    for name, (args, msg) in errors.items():
        with pytest.raises(QMPError, match=msg):
            g.qmp.cmd('virtio-numa-node-add', id='vnuma0', **args)
    for args, msg in ((dict(node=0), "'node': node 0 has boot memory"),
                      (dict(node=2), "'node': node 2 was not added by "
                                     "virtio-numa 'vnuma0'"),
                      (dict(node=-1), "Parameter 'node' expects uint16_t"),
                      (dict(node=9), "'node' must be below 4")):
        with pytest.raises(QMPError, match=msg):
            g.qmp.cmd('virtio-numa-node-remove', id='vnuma0', **args)
    assert added_nodes(g) == {}
    assert g.qmp.cmd('query-virtio-numa')[0]['commands'] == []

    # During a migration: busy, nothing changes.
    g.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': 1})
    g.qmp.cmd('migrate', uri='exec:cat > /dev/null')
    with pytest.raises(QMPError, match="busy: a migration is running"):
        g.qmp.cmd('virtio-numa-node-add', id='vnuma0', node=2, memdev='ok')
    g.qmp.cmd('migrate_cancel')
    while g.qmp.cmd('query-migrate').get('status') not in ('cancelled', None):
        time.sleep(0.1)

    # Added twice; a vCPU the guest cannot move (CPU 0 is not hotpluggable).
    # No distance table at boot here: the guest cannot change distances.
    done, more = add_node(g, 2, 256, cpus=[0], distances={0: 30})
    assert done['status'] == 'ok'
    assert [c['status'] for c in more] == ['failed', 'unsupported',
                                           'unsupported'], more
    with pytest.raises(QMPError, match="'node': node 2 was added already"):
        g.qmp.cmd('virtio-numa-node-add', id='vnuma0', node=2, memdev='ok')
    # The backend's id names it on a migration's destination: bounded.
    long_id = 'm' + 'x' * 299
    new_backend(g, long_id, 128)
    with pytest.raises(QMPError, match="is longer than 255 bytes"):
        g.qmp.cmd('virtio-numa-node-add', id='vnuma0', node=3,
                  memdev=long_id)
    g.qmp.cmd('object-del', id=long_id)

    # Guest refusals of commands QEMU would not send (raw bytes).
    cfg_region = added_nodes(g)
    region = [d['data'] for d in g.qmp.cmd('query-memory-devices')
              if d['type'] == 'virtio-numa'][0]
    base = region['memaddr']
    bad = {
        # A node with boot memory.
        'node has memory': (cmd_bytes(901, CMD['node-add'], struct.pack(
            '<IIQQ', 0, 0, base + 1024 * MiB, 128 * MiB)), 'invalid', 'node'),
        # The range is already memory (node 2's).
        'overlaps memory': (cmd_bytes(902, CMD['node-add'], struct.pack(
            '<IIQQ', 3, 0, base, 128 * MiB)), 'invalid', 'addr'),
        # Outside the device region.
        'outside region': (cmd_bytes(903, CMD['node-add'], struct.pack(
            '<IIQQ', 3, 0, 0, 128 * MiB)), 'invalid', 'addr'),
        'remove not added': (cmd_bytes(904, CMD['node-remove'], struct.pack(
            '<II', 1, 0)), 'invalid', 'node'),
        'cpu to offline node': (cmd_bytes(905, CMD['cpu-assign'], struct.pack(
            '<II', 3, 1)), 'invalid', 'node'),
        'no such cpu': (cmd_bytes(906, CMD['cpu-assign'], struct.pack(
            '<II', 2, 77)), 'invalid', 'cpu'),
    }
    for name, (data, status, field) in bad.items():
        done = inject(g, data)
        assert (done['status'], done['field']) == (status, field), name
    assert added_nodes(g) == cfg_region
    report(g)
    ns = nodes(g)
    assert not ns[3]['online'] and ns[1]['online'] and ns[2]['added']
    assert remove_node(g, 2)['status'] == 'ok'
    assert online_nodes(g) == '0-1'
