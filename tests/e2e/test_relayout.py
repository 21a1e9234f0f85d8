# SPDX-License-Identifier: GPL-2.0
"""Relayout end to end: QMP virtio-numa-relayout, the guest driver, the
Dynamic NUMA engine, and what the guest's own mm shows afterwards."""

import os
import re
import statistics
import time

import pytest

from vnuma.device import command_info, nodes, progress_trace, relayout, \
    report, totals, wait_completion
from vnuma.dnuma import memmap_pass, phases, poll_settled, wait_settled
from vnuma.guest import FLAVOUR, Node, Topology
from vnuma.layout import zoneinfo
from vnuma.mem import start_mem, stop_mem
from vnuma.qmp import QMPError

MiB = 1 << 20
PAGE = 4096
# Node 0 owns [0, 1G), node 1 [1G, 1.5G): all DMA32, all below 4 GiB.
TOPO = Topology([Node(1024, [0]), Node(512, [1])])
# The engine's phases, in order (debugfs dnuma/phases).
PHASES = ['check', 'sweep', 'prepare', 'isolate', 'take', 'publish', 'release',
          'blocks', 'nodes', 'zonelists', 'wmarks', 'migrate', 'settle',
          'done']
# How many relayouts the back-and-forth test does (make stress: 1000).
ROUNDS = int(os.environ.get('VNUMA_RELAYOUT_ROUNDS', '100'))


def zone_spans(g):
    """{guest node: (start_pfn, spanned)} of each node's populated zone."""
    return {z['node']: (z['start_pfn'], z['spanned']) for z in zoneinfo(g)
            if z['spanned']}


def node_blocks(g, node):
    out = g.sh(f'ls /sys/devices/system/node/node{node}')
    return sorted(int(b) for b in re.findall(r'^memory(\d+)$', out, re.M))


def assert_consistent(ns, base):
    """Relayout moves pages between nodes, never makes or loses one."""
    for key in ('present-pages', 'managed-pages'):
        assert totals(ns, key) == totals(base, key), (key, ns)
    for n in ns.values():
        assert n['free-pages'] <= n['managed-pages']
        assert n['pending-pages'] <= n['managed-pages']
        assert n['managed-pages'] <= n['present-pages'] + n['pending-pages']


