# SPDX-License-Identifier: GPL-2.0
"""Dynamic NUMA against the rest of mm: slab, memory hotplug, offlining
and isolation, spare nodes.  Each test first provokes what once broke
(an oops, a WARN, a wrong counter), then checks the guest's own view and
the engine's audit (a recount of every node's pages against the
counters, /sys/kernel/debug/dnuma/audit)."""

import base64
import re
import struct

from vnuma.device import CMD, cmd_bytes, nodes, relayout, report, totals, \
    wait_completion
from vnuma.dnuma import DNUMA, audit, layout, stat, wait_settled
from vnuma.guest import FLAVOUR, Node, Topology
from vnuma.layout import node_list, zoneinfo
from vnuma.mem import start_mem, stop_mem, wait_mem
from vnuma.node import add_node, guest_node, remove_node

MiB = 1 << 20
PAGE = 4096
# Nodes 0 and 1 boot with memory and CPUs; 2 and 3 are empty, for adding.
TOPO = Topology([Node(1024, [0, 1]), Node(512, [2]), Node(0, []), Node(0, [])],
                maxmem_mib=1536 + 2048 + 1024)
DEVICE = 'id=vnuma0,region-size=2G,x-allow-inject=on'


def region_base(g):
    return [d['data'] for d in g.qmp.cmd('query-memory-devices')
            if d['type'] == 'virtio-numa'][0]['memaddr']


def test_slab_on_node_gaining_normal_memory(boot):
    """An added node has only ZONE_MOVABLE, so slab has no per-node
    structures for it.  When a relayout gives it a DMA32 block, slab
    must hear of it before the first slab page is allocated there."""
    g = boot(TOPO, vnuma=DEVICE)
    done, more = add_node(g, 2, 512, cpus=[2])
    assert done['status'] == 'ok' and more[0]['status'] == 'ok', (done, more)
    g2 = guest_node(g, 2)
    assert g2 not in node_list(g.read(
        '/sys/devices/system/node/has_normal_memory'))
    done = relayout(g, [(512 * MiB, 128 * MiB, 2)])
    assert done['status'] == 'ok', done
    # Slab allocations on the node: files opened from its CPU.
    g.sh('taskset -c 2 sh -c "for i in 1 2 3 4 5 6 7 8; do '
         'cat /proc/self/status /proc/meminfo > /dev/null; done"')
    assert g2 in node_list(g.read('/sys/devices/system/node/has_normal_memory'))
    audit(g)
    # Back to node 0; the node keeps only its movable memory.
    assert relayout(g, [(512 * MiB, 128 * MiB, 0)],
                    migrate=True)['status'] == 'ok'
    ns = wait_settled(g, [(512 * MiB, 128 * MiB, 0)])
    # The slab pages allocated there cannot migrate: node 2 keeps them,
    # pending, and the report says why.
    slab = re.search(rf'^node {g2} .* slab (\d+)', audit(g), re.M)
    assert slab and 0 < ns[2]['pending-slab-pages'] <= ns[2]['pending-pages']
    assert ns[2]['pending-other-pages'] <= ns[2]['pending-pages']
    assert remove_node(g, 2)['status'] == 'ok'
    audit(g)


