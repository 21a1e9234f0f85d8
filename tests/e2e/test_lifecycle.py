# SPDX-License-Identifier: GPL-2.0
"""The device's state across what happens to a VM every day: the guest
suspends and wakes up, its driver goes away and comes back, the machine
resets, the VM migrates.  Each test first provokes what once went wrong
(added memory unmapped under a guest that kept using it, commands that
waited forever for a driver, a report of a guest that no longer
exists), then checks the guest's own view."""

import os
import time

import pytest

from vnuma.device import nodes, report, wait_completion
from vnuma.guest import Node, Topology
from vnuma.mem import start_mem, stop_mem
from vnuma.node import add_node, added_nodes, guest_node, new_backend, \
    remove_node
from vnuma.qmp import QMPError

MiB = 1 << 20
# Nodes 0 and 1 boot with memory and CPUs; 2 is empty, for adding.
TOPO = Topology([Node(1024, [0, 1]), Node(512, [2]), Node(0, [])],
                maxmem_mib=1536 + 1024)
DEVICE = 'id=vnuma0,region-size=1G'
S3 = ['-global', 'ICH9-LPC.disable_s3=0']
NO_DRIVER = 'no driver ready'


def virtio_dev(g):
    return g.sh('ls /sys/bus/virtio/drivers/virtio_numa/ | grep virtio').strip()


def info(g):
    return g.qmp.cmd('query-virtio-numa')[0]


def test_wakeup_keeps_added_node(boot):
    """S3: QEMU resets the machine's devices on wake-up, but the guest and
    its RAM live on; a node added before the suspend is still mapped, with
    its data, and can be removed afterwards."""
    g = boot(TOPO, vnuma=DEVICE, extra_args=S3)
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    g2 = guest_node(g, 2)
    free = g.node_meminfo(g2)['MemFree'] // 1024
    start_mem(g, 'h', f'hold -n {g2} -m {free - 32}')
    g.sh('echo deep > /sys/power/mem_sleep')
    seq = g.ctl.start('echo mem > /sys/power/state')
    g.qmp.wait_event('SUSPEND', 60)
    assert added_nodes(g) == {2: 256 * MiB}
    g.qmp.cmd('system_wakeup')
    g.qmp.wait_event('WAKEUP', 60)
    rc, out = g.ctl.finish(seq, 120)
    assert rc == 0, out
    assert added_nodes(g) == {2: 256 * MiB}
    assert stop_mem(g, 'h').endswith(' 0 mismatches')
    done, _ = report(g)
    assert done['status'] == 'ok' and nodes(g)[2]['added'], nodes(g)
    assert remove_node(g, 2)['status'] == 'ok'
    assert added_nodes(g) == {}
    g.qmp.cmd('object-del', id='mem-node2')


def test_commands_need_a_driver(boot):
    """Without a driver a command is refused at once, naming why, instead
    of waiting for a driver that may never bind; so is one for a
    suspended guest.  With the driver back, commands work again."""
    g = boot(TOPO, vnuma=DEVICE)
    dev = virtio_dev(g)
    for _ in range(3):
        g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/unbind')
        assert not info(g)['driver-ready']
        for cmd, args in (('virtio-numa-report', {}),
                          ('virtio-numa-set-report-interval',
                           {'interval': 1000}),
                          ('virtio-numa-relayout',
                           {'ranges': [{'addr': 512 * MiB,
                                        'size': 128 * MiB, 'node': 1}]})):
            with pytest.raises(QMPError, match=NO_DRIVER):
                g.qmp.cmd(cmd, id='vnuma0', **args)
        g.qmp.cmd('object-add', **{'qom-type': 'memory-backend-ram',
                                   'id': 'mem-node2', 'size': 128 * MiB})
        with pytest.raises(QMPError, match=NO_DRIVER):
            g.qmp.cmd('virtio-numa-node-add', id='vnuma0', node=2,
                      memdev='mem-node2')
        g.qmp.cmd('object-del', id='mem-node2')
        assert info(g)['commands'] == [] or all(
            c['state'] == 'done' for c in info(g)['commands'])
        g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/bind')
        done, i = report(g)
        assert done['status'] == 'ok' and i['driver-ready']
        assert i['report-interval'] == 0