def test_relayout_512m_idle(boot):
    """512 MiB of node 0 moves to node 1: the report, node meminfo, zone
    spans and memory block links all follow, and nothing stays pending."""
    g = boot(TOPO)
    done, _ = report(g)
    base = nodes(g)
    pxm = g.pxm_to_node()
    spans = zone_spans(g)
    assert node_blocks(g, pxm[0]) == list(range(8))

    done = relayout(g, [(512 * MiB, 512 * MiB, 1)])
    assert done['status'] == 'ok', done
    # The engine says where its time went: every phase, adding up.
    ph = phases(g)
    assert list(ph) == PHASES + ['total'], ph
    assert abs(sum(ph[p] for p in PHASES) - ph['total']) < 1e-6, ph
    for p in ('take', 'publish', 'release', 'nodes'):
        assert ph[p] > 0, (p, ph)
    assert 0 < memmap_pass(g, 512 * MiB, 512 * MiB) < ph['total']
    # Rewriting each page's flags in place changes nothing.
    before = nodes(g)
    assert memmap_pass(g, 512 * MiB, 512 * MiB, rmw=True) > 0
    after = nodes(g)
    for nid, n in before.items():
        for key in ('present-pages', 'managed-pages'):
            assert after[nid][key] == n[key], (nid, key, after)
    ns = nodes(g)
    assert_consistent(ns, base)
    moved = 512 * MiB // PAGE
    assert ns[0]['present-pages'] == base[0]['present-pages'] - moved
    assert ns[1]['present-pages'] == base[1]['present-pages'] + moved
    # The free pages moved are node 1's free pages now.  Slack: what the
    # guest allocated meanwhile, and per-cpu lists (free pages not counted
    # as free) whose limits grow with the zone: 2 % + 2 MiB.
    gained = ns[1]['free-pages'] - base[1]['free-pages']
    slack = ns[1]['transplanted-pages'] // 50 + 512
    assert abs(gained - ns[1]['transplanted-pages']) <= slack, (gained, ns)
    if FLAVOUR != 'kasan':   # KASAN's quarantine and shadow live there too
        assert ns[1]['transplanted-pages'] > moved * 9 // 10

    ns = wait_settled(g, [(512 * MiB, 512 * MiB, 1)])
    assert_consistent(ns, base)
    # Managed pages went with the pages that moved, one for one.
    assert base[0]['managed-pages'] - ns[0]['managed-pages'] == \
        ns[1]['transplanted-pages']
    for host in (0, 1):
        mi = g.node_meminfo(pxm[host])
        assert ns[host]['managed-pages'] * 4 == mi['MemTotal']
    # Zone spans as if node 1 had started at 512 MiB since boot.
    after = zone_spans(g)
    n0, n1 = after[pxm[0]], after[pxm[1]]
    assert n0[0] + n0[1] == moved
    assert n1 == (moved, spans[pxm[1]][0] + spans[pxm[1]][1] - moved)
    # Memory blocks 4-7 are node 1's now, links both ways.
    assert node_blocks(g, pxm[0]) == list(range(4))
    assert node_blocks(g, pxm[1]) == list(range(4, 12))
    g.sh(f'test -e /sys/devices/system/memory/memory5/node{pxm[1]}')
    assert not g.run(f'test -e /sys/devices/system/memory/memory5/node{pxm[0]}')[0] == 0
    assert g.read('/sys/kernel/debug/dnuma/layout').strip() == \
        f'0x20000000-0x3fffffff {pxm[1]}'
    # Nothing pending: the allocator's hook is patched out again.
    if not totals(ns, 'pending-pages'):
        assert 'redirect off' in g.read('/sys/kernel/debug/dnuma/stats')
    # The moved memory serves node 1's allocations.
    start_mem(g, 'h', f'hold -n {pxm[1]} -m 600')
    assert stop_mem(g, 'h').endswith(' 0 mismatches')


def test_relayout_back_and_forth(boot, figures):
    """Relayout 256 MiB back and forth while memory on both nodes is
    allocated, freed and verified: no mismatch, exact totals throughout,
    and no drift once the range is back where it began."""
    g = boot(TOPO)
    pxm = g.pxm_to_node()
    # Large enough that they often use the moving range, whichever node
    # has it: pages in use there stay pending and follow when freed.
    # (test_relayout_pending_until_freed makes sure that happens.)
    start_mem(g, 's0', f'stress -n {pxm[0]} -m 400')
    start_mem(g, 's1', f'stress -n {pxm[1]} -m 300')
    report(g)
    base = nodes(g)
    times = []
    for i in range(ROUNDS):
        t0 = time.monotonic()
        done = relayout(g, [(512 * MiB, 256 * MiB, 1 - i % 2)])
        times.append((time.monotonic() - t0) * 1000)
        assert done['status'] == 'ok', (i, done)
        assert_consistent(nodes(g), base)
    assert stop_mem(g, 's0').endswith(' 0 mismatches')
    assert stop_mem(g, 's1').endswith(' 0 mismatches')
    # The last round gave the range to node 1 - (ROUNDS - 1) % 2.
    ns = wait_settled(g, [(512 * MiB, 256 * MiB, 1 - (ROUNDS - 1) % 2)])
    # No drift: present exactly as at the start, managed too once pages
    # still pending (managed by one node, due to the other) are counted.
    for host, other in ((0, 1), (1, 0)):
        assert ns[host]['present-pages'] == base[host]['present-pages']
        assert ns[host]['managed-pages'] - ns[host]['pending-pages'] + \
            ns[other]['pending-pages'] == base[host]['managed-pages'], \
            (host, ns, base)
    stats = g.read('/sys/kernel/debug/dnuma/stats')
    figures(f'{ROUNDS} relayouts of 256 MiB under allocation load, QMP '
            f'to completion, {g.accel}: median '
            f'{statistics.median(times):.0f} ms, max {max(times):.0f} ms; '
            + ', '.join(stats.splitlines()[:6]))