def test_relayout_of_added_memory_refused(boot):
    """Memory NODE_ADD added belongs to its node: a relayout of it is
    refused (by the driver, and by the engine through debugfs), so the
    memory is removed and added again without a stale map entry."""
    g = boot(TOPO, vnuma=DEVICE)
    done, _ = add_node(g, 2, 512)
    assert done['status'] == 'ok', done
    base = region_base(g)
    report(g)
    before = nodes(g)
    done = relayout(g, [(base, 128 * MiB, 1)])
    assert (done['status'], done['field']) == ('invalid', 'addr'), done
    rc, out = g.run(f'echo {base:#x} 128M 1 > /sys/kernel/debug/dnuma/relayout')
    assert rc != 0
    assert 'memory group' in g.console()
    assert layout(g) == []
    # Removed and added again at the same place: nothing redirects it.
    assert remove_node(g, 2)['status'] == 'ok'
    g.qmp.cmd('object-del', id='mem-node2')
    done, _ = add_node(g, 2, 512)
    assert done['status'] == 'ok', done
    report(g)
    ns = nodes(g)
    for key in ('present-pages', 'managed-pages'):
        assert ns[2][key] == before[2][key], key
    assert layout(g) == []
    audit(g)
    # An unrelated relayout with pages held completes.  The hold leaves
    # room for the kernel: KASAN's shadow takes an eighth of each node.
    free = g.node_meminfo(guest_node(g, 0))['MemFree'] // 1024
    start_mem(g, 'h', f'hold -n {guest_node(g, 0)} -m {free - 160}')
    done = relayout(g, [(512 * MiB, 128 * MiB, 1)])
    assert done['status'] == 'ok', done
    assert stop_mem(g, 'h').endswith(' 0 mismatches')
    wait_settled(g, [(512 * MiB, 128 * MiB, 1)])
    audit(g)


def test_map_follows_offline(boot):
    """A relayouted block that goes offline leaves the map; onlined again
    it is its memory block's node's memory from the start.  The block is
    one early boot left alone: memblock (and KASAN's shadow) allocate from
    the top of node 0, and reserved pages never go offline."""
    g = boot(Topology([Node(1024, [0]), Node(512, [1])]))
    pxm = g.pxm_to_node()
    assert relayout(g, [(512 * MiB, 128 * MiB, 1)])['status'] == 'ok'
    wait_settled(g, [(512 * MiB, 128 * MiB, 1)])
    assert layout(g) == [(512 * MiB, 128 * MiB, pxm[1])]
    g.sh('echo offline > /sys/devices/system/memory/memory4/state')
    assert layout(g) == []
    audit(g)
    g.sh('echo online > /sys/devices/system/memory/memory4/state')
    g.sh(f'test -e /sys/devices/system/node/node{pxm[1]}/memory4')
    report(g)
    audit(g)


def test_poisoned_pages_follow_their_memory(boot):
    """Pages memory failure takes for good move with their memory: a
    soft-offlined page (freed) and an anonymous page hard-poisoned in use
    (unmapped and kept, its ->mapping still naming its old anon_vma).
    Once stayed pending for good (make stress's torture found thousands
    after 15 minutes)."""
    topo = Topology([Node(512, [0]), Node(512, [1]), Node(0, [])],
                    maxmem_mib=4096, slots=2)
    g = boot(topo)
    pxm = g.pxm_to_node()
    # Node 2's only memory is [256 MiB, +128 MiB): every page poisoned
    # on node 2 is in the range.
    assert relayout(g, [(256 * MiB, 128 * MiB, 2)])['status'] == 'ok'
    wait_settled(g, [(256 * MiB, 128 * MiB, 2)])
    g.expected_log += [r'Memory failure:', r'Soft offlining', r'Injecting']
    out = g.sh(f'vnuma-mem poison -n {pxm[2]} -t 3 -i 20')
    m = re.search(r'done: (\d+) soft-offlined, (\d+) poisoned, 0 mismatches',
                  out)
    assert m and int(m.group(1)) and int(m.group(2)), out
    assert relayout(g, [(256 * MiB, 128 * MiB, 0)],
                    migrate=True)['status'] == 'ok'
    ns = wait_settled(g, [(256 * MiB, 128 * MiB, 0)])
    # What may stay is slab (KASAN's quarantine holds freed objects'
    # pages): no poisoned page, which the report counts as "other".
    # KASAN's own kernel pages count as "other" too (4 once): there, a
    # few, none of them poisoned among those listed.
    pending = g.read('/sys/kernel/debug/dnuma/pending')
    other = ns[2]['pending-pages'] - ns[2]['pending-slab-pages']
    assert other <= (8 if FLAVOUR == 'kasan' else 0) and \
        'hwpoison' not in pending, (ns[2], pending)
    assert not ns[2]['with-memory']
    audit(g)


