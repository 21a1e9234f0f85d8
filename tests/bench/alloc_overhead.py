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
so that every fault takes an order-0 page.  The microbenchmark is bound
to node 1: node 0 holds 900 MiB and the block that moves.  Unbound, its
faults took node 0's last free pages, then node 1's, and which depended
on where the relayout had just put the block's free pages: pending runs
were 4.6 % slower than idle ones in one guest and no slower in the next.
Two guests of different kernels can still differ by more than the hook
costs, so the perf guest alternates: a relayout of a block whose pages
are in use turns the hook on (pages pending), one back turns it off
again (nothing pending), a run of the microbenchmark after each.  The
ratio of each pending run to the idle run next to it is the hook's cost
measured in one guest; the median of those is printed last.

usage: tests/bench/alloc_overhead.py [--mib 64] [--rounds 4] [--runs 7]
"""
import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from vnuma.dnuma import DNUMA, stat  # noqa: E402
from vnuma.guest import Guest, Node, Topology, versions  # noqa: E402

TOPO = Topology([Node(1024, [0]), Node(512, [1])])


def bench(g, args):
    # On node 1, away from node 0's held memory and the block that moves:
    # the same free memory in both states, no fallback between nodes.
    line = g.sh(f'vnuma-mem bench -n 1 -m {args.mib} -r {args.rounds}',
                timeout=900)
    return float(re.search(r'([\d.]+) ns/page', line).group(1))


def relayout(g, nid, redirect):
    """Node 0's top block (held memory) to node @nid; wait until the hook
    is @redirect ('on' or 'off'): a page or two in use may stay pending
    until the engine's first sweep.  Returns the pages pending."""
    g.sh(f'echo 0x38000000 128M {nid} > {DNUMA}/relayout')
    deadline = time.monotonic() + 60
    while True:
        st = g.read(f'{DNUMA}/stats')
        if f'redirect {redirect}' in st:
            return stat(g, 'pending', st)
        assert time.monotonic() < deadline, st
        time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--mib', type=int, default=64)
    ap.add_argument('--rounds', type=int, default=4)
    ap.add_argument('--runs', type=int, default=7)
    args = ap.parse_args()
    v = versions()
    print(f"Linux {v.get('LINUX_VERSION')}, perf flavours, QEMU "
          f"{v.get('QEMU_VERSION')}, TCG with icount (shift=0); "
          f"vnuma-mem bench -n 1 -m {args.mib} -r {args.rounds}, {args.runs} runs each")
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
            # One untimed round first, in each state: the first run in a
            # fresh guest (or after its first relayout) was the slowest
            # of its kernel in most benches, by up to 2 %.
            if name == 'nodnuma':
                bench(g, args)
                res[name] = [bench(g, args) for _ in range(args.runs)]
                continue
            res['idle'], res['pending'], pend = [], [], []
            for i in range(-1, args.runs):
                # Every free now looks its section up ...
                pend.append(relayout(g, 1, 'on'))
                before = stat(g, 'lookups')
                res['pending'].append(bench(g, args))
                # (each page the run freed went through the hook)
                assert stat(g, 'lookups') - before >= args.mib * 256 * args.rounds
                # ... and now no longer does: the block's pages are home.
                assert relayout(g, 0, 'off') == 0
                res['idle'].append(bench(g, args))
                if i < 0:
                    for x in (pend, res['pending'], res['idle']):
                        x.pop()
        finally:
            g.cleanup()
    base = statistics.median(res['nodnuma'])
    pend = statistics.median(pend)
    w = 7 * args.runs
    print(f"\n{'kernel':<34} {'ns/page (runs)':<{w}} {'median':>8} {'vs nodnuma':>11}")
    for name, label in (('nodnuma', 'CONFIG_DYNAMIC_NUMA=n'),
                        ('idle', 'Dynamic NUMA, nothing pending'),
                        ('pending', f'Dynamic NUMA, {pend:.0f} pages pending')):
        med = statistics.median(res[name])
        runs = ' '.join(f'{x:.1f}' for x in res[name])
        print(f'{label:<34} {runs:<{w}} {med:>8.1f} {(med / base - 1) * 100:>+10.2f}%')
    pair = statistics.median(p / i for p, i in zip(res['pending'], res['idle']))
    print(f"\npending vs nothing pending, run by run in the same guest: "
          f"{(pair - 1) * 100:+.2f}% (median of {args.runs} pairs; "
          f"{pend:.0f} pages pending)")


if __name__ == '__main__':
    main()
