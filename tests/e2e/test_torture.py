# SPDX-License-Identifier: GPL-2.0
"""Torture: relayouts racing with everything else in mm that moves memory
or changes a page's zone, all at once, while a workload verifies its
data: sysfs memory offline/online of the moving blocks and their
neighbours, virtio-mem plug and unplug on the same node, memory failure
(MADV_HWPOISON) and soft offline, compaction, transparent huge pages,
hugetlb pool growth and shrinking, node add and remove.  At the end: no
kernel splat, no data mismatch, and the engine's audit finds nothing.

VNUMA_TORTURE_SECONDS sets how long (make check: 45 s; make stress: 900 s).
"""

import os
import random
import re
import time

from vnuma.device import nodes, relayout, report, totals
from vnuma.dnuma import audit, stat, wait_settled
from vnuma.guest import FLAVOUR, Node, Topology
from vnuma.mem import start_mem, stop_mem
from vnuma.node import add_node, remove_node
from vnuma.qmp import QMPError
from vnuma.vmem import vmem_request, vmem_set

MiB = 1 << 20
SECONDS = int(os.environ.get('VNUMA_TORTURE_SECONDS', '45'))
# Node 0: [0, 1 GiB), node 1: [1 GiB, 1.5 GiB), node 2 empty (added and
# removed); virtio-mem plugs up to 256 MiB more on node 0.
TOPO = Topology([Node(1024, [0]), Node(512, [1]), Node(0, [])],
                maxmem_mib=1536 + 1024 + 256 + 512)
VMEM = ['-object', 'memory-backend-ram,id=vmem0,size=256M',
        '-device', 'virtio-mem-pci,id=vm0,memdev=vmem0,node=0,'
        'requested-size=0']
# The memory that moves back and forth: memory blocks 4 and 5.
BLOCKS = (512 * MiB, 640 * MiB)
# Kernel lines the torture provokes on purpose, and which say nothing
# went wrong: offlining and isolation that found unmovable pages, and
# memory failure's own reports.
EXPECTED = [r'page dumped because: (unmovable page|migration failure|'
            r'isolation failed)',
            r'Memory failure:', r'soft offline:', r'soft_offline:',
            r'MCE: Killing', r'virtio_mem virtio\d+: ']
# Guest loops, each until /tmp/stop exists; each counts its rounds.
LOOPS = {
    # Offline and online the moving blocks and their neighbours (failing
    # with EBUSY while pages are pending, or for unmovable pages).
    # Online again as kernel memory (DMA32), where it was: "online" would
    # follow memhp_default_state, movable.
    # Offlining retries pages that do not migrate until a signal comes:
    # give up after 5 s, as virtio-numa's own removal does.  It must: a
    # soft offline (MADV_SOFT_OFFLINE) holds a reference on its page
    # while it waits for get_online_mems(), which offline_pages() holds
    # for writing as it retries that very page.  SIGTERM, not SIGINT: a
    # background job ignores SIGINT, and offlining never saw it (a
    # relayout then waited behind it for good, in make stress).
    'offline': 'for b in 3 4 5 6 7; do f=/sys/devices/system/memory/'
               'memory$b/state; timeout -s TERM 5 sh -c "echo offline > $f"; '
               'echo online_kernel > $f; done',
    'compact': 'echo 1 > /proc/sys/vm/compact_memory; sleep 0.3',
    'hugetlb': 'h=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages; '
               'echo 24 > $h; sleep 0.2; echo 0 > $h',
}


def start_loops(g):
    for name, body in LOOPS.items():
        g.sh(f'(n=0; while [ ! -e /tmp/stop ]; do {body}; n=$((n+1)); '
             f'echo $n > /tmp/{name}.n; done) >/dev/null 2>&1 & '
             f'echo $! > /tmp/{name}.pid')


def stop_loops(g):
    """Stop the guest loops; return how many rounds each made."""
    g.sh('touch /tmp/stop')
    counts = {}
    for name in LOOPS:
        deadline = time.monotonic() + 120
        while g.run(f'kill -0 $(cat /tmp/{name}.pid) 2>/dev/null')[0] == 0:
            assert time.monotonic() < deadline, name
            time.sleep(0.5)
        counts[name] = int(g.read(f'/tmp/{name}.n').strip() or 0)
    return counts


def delete_backend(g, memdev):
    """Delete @memdev if it exists (a node-add QMP refused may not have
    got as far as using it, but object-add made it)."""
    if memdev in [o['name'] for o in g.qmp.cmd('qom-list', path='/objects')]:
        g.qmp.cmd('object-del', id=memdev)


