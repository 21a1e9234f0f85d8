#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Node add and remove vs the ways to give a guest memory today, in one
guest run.

For each SIZE, the time from the QMP command until the guest has done it:
  add     until the guest's MemTotal grew by SIZE (the memory is online),
          seen the same way for all three: a guest program started before
          the command reads MemTotal every millisecond and exits once it
          has grown; for virtio-numa the time to its completion is printed
          too (it comes after onlining);
  remove  until the device knows the memory is gone: virtio-numa's
          completion, virtio-mem's size back at 0 (it unplugs after the
          guest offlined and removed the memory), pc-dimm's DEVICE_DELETED.
  virtio-numa  virtio-numa-node-add of a SIZE backend as the new node 2,
               and virtio-numa-node-remove;
  virtio-mem   requested-size SIZE, then 0, on a virtio-mem device;
  pc-dimm      device_add of a SIZE pc-dimm (ACPI hot-add, onlined by the
               guest kernel), then device_del;
each of the last two twice: on node 1, which has memory from boot, and on
node 2, empty before each add as it is for virtio-numa's.  Memory coming
to a node without memory brings the node up (its node state, kswapd and
kcompactd threads, zonelists) and its removal takes it down again; the
node 2 rows are the like-for-like comparison with a node add, and the
difference between the node 1 and node 2 rows is what the bring-up and
take-down cost.
All memory is idle and onlined movable.  One untimed round of each comes
first.  Prints medians, GiB/s and the ratios virtio-numa / other (<= 1.0:
virtio-numa is as fast or faster).