def test_device_reset_cancels_commands(boot):
    """The guest resets the device (the driver unbinds) while a node
    removal is in flight and a report is queued behind it: both end,
    exactly once, the report as cancelled, and neither reaches the next driver; the
    report interval the old driver had ends with it.  The node stays
    mapped: its memory is still in the guest."""
    g = boot(TOPO, vnuma=DEVICE,
             append='virtio_numa.offline_timeout_ms=20000')
    dev = virtio_dev(g)
    r = g.qmp.cmd('virtio-numa-set-report-interval', id='vnuma0',
                  interval=1000)
    assert wait_completion(g, r['command-id'])['status'] == 'ok'
    done, _ = add_node(g, 2, 512)
    assert done['status'] == 'ok', done
    g.expected_log.append(r'page dumped because: migration failure')
    start_mem(g, 'pin', f'pin -n {guest_node(g, 2)} -m 16')
    # The removal waits 20 s for each pinned block: it stays in flight.
    ids = [g.qmp.cmd('virtio-numa-node-remove', id='vnuma0',
                     node=2)['command-id'],
           g.qmp.cmd('virtio-numa-report', id='vnuma0')['command-id']]
    deadline = time.monotonic() + 60
    while g.run('grep -qx vnuma-remove /proc/[0-9]*/comm')[0]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert [c['state'] for c in info(g)['commands'][-2:]] == \
        ['sent', 'queued']
    g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/unbind',
         timeout=60)
    # The removal may end as it stops (partial), or be cut off by the
    # reset; the report behind it never reaches a driver.
    assert wait_completion(g, ids[0])['status'] in \
        ('cancelled', 'partial', 'failed')
    assert wait_completion(g, ids[1])['status'] == 'cancelled'
    i = info(g)
    assert i['report-interval'] == 0 and not i['driver-ready'], i
    assert all(c['state'] == 'done' for c in i['commands'])
    assert added_nodes(g) == {2: 512 * MiB}
    g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/bind')
    done, _ = report(g)
    assert done['status'] == 'ok'
    ended = [c['command-id'] for c in info(g)['commands']]
    assert [ended.count(cid) for cid in ids] == [1, 1], ended
    assert stop_mem(g, 'pin').endswith(' 0 mismatches')


def present_node_adds(g, after):
    """The NODE_ADD commands sent since command id @after (the device's
    own, with PRESENT, when no test sent one), once done: [(id,
    status)]."""
    deadline = time.monotonic() + 60
    while True:
        cs = [c for c in info(g)['commands']
              if c['type'] == 'node-add' and c['command-id'] > after]
        if cs and all(c['state'] == 'done' for c in cs):
            return [(c['command-id'], c['status']) for c in cs]
        assert time.monotonic() < deadline, info(g)['commands']
        time.sleep(0.2)


