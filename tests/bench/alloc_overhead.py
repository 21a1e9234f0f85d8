#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Page allocator cost of Dynamic NUMA, in one run.

The same guest microbenchmark (vnuma-mem bench: map anonymous memory,
fault every page in, unmap) on:
  nodnuma   the perf kernel built with CONFIG_DYNAMIC_NUMA=n;
  idle      the perf kernel, nothing pending (the free path's hook is a
            patched-out jump);
  pending   the perf kernel while a transplant is pending (every free
            looks its section up).
Guests run under icount (guest time counts instructions) with THP off,
so that every fault takes an order-0 page.  Runs of one guest still vary
by a few per cent, and so do two guests of different kernels: the pending
row against the idle one, in the same guest, is the steadier comparison.
Prints ns/page and ratios.

usage: tests/bench/alloc_overhead.py [--mib 64] [--rounds 4] [--runs 7]
"""
import argparse
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from vnuma.guest import Guest, Node, Topology, versions  # noqa: E402

TOPO = Topology([Node(1024, [0]), Node(512, [1])])


def bench(g, args):
    out = []
    for _ in range(args.runs):
        line = g.sh(f'vnuma-mem bench -m {args.mib} -r {args.rounds}', timeout=900)
        out.append(float(re.search(r'([\d.]+) ns/page', line).group(1)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--mib', type=int, default=64)
    ap.add_argument('--rounds', type=int, default=4)
    ap.add_argument('--runs', type=int, default=7)
    args = ap.parse_args()
    v = versions()
    print(f"Linux {v.get('LINUX_VERSION')}, perf flavours, QEMU "
          f"{v.get('QEMU_VERSION')}, TCG with icount (shift=0); "
          f"vnuma-mem bench -m {args.mib} -r {args.rounds}, {args.runs} runs each")
    res = {}
    for name, flavour in (('nodnuma', 'perf-nodnuma'), ('idle', 'perf')):
        g = Guest(TOPO, flavour=flavour, icount=True, boot_timeout=600)
        try:
            g.start()
            # Order-0 pages only: whether a fault gets a huge page depends
            # on how fragmented node 0 happens to be, and one that does
            # costs a 512th per page; that swung a kernel's figure 7-fold.
            g.sh('echo never > /sys/kernel/mm/transparent_hugepage/enabled')
            # The same memory held in every run: for the pending run it
            # fills node 0's top block, which then moves with pages in use.
            g.sh('vnuma-mem hold -n 0 -m 900 > /tmp/h.log 2>&1 & sleep 1; '
                 'while ! grep -q ready /tmp/h.log; do sleep 1; done')
            res[name] = bench(g, args)
            if name == 'idle':
                # Every free now looks its section up.
                g.sh('echo 0x38000000 128M 1 > /sys/kernel/debug/dnuma/relayout')
                st = g.read('/sys/kernel/debug/dnuma/stats')
                assert 'redirect on' in st, st
                pend = re.search(r'pending (\d+)', st).group(1)
                res['pending'] = bench(g, args)
        finally:
            g.cleanup()
    base = statistics.median(res['nodnuma'])
    print(f"\n{'kernel':<34} {'ns/page (runs)':<32} {'median':>8} {'vs nodnuma':>11}")
    for name, label in (('nodnuma', 'CONFIG_DYNAMIC_NUMA=n'),
                        ('idle', 'Dynamic NUMA, nothing pending'),
                        ('pending', f'Dynamic NUMA, {pend} pages pending')):
        med = statistics.median(res[name])
        runs = ' '.join(f'{x:.1f}' for x in res[name])
        print(f'{label:<34} {runs:<32} {med:>8.1f} {(med / base - 1) * 100:>+10.2f}%')


if __name__ == '__main__':
    main()
