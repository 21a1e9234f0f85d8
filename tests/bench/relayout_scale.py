#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Relayout of the same range size on guests of different sizes.

A relayout's cost should depend on the range it moves, not on the size
of the zones around it.  For each guest size N (default 4, 16 and 48
GiB: node 0 gets N - 512 MiB, node 1 512 MiB), one guest boots and
moves SIZE (default 1 GiB) of node 0's memory to node 1 and back, idle,
the range always at the same place in node 0's zone above 4 GiB: it
starts 256 MiB into it.  Prints the median of each direction per guest,
the pages left pending, and each guest's time over the smallest guest's
(goal: within +-10 %); then, per guest and direction, the engine's own
time by phase (debugfs dnuma/phases, median per phase) beside one pass
over the range's struct pages (dnuma/memmap_pass), and their ratio.
QEMU allocates guest memory lazily and without a swap reservation
(reserve=off), so 48 GiB guests run on a 24 GiB host.

usage: tests/bench/relayout_scale.py [--runs N (7)] [--guests 4G,16G,48G]
                                     [--size 1G] [--flavour F]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from vnuma.device import nodes, relayout, report  # noqa: E402
from vnuma.dnuma import memmap_pass, median_phases, phases, print_phase_table  # noqa: E402
from vnuma.guest import Guest, Node, Topology, parse_size, versions  # noqa: E402

GiB = 1 << 30
MiB = 1 << 20
# q35 puts at most 2 GiB of RAM below 4 GiB; node 0's memory goes on
# above it, node 1's after node 0's.
LOW = 2 * GiB


def one_guest(total, size, runs, flavour):
    """Boot a guest of @total bytes; return the medians (seconds) of
    relayouts of @size to node 1 and back."""
    node0 = total - 512 * MiB
    topo = Topology([Node(node0 // MiB, [0]), Node(512, [1])], noreserve=True)
    top0 = node0 + (4 * GiB - LOW)      # RAM above 4 GiB ends here
    start = 4 * GiB + 256 * MiB
    assert start + size <= top0, \
        f'{total // GiB} GiB: node 0 ends at {top0 / GiB} GiB'
    g = Guest(topo, flavour=flavour, boot_timeout=1200)
    try:
        t0 = time.monotonic()
        g.start()
        boot = time.monotonic() - t0
        report(g)
        to1, to0, ph1, ph0, floor, rmw = [], [], [], [], [], []
        for _ in range(runs):
            t0 = time.monotonic()
            done = relayout(g, [(start, size, 1)], timeout=600)
            to1.append(time.monotonic() - t0)
            assert done['status'] == 'ok', done
            ph1.append(phases(g))
            pend = sum(n['pending-pages'] for n in nodes(g).values())
            t0 = time.monotonic()
            done = relayout(g, [(start, size, 0)], migrate=True, timeout=600)
            to0.append(time.monotonic() - t0)
            assert done['status'] == 'ok', done
            ph0.append(phases(g))
            floor.append(memmap_pass(g, start, size))
            rmw.append(memmap_pass(g, start, size, rmw=True))
        g.poweroff()
        return (statistics.median(to1), statistics.median(to0), boot, start,
                pend, median_phases(ph1), median_phases(ph0),
                statistics.median(floor), statistics.median(rmw))
    finally:
        g.cleanup()


def print_phases(rows):
    """The engine's phases per guest and direction, in ms, then its
    total over one pass of the range's memmap."""
    cols = []
    for total, _t1, _t0, _boot, _start, _pend, p1, p0, floor, rmw in rows:
        cols.append((f'{total // GiB}G to 1', p1, floor, rmw))
        cols.append((f'{total // GiB}G to 0', p0, floor, rmw))
    print("\nengine phases, ms (median per phase; 'to 0' migrates)")
    print_phase_table(cols)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=7)
    ap.add_argument('--guests', default='4G,16G,48G')
    ap.add_argument('--size', default='1G')
    ap.add_argument('--flavour', default='perf')
    args = ap.parse_args()
    guests = [parse_size(s) << 20 for s in args.guests.split(',')]
    size = parse_size(args.size) << 20

    v = versions()
    print(f"Linux {v.get('LINUX_VERSION')} ({args.flavour} flavour), QEMU "
          f"{v.get('QEMU_VERSION')}; relayout of {size // MiB} MiB starting "
          f"256 MiB into node 0's memory above 4 GiB, idle")
    rows = []
    for total in guests:
        rows.append((total,) + one_guest(total, size, args.runs, args.flavour))
    base1, base0 = rows[0][1], rows[0][2]
    print(f"\n{'guest':>6}  {'range':>15}  {'to node 1':>10} {'ratio':>6}  "
          f"{'back to 0':>10} {'ratio':>6}  {'boot':>6}  pending")
    for total, t1, t0, boot, start, pend, *_ in rows:
        print(f"{total // GiB:>4} G  [{start / GiB:>5.2f}G, {(start + size) / GiB:>5.2f}G)  "
              f"{t1 * 1000:>7.1f} ms {t1 / base1:>5.2f}x  "
              f"{t0 * 1000:>7.1f} ms {t0 / base0:>5.2f}x  {boot:>5.0f} s  {pend}")
    worst = max(max(r[1] / base1, r[2] / base0) for r in rows)
    print(f"(median of {args.runs} runs each; QMP command to completion; "
          f"ratios over the {rows[0][0] // GiB} GiB guest; worst {worst:.2f}x, "
          f"goal <= 1.10x)")
    print_phases(rows)


if __name__ == '__main__':
    main()