def test_rebound_driver_takes_over_added_node(boot):
    """The guest's driver goes away and comes back (unbind, bind) while a
    node it added holds data: the device tells the new driver about the
    node, which takes it over, so that the node can be removed and its
    backend deleted.  The module, the only code that can give the memory
    back, cannot be unloaded while a node is added."""
    g = boot(TOPO, vnuma=DEVICE)
    dev = virtio_dev(g)
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    g2 = guest_node(g, 2)
    start_mem(g, 'h', f'hold -n {g2} -m 128')
    binds = []
    for _ in range(2):
        binds.append(max(c['command-id'] for c in info(g)['commands']))
        g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/unbind')
        assert added_nodes(g) == {2: 256 * MiB}
        g.sh(f'echo {dev} > /sys/bus/virtio/drivers/virtio_numa/bind')
        report(g)
    assert nodes(g)[2]['added'], nodes(g)
    assert stop_mem(g, 'h').endswith(' 0 mismatches')
    # Once, the new driver knew nothing of the node: NODE_REMOVE was
    # refused (invalid, node), and the backend stayed for good.
    assert remove_node(g, 2)['status'] == 'ok'
    assert added_nodes(g) == {}
    g.qmp.cmd('object-del', id='mem-node2')
    # Each bind: one NODE_ADD with PRESENT from the device, taken over.
    adds = present_node_adds(g, binds[0])
    assert [s for _, s in adds] == ['ok', 'ok'], adds
    assert adds[1][0] > binds[1], (adds, binds)
    assert g.sh('dmesg').count('took over node') == 2

    # The module is in use while a node is added: delete_module() fails
    # with EWOULDBLOCK.  Without nodes it goes and comes back.
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    rc, out = g.run('rmmod virtio_numa 2>&1')
    assert rc and 'Resource temporarily unavailable' in out, out
    assert remove_node(g, 2)['status'] == 'ok'
    g.qmp.cmd('object-del', id='mem-node2')
    g.sh('rmmod virtio_numa')
    g.sh('modprobe virtio_numa')
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    assert remove_node(g, 2)['status'] == 'ok'


def test_machine_reset_forgets_guest(boot):
    """A machine reset (QMP system_reset) ends the guest: queued commands
    are cancelled, added nodes unmapped, the report and the interval
    forgotten; the guest that boots next starts clean, and can be given
    the node again."""
    g = boot(TOPO, vnuma=DEVICE, reboot=True)
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    r = g.qmp.cmd('virtio-numa-set-report-interval', id='vnuma0',
                  interval=500)
    assert wait_completion(g, r['command-id'])['status'] == 'ok'
    report(g)
    g.qmp.cmd('stop')
    ids = [g.qmp.cmd('virtio-numa-report', id='vnuma0')['command-id']
           for _ in range(2)]
    g.qmp.cmd('system_reset')
    for cid in ids:
        assert wait_completion(g, cid)['status'] == 'cancelled'
    i = info(g)
    assert (i['driver-ready'], i['report-interval'], i['reports'],
            i['nodes']) == (False, 0, 0, []), i
    assert 'report-seq' not in i
    assert added_nodes(g) == {}
    g.qmp.cmd('object-del', id='mem-node2')
    g.qmp.cmd('cont')
    g.wait_reboot()
    done, _ = report(g)
    assert done['status'] == 'ok'
    assert not nodes(g)[2]['with-memory']
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    assert remove_node(g, 2)['status'] == 'ok'


def test_incoming_destination_refuses_commands(boot, tmp_path):
    """A machine waiting for an incoming migration takes no command for
    the guest (the state that arrives would overwrite it); it takes the
    nodes it is to expect, each checked, and forgets one on request."""
    dst = boot(TOPO, vnuma=DEVICE, incoming=f'unix:{tmp_path}/migrate.sock')
    with pytest.raises(QMPError, match='incoming migration'):
        dst.qmp.cmd('virtio-numa-report', id='vnuma0')
    assert info(dst)['commands'] == []

    def expect(match, **args):
        with pytest.raises(QMPError, match=match):
            dst.qmp.cmd('virtio-numa-node-expect', id='vnuma0', **args)

    expect("'mem-node2' is not a memory backend object", node=2,
           memdev='mem-node2')
    new_backend(dst, 'mem-node2', 256)
    expect('has boot memory', node=1, memdev='mem-node2')
    expect("'node' must be below 3", node=3, memdev='mem-node2')
    expect('node 2 is not expected', node=2)
    dst.qmp.cmd('virtio-numa-node-expect', id='vnuma0', node=2,
                memdev='mem-node2')
    assert info(dst)['expected-nodes'] == [2]
    expect('node 2 is expected', node=2, memdev='mem-node2')
    with pytest.raises(QMPError, match='in use'):
        dst.qmp.cmd('object-del', id='mem-node2')
    dst.qmp.cmd('virtio-numa-node-expect', id='vnuma0', node=2)
    assert info(dst)['expected-nodes'] == []
    dst.qmp.cmd('object-del', id='mem-node2')