def test_offline_refused_while_pending(boot):
    """A block whose pages still have to follow their memory to another
    node cannot go offline: its pages are in two zones.  Refused with
    EBUSY and a reason, without a warning, and nothing changes; once its
    pages followed, dnuma no longer stands in the way."""
    g = boot(Topology([Node(1024, [0]), Node(512, [1])]))
    pxm = g.pxm_to_node()
    free = g.node_meminfo(pxm[0])['MemFree'] // 1024
    start_mem(g, 'h', f'hold -n {pxm[0]} -m {free - 128}')
    assert relayout(g, [(512 * MiB, 512 * MiB, 1)])['status'] == 'ok'
    report(g)
    assert nodes(g)[0]['pending-pages'] > 64 * MiB // PAGE
    rc, out = g.run('echo offline > /sys/devices/system/memory/memory7/state')
    assert rc != 0 and 'busy' in out.lower(), out
    assert g.read('/sys/devices/system/memory/memory7/state').strip() == 'online'
    audit(g)
    assert stop_mem(g, 'h').endswith(' 0 mismatches')
    wait_settled(g, [(512 * MiB, 512 * MiB, 1)])
    # Kernel pages that cannot move stay pending, and keep their block
    # online; a block with none left may go offline (or fail for reasons
    # of its own: kernel allocations of node 1 since are unmovable).
    g.expected_log.append(r'page dumped because: unmovable page')
    busy = {int(a, 16) // (128 * MiB) for a in re.findall(
        r'^section (0x[0-9a-f]+) pending', g.read(
            '/sys/kernel/debug/dnuma/pending'), re.M)}
    for block in range(4, 8):
        rc, out = g.run('echo offline > '
                        f'/sys/devices/system/memory/memory{block}/state')
        if block in busy:
            assert rc != 0, block
        elif rc == 0:
            g.sh(f'echo online > /sys/devices/system/memory/memory{block}/state')
    audit(g)


def test_node_add_refused_keeps_spare_node(boot):
    """A NODE_ADD the guest refuses must not use up a spare node: with
    one spare node, a refused NODE_ADD for host node 3 leaves it for a
    good NODE_ADD for host node 2."""
    topo = Topology([Node(1024, [0, 1]), Node(512, [2]), Node(0, []),
                     Node(0, []), Node(0, [])], maxmem_mib=1536 + 2048 + 1024)
    g = boot(topo, vnuma='id=vnuma0,region-size=2G,block-size=2M,'
             'x-allow-inject=on', append='numa_spare_nodes=1',
             extra_args=['-machine', 'x-srat-empty-nodes=off'])
    pxm = g.pxm_to_node()
    assert 2 not in pxm and 3 not in pxm
    base = region_base(g)
    # Aligned to the device's 2 MiB blocks, not to the guest's memory
    # blocks: the guest refuses it, naming the address.
    data = cmd_bytes(900, CMD['node-add'],
                     struct.pack('<IIQQ', 3, 0, base + 2 * MiB, 128 * MiB))
    r = g.qmp.cmd('x-virtio-numa-inject', id='vnuma0',
                  data=base64.b64encode(data).decode())
    done = wait_completion(g, r['command-id'])
    assert (done['status'], done['field']) == ('invalid', 'addr'), done
    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    report(g)
    assert nodes(g)[2]['present-pages'] == 256 * MiB // PAGE
    assert remove_node(g, 2)['status'] == 'ok'
    assert totals(nodes(g), 'pending-pages') == 0


def commit_state(g):
    """What a relayout that failed must leave as it was, and the audit's
    verdict, read in one round trip: the fault injection test reads them
    after each of its fault points, over a hundred of them, and a round
    trip takes a tenth of a second on KASAN."""
    node = '/sys/devices/system/node'
    states = ('online', 'has_memory', 'has_normal_memory')
    f = g.read_files([f'{DNUMA}/layout', '/proc/zoneinfo', f'{DNUMA}/stats'] +
                     [f'{node}/{s}' for s in states] + [f'{DNUMA}/audit'])
    zones = [(z['node'], z['zone'], z.get('present'), z.get('spanned'))
             for z in zoneinfo(g, f['/proc/zoneinfo'])]
    state = {'layout': layout(g, f[f'{DNUMA}/layout']), 'zones': zones}
    for s in states:
        state[s] = f[f'{node}/{s}'].strip()
    state['commits'] = stat(g, 'commits', f[f'{DNUMA}/stats'])
    return state, f[f'{DNUMA}/audit']