def test_relayout_into_empty_node(boot):
    """A node that has no memory (possible through the hotplug range)
    comes online with the memory, and loses it again."""
    topo = Topology([Node(512, [0]), Node(512, [1]), Node(0, [])],
                    maxmem_mib=4096, slots=2)
    g = boot(topo)
    pxm = g.pxm_to_node()
    assert 2 in pxm
    report(g)
    base = nodes(g)
    assert not base[2]['with-memory']
    done = relayout(g, [(256 * MiB, 128 * MiB, 2)])
    assert done['status'] == 'ok', done
    ns = wait_settled(g, [(256 * MiB, 128 * MiB, 2)])
    assert_consistent(ns, base)
    assert ns[2]['online'] and ns[2]['with-memory']
    assert ns[2]['present-pages'] == 128 * MiB // PAGE
    assert g.node_meminfo(pxm[2])['MemTotal'] == ns[2]['managed-pages'] * 4
    assert str(pxm[2]) in g.read('/sys/devices/system/node/has_memory')
    start_mem(g, 'h', f'hold -n {pxm[2]} -m 64')
    assert stop_mem(g, 'h').endswith(' 0 mismatches')

    done = relayout(g, [(256 * MiB, 128 * MiB, 0)])
    assert done['status'] == 'ok', done
    ns = wait_settled(g, [(256 * MiB, 128 * MiB, 0)])
    assert not ns[2]['with-memory'] and ns[2]['present-pages'] == 0
    assert ns[2]['managed-pages'] == ns[2]['pending-pages']
    for host in (0, 1):
        assert ns[host]['managed-pages'] <= base[host]['managed-pages']
    assert totals(ns, 'managed-pages') == totals(base, 'managed-pages')


def held_range_relayout(g, migrate):
    """Fill most of node 0, relayout its top 512 MiB to node 1."""
    pxm = g.pxm_to_node()
    free = g.node_meminfo(pxm[0])['MemFree'] // 1024
    start_mem(g, 'h', f'hold -n {pxm[0]} -m {free - 128}')
    report(g)
    base = nodes(g)
    done = relayout(g, [(512 * MiB, 512 * MiB, 1)], migrate=migrate)
    assert done['status'] == 'ok', done
    ns = nodes(g)
    assert_consistent(ns, base)
    return base, ns


def test_relayout_pending_until_freed(boot):
    """Pages in use stay on their node (pending) until they are freed;
    then the guest reports the end of the transplant by itself."""
    g = boot(TOPO)
    base, ns = held_range_relayout(g, migrate=False)
    assert ns[0]['pending-pages'] > 128 * MiB // PAGE, ns
    assert ns[1]['pending-pages'] == 0
    assert 'redirect on' in g.read('/sys/kernel/debug/dnuma/stats')
    held = ns[0]['pending-pages']
    assert stop_mem(g, 'h').endswith(' 0 mismatches')
    # Freed, the held pages follow their memory to node 1 at once: the
    # free path redirected them (a sweep only moves free pages it finds).
    # Kernel memory allocated in the range meanwhile (slab, far more of it
    # under KASAN, whose quarantine keeps freed objects' pages in use;
    # page tables) stays pending until the kernel frees it.  KASAN's own
    # pages (its stack depot, shadow of vmalloc'ed stacks) count as
    # "other" with what is left of the held pages: 1.4 % of them once.
    ns = poll_settled(g, 10)
    assert_consistent(ns, base)
    user = ns[0]['pending-pages'] - ns[0]['pending-slab-pages'] - \
        ns[0]['pending-pagetable-pages']
    assert user < held // (25 if FLAVOUR == 'kasan' else 100), ns
    stats = g.read('/sys/kernel/debug/dnuma/stats')
    assert int(re.search(r'redirected (\d+)', stats).group(1)) > held // 2, stats
    # When the last pending page has moved on its own, the guest reports
    # by itself.  If wait_settled() had to migrate the stragglers (KASAN
    # keeps kernel pages pending for longer), that relayout's completion
    # carried the news instead.
    before = g.qmp.cmd('query-virtio-numa')[0]
    seq = before['report-seq']
    last = max((c['command-id'] for c in before['commands']), default=0)
    ns = wait_settled(g, [(512 * MiB, 512 * MiB, 1)])
    migrated = any(c['type'] == 'relayout' and c['command-id'] > last
                   for c in g.qmp.cmd('query-virtio-numa')[0]['commands'])
    if not totals(ns, 'pending-pages') and not migrated:
        assert g.qmp.wait_event('VIRTIO_NUMA_REPORT', 10,
                                match=lambda e: e['data']['report-seq'] > seq)
        assert 'redirect off' in g.read('/sys/kernel/debug/dnuma/stats')