def expect_node(g, node, memdev, mib):
    """What management does on a destination before migrate-incoming."""
    new_backend(g, memdev, mib)
    g.qmp.cmd('virtio-numa-node-expect', id='vnuma0', node=node,
              memdev=memdev)


def migrate(src, dst, uri, timeout=180):
    src.qmp.cmd('migrate', uri=uri)
    deadline = time.monotonic() + timeout
    while (st := src.qmp.cmd('query-migrate').get('status')) not in \
            ('completed', 'failed', 'cancelled'):
        assert time.monotonic() < deadline, src.qmp.cmd('query-migrate')
        time.sleep(0.2)
    return st


def test_migration_with_added_node(boot, tmp_path):
    """A VM with an added node migrates: the destination, started with a
    backend of the same id and size (as management creates it), maps it
    before RAM arrives; the data in the node is intact there, a command
    queued on the source completes once, on the destination, and the
    node is removed there and its backend deleted."""
    src = boot(TOPO, vnuma=DEVICE)
    done, _ = add_node(src, 2, 256)
    assert done['status'] == 'ok', done
    g2 = guest_node(src, 2)
    free = src.node_meminfo(g2)['MemFree'] // 1024
    start_mem(src, 'h', f'hold -n {g2} -m {free - 32}')
    uri = f'unix:{tmp_path}/migrate.sock'
    dst = boot(TOPO, vnuma=DEVICE, incoming=uri)
    expect_node(dst, 2, 'mem-node2', 256)
    # Stopped vCPUs do not answer: the report is in flight when it goes.
    src.qmp.cmd('stop')
    cid = src.qmp.cmd('virtio-numa-report', id='vnuma0')['command-id']
    assert migrate(src, dst, uri) == 'completed'
    assert added_nodes(dst) == {2: 256 * MiB}
    assert info(dst)['expected-nodes'] == []
    dst.qmp.cmd('cont')
    assert wait_completion(dst, cid)['status'] == 'ok'
    dst.ctl.buf = b''
    assert dst.ctl.run('true')[0] == 0
    assert stop_mem(dst, 'h').endswith(' 0 mismatches')
    assert remove_node(dst, 2)['status'] == 'ok'
    assert added_nodes(dst) == {}
    dst.qmp.cmd('object-del', id='mem-node2')
    ended = [c['command-id'] for c in info(dst)['commands']]
    assert ended.count(cid) == 1, ended


@pytest.mark.parametrize('mismatch', ['not-expected', 'other-size',
                                      'not-sent'])
def test_migration_refused_without_the_backend(boot, tmp_path, mismatch):
    """A destination not ready for the added node (its backend not
    expected, or of another size), or expecting a node the source has
    not added, fails the migration before any RAM moves, naming the node
    and what differs; the source runs on with its node."""
    src = boot(TOPO, vnuma=DEVICE)
    if mismatch != 'not-sent':
        done, _ = add_node(src, 2, 256)
        assert done['status'] == 'ok', done
    uri = f'unix:{tmp_path}/migrate.sock'
    dst = boot(TOPO, vnuma=DEVICE, incoming=uri)
    if mismatch == 'not-expected':
        new_backend(dst, 'mem-node2', 256)
        why = "node 2 added on the migration source: memory backend " \
            "'mem-node2' was not expected"
    elif mismatch == 'other-size':
        expect_node(dst, 2, 'mem-node2', 384)
        why = "node 2 added on the migration source: memory backend " \
            "'mem-node2' has 0x18000000 bytes here, 0x10000000 on the source"
    else:
        expect_node(dst, 2, 'mem-node2', 256)
        why = 'node 2 was expected, and the migration source has not added it'
    assert migrate(src, dst, uri) == 'failed'
    deadline = time.monotonic() + 30
    while why not in dst.stderr_text():
        assert time.monotonic() < deadline, dst.stderr_text()
        time.sleep(0.2)
    assert src.qmp.cmd('query-status')['status'] == 'running'
    if mismatch == 'not-sent':
        return
    assert added_nodes(src) == {2: 256 * MiB}
    done, _ = report(src)
    assert done['status'] == 'ok' and nodes(src)[2]['added']
    assert remove_node(src, 2)['status'] == 'ok'