usage: tests/bench/node_add.py [--runs N] [--sizes 1G,4G] [--flavour F]
"""
import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from vnuma.device import command, completion_event  # noqa: E402
from vnuma.guest import Guest, Node, Topology, parse_size, versions  # noqa: E402
from vnuma.vmem import vmem_request, vmem_set  # noqa: E402

GiB = 1 << 30
# Nodes 0 and 1 boot with memory and CPUs, node 2 is empty.  Device
# memory: 4 GiB each for virtio-numa, the pc-dimm and two virtio-mem devices.
TOPO = Topology([Node(2048, [0]), Node(1024, [1]), Node(0, [])],
                maxmem_mib=3072 + 4 * 4096, slots=2)
EXTRA = ['-object', 'memory-backend-ram,id=vmem1,size=4G',
         '-device', 'virtio-mem-pci,id=vm1,memdev=vmem1,node=1,requested-size=0',
         '-object', 'memory-backend-ram,id=vmem2,size=4G',
         '-device', 'virtio-mem-pci,id=vm2,memdev=vmem2,node=2,requested-size=0']
# The ways to compare, in the order they run and print: (name, function
# of (guest, size, run number)).
WAYS = [('virtio-mem 1', lambda g, size, i: vmem_add_remove(g, 'vm1', size)),
        ('pc-dimm 1', lambda g, size, i: dimm_add_remove(g, size, i, 1)),
        ('virtio-mem 2', lambda g, size, i: vmem_add_remove(g, 'vm2', size)),
        ('pc-dimm 2', lambda g, size, i: dimm_add_remove(g, size, i, 2))]


def mem_total_kb(g):
    return int(re.search(r'MemTotal:\s+(\d+)', g.read('/proc/meminfo')).group(1))


class MemTotalWait:
    """Time from a command until the guest's MemTotal grew by @size:
    a guest program, started first, polls it and exits when it has.
    Polling over the console instead costs a round trip per poll, tens
    of milliseconds under TCG, which rounds every figure up by a
    different amount.  Use as: with MemTotalWait(g, size) as w: command;
    then w.elapsed."""

    def __init__(self, g, size):
        self.g = g
        self.want = mem_total_kb(g) + size // 1024

    def __enter__(self):
        self.seq = self.g.ctl.start(f'vnuma-mem memtotal -k {self.want}')
        # Long enough for the program to run before the command comes.
        time.sleep(0.1)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, *exc):
        if exc[0]:
            return False
        rc, out = self.g.ctl.finish(self.seq, 600)
        self.elapsed = time.monotonic() - self.t0
        assert rc == 0, out
        return False


def backend(g, name, size):
    g.qmp.cmd('object-add', **{'qom-type': 'memory-backend-ram', 'id': name,
                               'size': size})


def vnuma_add_remove(g, size, i, completions):
    backend(g, f'vn{i}', size)
    # The completion (it comes after onlining) is timed by its QMP
    # timestamp, QEMU's wall clock.
    with MemTotalWait(g, size) as w:
        w0 = time.time()
        r = g.qmp.cmd('virtio-numa-node-add', id='vnuma0', node=2, memdev=f'vn{i}')
    t_add = w.elapsed
    ev = completion_event(g, r['command-id'], 600)
    ts = ev['timestamp']
    completions.append(ts['seconds'] + ts['microseconds'] / 1e6 - w0)
    assert ev['data']['status'] == 'ok', ev
    t0 = time.monotonic()
    done = command(g, 'virtio-numa-node-remove', node=2, timeout=600)
    t_rm = time.monotonic() - t0
    assert done['status'] == 'ok', done
    g.qmp.cmd('object-del', id=f'vn{i}')
    return t_add, t_rm


def vmem_add_remove(g, dev, size):
    with MemTotalWait(g, size) as w:
        vmem_request(g, {dev: size})
    t_add = w.elapsed
    vmem_set(g, {dev: size})
    t0 = time.monotonic()
    vmem_set(g, {dev: 0})
    return t_add, time.monotonic() - t0


def dimm_add_remove(g, size, i, node):
    backend(g, f'dm{i}', size)
    with MemTotalWait(g, size) as w:
        g.qmp.cmd('device_add', driver='pc-dimm', id=f'd{i}', memdev=f'dm{i}',
                  node=node)
    t_add = w.elapsed
    t0 = time.monotonic()
    g.qmp.cmd('device_del', id=f'd{i}')
    g.qmp.wait_event('DEVICE_DELETED', 600,
                     match=lambda e: e['data'].get('device') == f'd{i}')
    t_rm = time.monotonic() - t0
    g.qmp.cmd('object-del', id=f'dm{i}')
    return t_add, t_rm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=9)
    ap.add_argument('--sizes', default='1G,4G')
    ap.add_argument('--flavour', default=os.environ.get('VNUMA_BENCH_FLAVOUR', 'perf'))
    args = ap.parse_args()
    sizes = [parse_size(s) << 20 for s in args.sizes.split(',')]

    v = versions()
    g = Guest(TOPO, flavour=args.flavour, extra_args=EXTRA, boot_timeout=600,
              vnuma='id=vnuma0,region-size=4G')
    print(f"Linux {v.get('LINUX_VERSION')} ({args.flavour} flavour), QEMU "
          f"{v.get('QEMU_VERSION')}, accelerator {g.accel}; guest: node 0 2 GiB, "
          f"node 1 1 GiB, node 2 empty; memory onlined movable")
    try:
        g.start()
        rows = []
        n = 0
        # One round of each, untimed: the first memory a node ever gets
        # also creates its pgdat, sysfs directory, kswapd and kcompactd
        # (for virtio-numa's node 2; node 1 has them from boot), and each
        # way has first-time costs of its own.  That round took twice as
        # long as the next, and swung a median of 3 by 0.3.
        n += 1
        vnuma_add_remove(g, sizes[0], n, [])
        for _, way in WAYS:
            n += 1
            way(g, sizes[0], n)
        for size in sizes:
            res = {'virtio-numa': []} | {name: [] for name, _ in WAYS}
            comp = []
            for _ in range(args.runs):
                n += 1
                res['virtio-numa'].append(vnuma_add_remove(g, size, n, comp))
                for name, way in WAYS:
                    n += 1
                    res[name].append(way(g, size, n))
            rows.append((size, res, statistics.median(comp)))
        print(f"\n{'size':>5}  {'':<12} {'add':>9} {'range':>9} {'GiB/s':>6} {'ratio':>5}  "
              f"{'remove':>9} {'range':>9} {'GiB/s':>6} {'ratio':>5}")
        for size, res, comp in rows:
            na, nr = (statistics.median(t[j] for t in res['virtio-numa']) for j in (0, 1))
            for k, r in res.items():
                line = f"{size // GiB:>3} G  {k:<12}"
                for j, ours in ((0, na), (1, nr)):
                    t = [x[j] * 1000 for x in r]
                    med = statistics.median(t)
                    ratio = '' if k == 'virtio-numa' else f'{ours * 1000 / med:.2f}'
                    line += (f" {med:>6.0f} ms {min(t):>4.0f}-{max(t):<4.0f} "
                             f"{size / GiB / med * 1000:>6.1f} {ratio:>5} ")
                print(line.rstrip())
            print(f"{'':>5}  (virtio-numa-node-add to its completion: "
                  f"{comp * 1000:.0f} ms)")
        print('(virtio-mem 1, pc-dimm 1: to node 1, which has memory; '
              'virtio-mem 2, pc-dimm 2: to node 2, empty before each add as for '
              'virtio-numa, so each add brings the node up and each remove takes it down)')
        print(f'(median and range of {args.runs} runs after one untimed round of each; '
              f'add: QMP command until the guest shows the memory, seen by a guest program for all three; '
              f'remove: until the device knows it is gone; ratio = virtio-numa '
              f'time / that time, <= 1.0 means virtio-numa is as fast or faster; '
              f'{g.accel}, so absolute figures are emulated time)')
        g.poweroff()
    finally:
        g.cleanup()


if __name__ == '__main__':
    main()