def test_relayout_migrate_progress_and_cancel(boot):
    """With migrate, pages in use move now, contents intact, and the
    relayout says how far its migration came, a section at a time;
    cancelled, it stops migrating: it ends partial with ECANCELED, the
    layout changed, and what it did not migrate stays pending until
    freed."""
    g = boot(TOPO, extra_args=['-trace', 'virtio_numa_progress',
                               '-trace', 'virtio_numa_cancel_asked'])
    pxm = g.pxm_to_node()
    _, ns = held_range_relayout(g, migrate=True)
    assert ns[0]['pending-pages'] < 64 * MiB // PAGE, ns
    cid = g.qmp.cmd('query-virtio-numa')[0]['commands'][-1]['command-id']
    log = open(os.path.join(g.dir, 'qemu.log')).read()
    total = 512 * MiB
    assert progress_trace(log, cid) == [(i * 128 * MiB, total)
                                        for i in range(5)], log
    assert stop_mem(g, 'h').endswith(' 0 mismatches')
    wait_settled(g, [(512 * MiB, 512 * MiB, 1)])

    # The range back to node 0, full of pages in use; cancelled at once.
    free = g.node_meminfo(pxm[1])['MemFree'] // 1024
    start_mem(g, 'h', f'hold -n {pxm[1]} -m {free - 64}')
    report(g)
    before = nodes(g)
    cid = g.qmp.cmd('virtio-numa-relayout', id='vnuma0', migrate=True,
                    ranges=[{'addr': 512 * MiB, 'size': 512 * MiB,
                             'node': 0}])['command-id']
    g.qmp.cmd('virtio-numa-cancel', id='vnuma0', **{'command-id': cid})
    assert command_info(g, cid)['state'] in ('cancelling', 'done')
    done = wait_completion(g, cid, 120)
    assert done['status'] == 'partial' and done['detail'] == 125, done
    ns = nodes(g)
    # The layout changed; the pages in use it did not migrate are pending.
    assert ns[0]['present-pages'] == before[0]['present-pages'] + \
        512 * MiB // PAGE, (before, ns)
    assert ns[1]['pending-pages'] > 64 * MiB // PAGE, ns
    steps = progress_trace(open(os.path.join(g.dir, 'qemu.log')).read(),
                           cid)
    assert steps and steps[-1][0] < total, steps
    assert stop_mem(g, 'h').endswith(' 0 mismatches')
    wait_settled(g, [(512 * MiB, 512 * MiB, 0)])