def test_fault_injection_changes_nothing(boot):
    """Each step of a commit that can fail (allocations, the map, the
    notifiers' veto, isolation, bringing a node online) is made to fail
    in turn (/proc/self/fail-nth): after each failure the layout, zones,
    node states and the audit are exactly as before; then it succeeds."""
    topo = Topology([Node(1024, [0]), Node(512, [1]), Node(0, [])],
                    maxmem_mib=4096, slots=2)
    g = boot(topo)
    pxm = g.pxm_to_node()
    # Pages pending from an earlier relayout: the next one retargets.
    free = g.node_meminfo(pxm[0])['MemFree'] // 1024
    start_mem(g, 'h', f'hold -n {pxm[0]} -m {free - 128}')
    assert relayout(g, [(512 * MiB, 256 * MiB, 1)])['status'] == 'ok'
    report(g)
    assert nodes(g)[0]['pending-pages'] > 0
    before, out = commit_state(g)
    assert before['layout'] == [(512 * MiB, 256 * MiB, pxm[1])], before
    assert before['zones'] and before['commits'] > 0, before
    audit(g, out)
    # Node 2 has no memory and is offline: it is brought online, and
    # slab hears it gains normal memory; [512 MiB, +128 MiB) retargets.
    write = (f'echo {512 * MiB:#x} 128M {pxm[2]} {768 * MiB:#x} 128M '
             f'{pxm[1]} > /sys/kernel/debug/dnuma/relayout')
    # fail-nth counts every fault point the task passes, failslab's too: a
    # GFP_NOWAIT slab allocation on the way (KASAN's kernel makes one) would
    # take a number and fail quietly.  Only dnuma's points count here.
    g.sh('echo Y > /sys/kernel/debug/failslab/cache-filter')
    for n in range(1, 200):
        rc, out = g.run(f'echo {n} > /proc/self/fail-nth && {write}')
        if rc == 0:
            break
        state, verdict = commit_state(g)
        assert state == before, n
        try:
            audit(g, verdict)
        except AssertionError as e:
            raise AssertionError(f'after fault point {n} failed ({out.strip()}, '
                                 f'{g.console().splitlines()[-1]}):\n{e}') \
                from None
    assert n > 8, f'only {n - 1} steps could fail'
    assert layout(g) == [(512 * MiB, 128 * MiB, pxm[2]),
                         (640 * MiB, 256 * MiB, pxm[1])]
    audit(g)
    assert stop_mem(g, 'h').endswith(' 0 mismatches')


def test_audit_while_pending_pages_are_freed(boot):
    """Pending pages freed while the audit walks move under it: the walk
    and the counters disagree for a moment.  The audit must not report
    that as a difference: it walks again until no page moved during a
    pass.  Here a process frees its memory, most of it pending, a page
    at a time while the audit runs."""
    g = boot(Topology([Node(512, [0]), Node(1024, [1])]))
    pxm = g.pxm_to_node()
    start_mem(g, 'r', f'release -p {pxm[1]} -m 256')
    # All of node 1's memory but its last section (not all RAM) goes to
    # node 0: most pages of the process are pending.
    assert relayout(g, [(512 * MiB, 896 * MiB, 0)])['status'] == 'ok'
    g.sh('kill -TERM $(cat /tmp/r.pid)')
    # It verifies everything first.
    wait_mem(g, 'r', 'releasing', 60, interval=0.05)
    before = stat(g, 'redirected')
    audit(g)
    # Pages did move while it ran.
    assert stat(g, 'redirected') > before
    log = wait_mem(g, 'r', 'done')
    assert log.strip().endswith(' 0 mismatches'), log
    audit(g)


