#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Relayout vs the only alternative a user has today, in one guest run.

Moving SIZE of memory from node 0 to node 1:
  relayout    virtio-numa-relayout of SIZE of node 0's boot memory to
              node 1, QMP command to completion (the guest has moved every
              free page; an idle range leaves nothing pending);
  virtio-mem  unplug SIZE from a virtio-mem device on node 0 and plug
              SIZE into one on node 1 (requested-size), QMP to both
              devices reporting the new size.
Prints medians, GiB/s and the ratio; then the engine's own time (debugfs
dnuma/phases) against one pass over the range's struct pages
(dnuma/memmap_pass) in the same guest.  Uses the perf kernel flavour.

usage: tests/bench/relayout.py [--runs N] [--sizes 1G,4G]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from vnuma.device import relayout, report, nodes  # noqa: E402
from vnuma.dnuma import memmap_pass, median_phases, phases, poll_settled, \
    print_phase_table  # noqa: E402
from vnuma.guest import Guest, Node, Topology, parse_size, versions  # noqa: E402
from vnuma.vmem import vmem_set  # noqa: E402

GiB = 1 << 30
# Node 0: 7 GiB, [0, 2G) and [4G, 9G) (q35 puts 2 GiB below 4 GiB);
# node 1: 1 GiB at [9G, 10G).  The moved ranges start at 5 GiB: the
# kernel's own boot allocations (unmovable) sit at the start of 4 GiB.
TOPO = Topology([Node(7168, [0]), Node(1024, [1])], maxmem_mib=8192 + 8192,
                slots=2)
START = 5 << 30
VMEM = ['-object', 'memory-backend-ram,id=vmem0,size=4G',
        '-device', 'virtio-mem-pci,id=vm0,memdev=vmem0,node=0,requested-size=4G',
        '-object', 'memory-backend-ram,id=vmem1,size=4G',
        '-device', 'virtio-mem-pci,id=vm1,memdev=vmem1,node=1,requested-size=0']


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--sizes', default='1G,4G')
    args = ap.parse_args()
    sizes = [parse_size(s) << 20 for s in args.sizes.split(',')]

    v = versions()
    # The memmap of virtio-mem's memory lives in that memory, not in
    # node 0's boot memory, where it would stay pending (unmovable).
    g = Guest(TOPO, flavour='perf', extra_args=VMEM, boot_timeout=600,
              append='memory_hotplug.memmap_on_memory=1')
    print(f"Linux {v.get('LINUX_VERSION')} (perf flavour), QEMU "
          f"{v.get('QEMU_VERSION')}, accelerator {g.accel}; guest: node 0 7 GiB, "
          f"node 1 1 GiB, virtio-mem 4 GiB on node 0 (plugged), 4 GiB on node 1")
    try:
        g.start()
        vmem_set(g, {'vm0': 4 * GiB, 'vm1': 0})
        report(g)
        rows = []
        for size in sizes:
            rel, mem, eng, floor, rmw = [], [], [], [], []
            for _ in range(args.runs):
                # virtio-mem's guest driver goes on after its device
                # reports the new size, with device_hotplug_lock, which a
                # relayout takes too: time the relayout on its own, with
                # the last round's pages settled and the page cache gone,
                # so that the range is as idle each time.
                time.sleep(2)
                g.sh('sync; echo 3 > /proc/sys/vm/drop_caches')
                poll_settled(g, 10)
                t0 = time.monotonic()
                done = relayout(g, [(START, size, 1)], timeout=600)
                rel.append(time.monotonic() - t0)
                assert done['status'] == 'ok', done
                eng.append(phases(g))
                floor.append(memmap_pass(g, START, size))
                rmw.append(memmap_pass(g, START, size, rmw=True))
                pend = sum(n['pending-pages'] for n in nodes(g).values())
                relayout(g, [(START, size, 0)], migrate=True, timeout=600)

                t0 = time.monotonic()
                vmem_set(g, {'vm0': 4 * GiB - size, 'vm1': size})
                mem.append(time.monotonic() - t0)
                vmem_set(g, {'vm0': 4 * GiB, 'vm1': 0})
            r, m = statistics.median(rel), statistics.median(mem)
            rows.append((size, r, m, pend, median_phases(eng),
                         statistics.median(floor), statistics.median(rmw)))
        print(f"\n{'moved':>6}  {'relayout':>10} {'GiB/s':>7}  "
              f"{'virtio-mem unplug+plug':>22} {'GiB/s':>7}  {'speed-up':>8}  "
              f"pending after relayout")
        for size, r, m, pend, _e, _f, _w in rows:
            print(f"{size // GiB:>4} G  {r * 1000:>8.0f} ms {size / GiB / r:>7.1f}  "
                  f"{m * 1000:>19.0f} ms {size / GiB / m:>7.2f}  {m / r:>7.1f}x  "
                  f"{pend} pages")
        print(f'(median of {args.runs} runs each; QMP command to completion; '
              f'{g.accel}, so absolute figures are emulated time; goal >= 10x)')
        print(f"\n{'moved':>6}  {'QMP':>9}  {'engine':>9}  {'device+driver':>13}  "
              f"{'memmap pass':>11}  {'engine/memmap':>13}")
        for size, r, m, pend, ph, f, _w in rows:
            e = ph['total']
            print(f"{size // GiB:>4} G  {r * 1000:>6.1f} ms  {e * 1000:>6.1f} ms  "
                  f"{(r - e) * 1000:>10.1f} ms  {f * 1000:>8.2f} ms  {e / f:>12.1f}x")
        print('(engine: the kernel from the relayout call to its return, '
              'debugfs dnuma/phases; memmap pass: each struct page of the '
              'range read once, same guest; goal <= 2x)')
        print('\nengine phases, ms (median per phase)')
        print_phase_table([(f'{size // GiB}G to 1', ph, f, w)
                           for size, _r, _m, _p, ph, f, w in rows])
        g.poweroff()
    finally:
        g.cleanup()


if __name__ == '__main__':
    main()