def test_relayout_bad_requests(boot):
    """Bad ranges are refused, by QEMU or by the guest, naming the
    problem, and nothing changes."""
    topo = Topology([Node(1024, [0]), Node(512, [1]), Node(0, [])])
    # 2 MiB blocks: the device's own checks allow ranges that are not
    # whole sections of the guest; its report's units refuse them.  The
    # SRAT does not describe the empty node 2, so the guest has no node
    # for it.
    g = boot(topo, vnuma='id=vnuma0,block-size=2M',
             extra_args=['-machine', 'x-srat-empty-nodes=off'])
    report(g)
    base = nodes(g)
    assert 2 not in g.pxm_to_node()

    def qmp_err(ranges, match, **kw):
        args = {'ranges': [{'addr': a, 'size': s, 'node': n}
                           for a, s, n in ranges], **kw}
        with pytest.raises(QMPError, match=match):
            g.qmp.cmd('virtio-numa-relayout', id='vnuma0', **args)

    blk = 128 * MiB
    qmp_err([(512 * MiB + 4096, blk, 1)], r"'ranges\[0\].addr' .* block size")
    qmp_err([(512 * MiB, 0, 1)], r"'ranges\[0\].size' .* non-zero")
    qmp_err([(512 * MiB, blk + 4096, 1)], r"'ranges\[0\].size'")
    qmp_err([(512 * MiB, blk, 1), (2 ** 64 - blk, 2 * blk, 1)],
            r"'ranges\[1\].size'")
    # 2 MiB blocks: a huge size must be refused before any block walk.
    qmp_err([(0, 2 ** 62, 1)], r"'ranges\[0\].size' .* larger than the guest")
    qmp_err([(512 * MiB, blk, 3)], r"'ranges\[0\].node' 3 is not a node")
    qmp_err([(4096 * MiB, blk, 1)], r"'ranges\[0\]' .* not all guest RAM")
    qmp_err([(512 * MiB, 2 * blk, 1), (640 * MiB, blk, 0)], 'overlap')
    qmp_err([], "'ranges' must have 1 to 64")
    qmp_err([(i * blk, blk, 1) for i in range(65)],
            "'ranges' must have 1 to 64 entries, not 65")
    # Whole 2 MiB blocks, but not whole sections (the guest's unit).
    qmp_err([(512 * MiB, 2 * MiB, 1)], r"'ranges\[0\]' 0x20000000\+0x200000 "
            r"is not whole units of 0x8000000, the guest's "
            r"'guest-relayout-unit'")

    # QEMU cannot know these; the guest refuses them, naming the field.
    done = relayout(g, [(512 * MiB, blk, 2)])   # no guest node for PXM 2
    assert (done['status'], done['field']) == ('invalid', 'node'), done
    # The first block is RAM to QEMU (its 'ram' map says so: the flat
    # view's pieces below 1 MiB are all RAM without a VGA device), but
    # the guest's firmware reserved parts of it.
    done = relayout(g, [(0, blk, 1)])
    assert (done['status'], done['field']) == ('invalid', 'addr'), done
    # All or nothing: the good first range was not applied either.
    done = relayout(g, [(512 * MiB, blk, 1), (1536 * MiB - blk, blk, 2)])
    assert (done['status'], done['field']) == ('invalid', 'node'), done
    # debugfs refuses malformed input the same way.
    rc, _ = g.run('echo 0x20000000 128M > /sys/kernel/debug/dnuma/relayout')
    assert rc != 0
    for bad in ('0x20000000 100M 1', '0x20000001 128M 1', '0x20000000 128Q 1',
                '0x20000000 128M x', '0x20000000 128M 9'):
        rc, _ = g.run(f'echo {bad} > /sys/kernel/debug/dnuma/relayout')
        assert rc != 0, bad
    # So does the memmap pass: ranges of pages of online memory only.
    for bad in ('0x20000000', '0x20000001 128M', '0x20000000 0',
                '0x20000000 128M 1', 'x 128M', '0x7ffff000 16G',
                '0xfffffffffffff000 8K', '0x20000000 128Mrmw',
                '0x20000000 128M rmw x', '0x20000000 128M read'):
        rc, _ = g.run(f'echo {bad} > /sys/kernel/debug/dnuma/memmap_pass')
        assert rc != 0, bad
    assert g.read('/sys/kernel/debug/dnuma/memmap_pass').strip() == \
        'read pages 0 ns 0'

    report(g)
    ns = nodes(g)
    for host in base:
        for key in ('present-pages', 'managed-pages', 'pending-pages',
                    'transplanted-pages'):
            assert ns[host][key] == base[host][key], (host, key)
    assert g.read('/sys/kernel/debug/dnuma/layout').strip() == ''
    assert 'commits 0' in g.read('/sys/kernel/debug/dnuma/stats')