def test_suspend_resume(boot):
    """S3 resets the device: the driver takes its queues down when the
    guest suspends (freeze) and brings them back at resume (restore),
    keeping what it knows; the layout, the accounting and commands all
    work afterwards.  Hibernation is refused while a node is added: the
    kernel that would restore the image has no such memory."""
    g = boot(TOPO, vnuma=DEVICE, extra_args=['-global', 'ICH9-LPC.disable_s3=0'])
    pxm = g.pxm_to_node()
    assert relayout(g, [(512 * MiB, 128 * MiB, 1)])['status'] == 'ok'
    wait_settled(g, [(512 * MiB, 128 * MiB, 1)])
    report(g)
    before = nodes(g)
    assert 'deep' in g.read('/sys/power/mem_sleep')
    g.sh('echo deep > /sys/power/mem_sleep')
    seq = g.ctl.start('echo mem > /sys/power/state')
    g.qmp.wait_event('SUSPEND', 60)
    g.qmp.cmd('system_wakeup')
    g.qmp.wait_event('WAKEUP', 60)
    rc, out = g.ctl.finish(seq, 120)
    assert rc == 0, out
    assert 'PM: suspend exit' in g.console()
    report(g)
    after = nodes(g)
    for host in before:
        for key in ('present-pages', 'managed-pages', 'guest-node'):
            assert after[host][key] == before[host][key], (host, key)
    assert layout(g) == [(512 * MiB, 128 * MiB, pxm[1])]
    assert relayout(g, [(512 * MiB, 128 * MiB, 0)])['status'] == 'ok'
    audit(g)

    done, _ = add_node(g, 2, 256)
    assert done['status'] == 'ok', done
    g.expected_log.append(r'hibernation refused')
    rc, out = g.run('echo disk > /sys/power/state')
    assert rc != 0, out
    assert 'hibernation refused: node' in g.console()
    assert remove_node(g, 2)['status'] == 'ok'
    audit(g)


def test_driver_allocation_failure_keeps_completion(boot):
    """The driver's event buffers are allocated per event: when that fails
    (failslab, only in the driver's event path), the completion still
    goes out, from the buffer kept in reserve.  And a bad online_policy
    is refused when written."""
    g = boot(Topology([Node(512, [0]), Node(512, [1])]))
    # The driver's code: its only allocation while it answers a REPORT
    # is the event buffer.
    text = [int(a, 16) for a in re.findall(
        r'^([0-9a-f]+) [tT] \S+\s+\[virtio_numa\]$',
        g.read('/proc/kallsyms'), re.M)]
    start, end = min(text), max(text) + 1
    fs = '/sys/kernel/debug/failslab'
    for name, value in (('ignore-gfp-wait', 'N'), ('verbose', '0'),
                        ('require-start', start), ('require-end', end),
                        ('stacktrace-depth', 32), ('space', 0),
                        ('times', 3), ('probability', 100)):
        g.sh(f'echo {value} > {fs}/{name}')
    for _ in range(3):
        done, _ = report(g)
        assert done['status'] == 'ok', done
    assert g.read(f'{fs}/times').strip() == '0'   # all three failed
    g.sh(f'echo 0 > {fs}/probability')

    p = '/sys/module/virtio_numa/parameters/online_policy'
    assert g.read(p).strip() == 'movable'
    rc, out = g.run(f'echo sideways > {p}')
    assert rc != 0 and 'Invalid argument' in out, out
    g.sh(f'echo kernel > {p}')
    assert g.read(p).strip() == 'kernel'


def test_reboot_after_relayout(boot):
    """A guest that reboots (the machine resets, QEMU goes on) starts
    with the firmware's layout again, and the device works."""
    g = boot(Topology([Node(1024, [0]), Node(512, [1])]), reboot=True)
    assert relayout(g, [(512 * MiB, 128 * MiB, 1)])['status'] == 'ok'
    assert layout(g) != []
    g.ctl.start('reboot -f')
    g.wait_reboot()
    assert layout(g) == []
    done, _ = report(g)
    assert done['status'] == 'ok', done
    assert relayout(g, [(512 * MiB, 128 * MiB, 1)])['status'] == 'ok'
    audit(g)