def run_job(g, cmd, job_id, timeout=120, **args):
    """Run a QMP job command to its end; return its error, or None."""
    g.qmp.cmd(cmd, **{'job-id': job_id}, **args)
    g.qmp.wait_event('JOB_STATUS_CHANGE', timeout,
                     match=lambda e: e['data']['id'] == job_id and
                     e['data']['status'] == 'concluded')
    job = [j for j in g.qmp.cmd('query-jobs') if j['id'] == job_id][0]
    g.qmp.cmd('job-dismiss', id=job_id)
    return job.get('error')


def test_snapshot_with_added_node(boot, tmp_path):
    """savevm/loadvm (snapshot-save, snapshot-load) of a VM with an added
    node holding data: after the node was removed, loading the snapshot
    maps its backend again, and the data and the process that holds it
    are back."""
    g = boot(TOPO, vnuma=DEVICE)
    image = tmp_path / 'snap.qcow2'
    image.touch()
    g.qmp.cmd('blockdev-add', driver='file', **{'node-name': 'f0'},
              filename=str(image))
    assert run_job(g, 'blockdev-create', 'c0',
                   options={'driver': 'qcow2', 'file': 'f0',
                            'size': 64 * MiB}) is None
    g.qmp.cmd('blockdev-add', driver='qcow2', **{'node-name': 'q0'},
              file='f0')
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    g2 = guest_node(g, 2)
    free = g.node_meminfo(g2)['MemFree'] // 1024
    start_mem(g, 'h', f'hold -n {g2} -m {free - 32}')
    assert run_job(g, 'snapshot-save', 's0', tag='with-node2', vmstate='q0',
                   devices=['q0'], timeout=300) is None
    assert stop_mem(g, 'h').endswith(' 0 mismatches')
    assert remove_node(g, 2)['status'] == 'ok'
    assert added_nodes(g) == {}
    # The backend stays, as management keeps what a snapshot names; the
    # node is no longer added, so it must be expected before the load.
    g.qmp.cmd('virtio-numa-node-expect', id='vnuma0', node=2,
              memdev='mem-node2')
    assert run_job(g, 'snapshot-load', 'l0', tag='with-node2', vmstate='q0',
                   devices=['q0'], timeout=300) is None
    assert added_nodes(g) == {2: 256 * MiB}
    g.ctl.buf = b''
    assert g.ctl.run('true')[0] == 0
    assert stop_mem(g, 'h').endswith(' 0 mismatches')
    done, _ = report(g)
    assert done['status'] == 'ok' and nodes(g)[2]['added']
    assert remove_node(g, 2)['status'] == 'ok'
    g.qmp.cmd('object-del', id='mem-node2')