def test_torture(boot, figures):
    append = 'virtio_numa.offline_timeout_ms=2000'
    if FLAVOUR == 'debug':
        append += ' debug_pagealloc=on page_poison=1'
    g = boot(TOPO, vnuma='id=vnuma0,region-size=1G', append=append,
             extra_args=VMEM)
    g.expected_log += EXPECTED
    pxm = g.pxm_to_node()
    g.sh('echo always > /sys/kernel/mm/transparent_hugepage/enabled')
    report(g)
    base = nodes(g)
    start_mem(g, 's0', f'stress -p {pxm[0]} -m 200')
    start_mem(g, 's1', f'stress -p {pxm[1]} -H -m 128')
    # Memory errors on node 1 (its boot memory, and the moving range while
    # it is node 1's), away from virtio-mem: a poisoned page keeps its
    # block from being unplugged, or onlined again once offline, for good.
    start_mem(g, 'poison', f'poison -n {pxm[1]} -i 100')
    start_loops(g)

    rng = random.Random(12)
    stats = {'relayout': {}, 'vmem': 0, 'node-add': {}, 'node-remove': {}}
    added = False
    deadline = time.monotonic() + SECONDS
    i = 0
    while time.monotonic() < deadline:
        i += 1
        # One range per block: offlined and onlined again, a block may
        # come back in another kind of zone (ZONE_NORMAL below 4 GiB when
        # its node's DMA32 span no longer reaches it), and one range must
        # be one kind of zone.
        # A block offlined with a poisoned page in it stays offline for
        # good, and refuses every command that names it: only blocks
        # online now are moved, or one such block would end the torture's
        # relayouts for the rest of the run (it did once: 3710 refusals).
        st = stats['relayout']
        ranges = [(b, 128 * MiB, i % 2) for b in BLOCKS
                  if 'online' in g.read('/sys/devices/system/memory/'
                                        f'memory{b // (128 * MiB)}/state')]
        done = relayout(g, ranges, migrate=rng.random() < 0.2,
                        timeout=300) if ranges else {'status': 'skipped'}
        st[done['status']] = st.get(done['status'], 0) + 1
        # Refusals name a reason: blocks offline (addr) or isolated (busy).
        assert done['status'] in ('ok', 'busy', 'invalid', 'skipped'), done
        if i % 3 == 0:
            vmem_request(g, {'vm0': rng.choice([0, 128 * MiB, 256 * MiB])})
            stats['vmem'] += 1
        if i % 5 == 0:
            if not added:
                memdev = f'n2-{i}'
                try:
                    done, _ = add_node(g, 2, 128, memdev=memdev)
                except QMPError:
                    done = {'status': 'refused'}
                key = 'node-add'
                added = done['status'] == 'ok'
            else:
                done = remove_node(g, 2)
                key = 'node-remove'
                added = done['status'] != 'ok'
            # A backend no node uses goes: each holds its memory in QEMU
            # (15 minutes of torture once took the host's 24 GiB).
            if not added:
                delete_backend(g, memdev)
            stats[key][done['status']] = stats[key].get(done['status'], 0) + 1

    counts = stop_loops(g)
    poisoned = stop_mem(g, 'poison', timeout=300)
    m = re.search(r'done: (\d+) soft-offlined, (\d+) poisoned, 0 mismatches',
                  poisoned)
    assert m and int(m.group(1)) and int(m.group(2)), poisoned
    for name in ('s0', 's1'):
        assert stop_mem(g, name, timeout=300).endswith(' 0 mismatches'), name
    vmem_set(g, {'vm0': 0}, timeout=180)
    while added:
        added = remove_node(g, 2)['status'] != 'ok'
    if i >= 5:
        delete_backend(g, memdev)
    assert not [o['name'] for o in g.qmp.cmd('qom-list', path='/objects')
                if o['name'].startswith('n2-')]
    # Everything online again, the range back home, what can move moved.
    boot_blocks = ' '.join(f'/sys/devices/system/memory/memory{b}/state'
                           for b in range(12))
    _, out = g.run(f'for f in {boot_blocks}; do grep -q offline $f && '
                   '{ echo $f; echo online_kernel > $f; }; done')
    # A block offlined with a poisoned page in it stays offline (EHWPOISON).
    offline = [int(b) for b in re.findall(
        r'memory(\d+)/state:offline', g.sh(f'grep . {boot_blocks}'))]
    assert out.count('hardware error') == len(offline), out
    home = [(b, 128 * MiB, 0) for b in BLOCKS
            if b // (128 * MiB) not in offline]
    if home:
        done = relayout(g, home, migrate=True, timeout=300)
        assert done['status'] == 'ok', done
        wait_settled(g, home)
    out = audit(g)
    report(g)
    ns = nodes(g)
    # virtio-mem gave back what it plugged, node 2 is gone again, and a
    # block that stayed offline took its present pages along; poisoned
    # pages stay managed (the audit checked managed pages exactly).
    gone = len(offline) * 128 * MiB // 4096
    assert totals(ns, 'present-pages') == totals(base, 'present-pages') - \
        gone, (ns, base, offline)
    if not offline:
        assert totals(ns, 'managed-pages') == totals(base, 'managed-pages')
    # Each kind of traffic really happened.
    vmstat = dict(line.split() for line in g.read('/proc/vmstat').splitlines())
    for key in ('thp_fault_alloc', 'htlb_buddy_alloc_success',
                'compact_migrate_scanned'):
        assert int(vmstat.get(key, 0)) > 0, key
    assert min(counts.values()) > 0, counts
    # Most relayouts did move memory: refusals are the blocks the offline
    # loop has offline at that moment, and isolation races.
    st = stats['relayout']
    assert 2 * st.get('ok', 0) >= sum(st.values()) - st.get('skipped', 0), st
    irqoff = stat(g, 'irqoff_max_ns')
    figures(f'torture {SECONDS} s ({FLAVOUR}, {g.accel}): {i} relayouts '
            f'{stats["relayout"]}, virtio-mem resizes {stats["vmem"]}, '
            f'node add {stats["node-add"]}, remove {stats["node-remove"]}, '
            f'guest loops {counts}, memory errors {m.group(1)} soft, '
            f'{m.group(2)} hard; longest IRQs-off step '
            f'{irqoff / 1000:.0f} us; audit: '
            f'{out.strip().splitlines()[-1]}')
