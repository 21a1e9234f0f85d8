#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Host memory move throughput: virtio-numa-host-move (mbind MPOL_BIND +
MPOL_MF_MOVE in QEMU, 32 MiB a call, then every page counted with
move_pages) from QMP command to completion, as the completion's own
duration.

  between nodes  this machine has one NUMA node, so our QEMU runs inside
                 a test guest with two (tests/vnuma/nested.py) and moves
                 its stopped inner VM's preallocated memory from node 0
                 to node 1 and back: real page migration, but by a
                 TCG-emulated kernel, so the GiB/s are emulated ones;
  same node      a guest on this machine, its RAM bound to the node it
                 is already on: nothing moves, which is the fixed cost of
                 binding and counting per GiB.

usage: tests/bench/host_move.py [--runs N] [--sizes 256M,1G]
"""
import argparse
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from vnuma.device import command  # noqa: E402
from vnuma.guest import Guest, Node, Topology, parse_size, versions  # noqa: E402
from vnuma.mem import start_mem  # noqa: E402
from vnuma.nested import host_move, qemu_cpio, start_inner  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30


def gib_s(size, us):
    return size / GiB / (us / 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--sizes', default='256M,1G')
    args = ap.parse_args()
    sizes = [parse_size(s) << 20 for s in args.sizes.split(',')]
    top = max(sizes)
    v = versions()
    print(f"Linux {v.get('LINUX_VERSION')}, QEMU {v.get('QEMU_VERSION')}")

    rows = []
    with tempfile.TemporaryDirectory(prefix='vnuma-bench-') as d:
        host = Topology([Node(top // MiB + 1024, [0]),
                         Node(top // MiB + 1024, [1])])
        g = Guest(host, vnuma=None, boot_timeout=600,
                  initrd_extra=[qemu_cpio(d)])
        try:
            g.start()
            start_inner(g, top // MiB)
            for size in sizes:
                there, back = [], []
                for _ in range(args.runs):
                    for dst, out in ((1, there), (0, back)):
                        done = host_move(g, 0, size, [dst], timeout=1800)
                        hm = done['host-move']
                        assert done['status'] == 'ok' and \
                            hm['moved'] >= size * 9 // 10, done
                        out.append(hm['duration-us'])
                rows.append(('between nodes', size, statistics.median(there),
                             statistics.median(back)))
            g.poweroff()
        finally:
            g.stop()

    g = Guest(Topology([Node(top // MiB + 512, [0]), Node(512, [1])]),
              boot_timeout=600)
    try:
        g.start()
        start_mem(g, 'hold', f'hold -n 0 -m {top // MiB}')
        for size in sizes:
            t = []
            for _ in range(args.runs):
                done = command(g, 'virtio-numa-host-move', timeout=600,
                               ranges=[{'addr': 0, 'size': size,
                                        'host-nodes': [0]}])
                assert done['status'] == 'ok', done
                t.append(done['host-move']['duration-us'])
            rows.append(('same node', size, statistics.median(t), None))
        g.poweroff()
    finally:
        g.stop()

    print(f"\n{'move':<14} {'size':>6} {'0 -> 1':>10} {'GiB/s':>7} "
          f"{'1 -> 0':>10} {'GiB/s':>7}")
    for kind, size, a, b in rows:
        back = f'{b / 1000:>7.0f} ms {gib_s(size, b):>7.2f}' if b else ''
        print(f"{kind:<14} {size // MiB:>4} M {a / 1000:>7.0f} ms "
              f"{gib_s(size, a):>7.2f} {back}")
    print(f'(median of {args.runs} runs; between nodes: inside a TCG guest '
          f'with two nodes, real page migration by an emulated kernel; same '
          f'node: this machine, nothing to move: binding and counting only; '
          f'accelerator {g.accel})')


if __name__ == '__main__':
    main()
