#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Node add and remove vs the ways to give a guest memory today, in one
guest run.

For each SIZE, the time from the QMP command until the guest has done it:
  add     until the guest's MemTotal grew by SIZE (the memory is online),
          polled the same way for all three; for virtio-numa the time to
          its completion is printed too (it comes after onlining);
  remove  until the device knows the memory is gone: virtio-numa's
          completion, virtio-mem's size back at 0 (it unplugs after the
          guest offlined and removed the memory), pc-dimm's DEVICE_DELETED.
  virtio-numa  virtio-numa-node-add of a SIZE backend as the new node 2,
               and virtio-numa-node-remove;
  virtio-mem   requested-size SIZE, then 0, on a virtio-mem device on node 1;
  pc-dimm      device_add of a SIZE pc-dimm on node 1 (ACPI hot-add,
               onlined by the guest kernel), then device_del.
All memory is idle and onlined movable.  One untimed round of each comes
first.  Prints medians, GiB/s and the ratios virtio-numa / other (<= 1.0:
virtio-numa is as fast or faster).  virtio-numa's add also brings node 2
up each time (its node state, kswapd, kcompactd), which the others,
adding to node 1, do not.

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
from vnuma.vmem import vmem_set  # noqa: E402

GiB = 1 << 30
# Nodes 0 and 1 boot with memory and CPUs, node 2 is empty.  Device
# memory: 4 GiB each for virtio-numa, virtio-mem and the pc-dimm.
TOPO = Topology([Node(2048, [0]), Node(1024, [1]), Node(0, [])],
                maxmem_mib=3072 + 3 * 4096, slots=2)
EXTRA = ['-object', 'memory-backend-ram,id=vmem1,size=4G',
         '-device', 'virtio-mem-pci,id=vm1,memdev=vmem1,node=1,requested-size=0']


def mem_total_kb(g):
    return int(re.search(r'MemTotal:\s+(\d+)', g.read('/proc/meminfo')).group(1))


def wait_mem_total(g, kb, timeout=600):
    """Poll until the guest's MemTotal is at least @kb."""
    deadline = time.monotonic() + timeout
    while mem_total_kb(g) < kb:
        assert time.monotonic() < deadline, 'the memory never showed up'


def backend(g, name, size):
    g.qmp.cmd('object-add', **{'qom-type': 'memory-backend-ram', 'id': name,
                               'size': size})


def vnuma_add_remove(g, size, i, completions):
    backend(g, f'vn{i}', size)
    before = mem_total_kb(g)
    # Timed as the others are: polling MemTotal from the command on.  The
    # completion (it comes after onlining) is timed by its QMP timestamp,
    # QEMU's wall clock, so that waiting for it first adds no poll.
    w0, t0 = time.time(), time.monotonic()
    r = g.qmp.cmd('virtio-numa-node-add', id='vnuma0', node=2, memdev=f'vn{i}')
    wait_mem_total(g, before + size // 1024)
    t_add = time.monotonic() - t0
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


def vmem_add_remove(g, size):
    before = mem_total_kb(g)
    t0 = time.monotonic()
    vmem_set(g, {'vm1': size})
    wait_mem_total(g, before + size // 1024)
    t_add = time.monotonic() - t0
    t0 = time.monotonic()
    vmem_set(g, {'vm1': 0})
    return t_add, time.monotonic() - t0


def dimm_add_remove(g, size, i):
    backend(g, f'dm{i}', size)
    before = mem_total_kb(g)
    t0 = time.monotonic()
    g.qmp.cmd('device_add', driver='pc-dimm', id=f'd{i}', memdev=f'dm{i}', node=1)
    wait_mem_total(g, before + size // 1024)
    t_add = time.monotonic() - t0
    t0 = time.monotonic()
    g.qmp.cmd('device_del', id=f'd{i}')
    g.qmp.wait_event('DEVICE_DELETED', 600,
                     match=lambda e: e['data'].get('device') == f'd{i}')
    t_rm = time.monotonic() - t0
    g.qmp.cmd('object-del', id=f'dm{i}')
    return t_add, t_rm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=5)
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
        vmem_add_remove(g, sizes[0])
        dimm_add_remove(g, sizes[0], n)
        for size in sizes:
            res = {'virtio-numa': [], 'virtio-mem': [], 'pc-dimm': []}
            comp = []
            for _ in range(args.runs):
                n += 1
                res['virtio-numa'].append(vnuma_add_remove(g, size, n, comp))
                res['virtio-mem'].append(vmem_add_remove(g, size))
                res['pc-dimm'].append(dimm_add_remove(g, size, n))
            med = {k: (statistics.median(a for a, _ in r),
                       statistics.median(b for _, b in r)) for k, r in res.items()}
            rows.append((size, med, statistics.median(comp)))
        print(f"\n{'size':>5}  {'':<11} {'add':>9} {'GiB/s':>7} {'ratio':>6}  "
              f"{'remove':>9} {'GiB/s':>7} {'ratio':>6}")
        for size, med, comp in rows:
            na, nr = med['virtio-numa']
            for k, (a, r) in med.items():
                ra = '' if k == 'virtio-numa' else f'{na / a:.2f}'
                rr = '' if k == 'virtio-numa' else f'{nr / r:.2f}'
                print(f"{size // GiB:>3} G  {k:<11} {a * 1000:>6.0f} ms {size / GiB / a:>7.1f} "
                      f"{ra:>6}  {r * 1000:>6.0f} ms {size / GiB / r:>7.1f} {rr:>6}")
            print(f"{'':>5}  (virtio-numa-node-add to its completion: "
                  f"{comp * 1000:.0f} ms)")
        print(f'(median of {args.runs} runs after one untimed round of each; '
              f'add: QMP command until the guest shows the memory, polled over the console channel for all three; '
              f'remove: until the device knows it is gone; ratio = virtio-numa '
              f'time / that time, <= 1.0 means virtio-numa is as fast or faster; '
              f'{g.accel}, so absolute figures are emulated time)')
        g.poweroff()
    finally:
        g.cleanup()


if __name__ == '__main__':
    main()