def test_drop_node_of_a_gone_guest(boot):
    """A guest that will never answer NODE_REMOVE: its node can be
    dropped once the guest is gone (here: it powered off without
    removing it, and QEMU stopped there, -no-shutdown), never while it
    may be using the memory.  Then the backend can be deleted."""
    g = boot(TOPO, vnuma=DEVICE, extra_args=['-no-shutdown'])
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    with pytest.raises(QMPError, match=r'may be using node 2 \(the VM is '
                       r'running\)'):
        g.qmp.cmd('virtio-numa-node-drop', id='vnuma0', node=2)
    g.qmp.cmd('stop')
    with pytest.raises(QMPError, match=r'\(the VM is paused\)'):
        g.qmp.cmd('virtio-numa-node-drop', id='vnuma0', node=2)
    g.qmp.cmd('cont')
    with pytest.raises(QMPError, match='in use'):
        g.qmp.cmd('object-del', id='mem-node2')

    g.ctl.sock.sendall(b'0 poweroff -f\n')
    g.qmp.wait_event('SHUTDOWN', 120)
    deadline = time.monotonic() + 30
    while g.qmp.cmd('query-status')['status'] != 'shutdown':
        assert time.monotonic() < deadline
        time.sleep(0.2)
    with pytest.raises(QMPError, match='has no node 1 added'):
        g.qmp.cmd('virtio-numa-node-drop', id='vnuma0', node=1)
    g.qmp.cmd('virtio-numa-node-drop', id='vnuma0', node=2)
    assert added_nodes(g) == {}
    g.qmp.cmd('object-del', id='mem-node2')


def differing_pages(src, dst, tmp_path, size):
    """Guest-physical addresses of the 4 KiB pages below @size whose
    contents differ between two paused machines."""
    for g, name in ((src, 'src'), (dst, 'dst')):
        g.qmp.cmd('pmemsave', val=0, size=size, filename=str(tmp_path / name))
    diff = []
    chunk = 64 * MiB
    with open(tmp_path / 'src', 'rb') as a, open(tmp_path / 'dst', 'rb') as b:
        for base in range(0, size, chunk):
            x, y = a.read(chunk), b.read(chunk)
            if x != y:
                diff += [base + off for off in range(0, chunk, 4096)
                         if x[off:off + 4096] != y[off:off + 4096]]
    os.unlink(tmp_path / 'src')
    os.unlink(tmp_path / 'dst')
    return diff


def test_migration_keeps_every_write(boot, tmp_path):
    """Pages the guest writes while it migrates all arrive: with both
    machines paused after the migration, their RAM is identical, and
    data the guest churns on node 1 (the second RAM block) verifies on
    the destination.  Under TCG a page whose dirty bit a bitmap sync
    cleared must be write-protected in every vCPU's TLB again; QEMU 10.0
    did that for the RAM block at ram_addr 0 only, and writes to the
    other blocks through a TLB entry made before the sync were lost."""
    # Node 1's block is the larger one: it is sent first, and the guest
    # goes on writing to it while node 0's is sent.
    topo = Topology([Node(256, [0, 1]), Node(768, [2]), Node(0, [])],
                    maxmem_mib=1024 + 1024)
    src = boot(topo, vnuma=DEVICE)
    start_mem(src, 's1', 'stress -n 1 -m 64')
    start_mem(src, 's0', 'stress -n 0 -m 64')
    uri = f'unix:{tmp_path}/migrate.sock'
    dst = boot(topo, vnuma=DEVICE, incoming=uri, extra_args=['-S'])
    # Slow at first: the first pass takes a while, and bitmap syncs
    # follow while the guest writes.
    src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': 96 * MiB})
    src.qmp.cmd('migrate', uri=uri)
    time.sleep(12)
    src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': 8 << 30})
    deadline = time.monotonic() + 180
    while (st := src.qmp.cmd('query-migrate')).get('status') not in \
            ('completed', 'failed', 'cancelled'):
        assert time.monotonic() < deadline, st
        time.sleep(0.2)
    assert st['status'] == 'completed', st
    assert st['ram']['dirty-sync-count'] >= 3, st['ram']
    diff = differing_pages(src, dst, tmp_path, topo.mem_mib * MiB)
    assert not diff, (f'{len(diff)} pages differ after migration: '
                      f'{[hex(a) for a in diff[:16]]}')
    dst.qmp.cmd('cont')
    dst.ctl.buf = b''
    for name in ('s1', 's0'):
        assert stop_mem(dst, name).endswith(' 0 mismatches')
