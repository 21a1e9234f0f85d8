#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""REPORT round trip, QMP command to completion event, and where it goes.

One guest of two nodes (perf kernel).  Each virtio-numa-report is timed
from the QMP command to its VIRTIO_NUMA_COMPLETION event, and split with
the device's trace points (QEMU's log backend, wall-clock microseconds):
  host in     QMP command sent to the command queued by the device
              (QMP parse and dispatch, the main loop);
  to guest    queued to sent: the command written into a buffer of the
              guest's command queue and the guest notified;
  guest       sent to done: interrupt, the driver's work (one record per
              node and field) and its event back to the device;
  host out    done to the event read by this script (QMP event emission,
              the socket, JSON).
Beside it, the floor of QMP itself: query-status, command to reply, on
the same connection.  Prints medians and the round trip over the floor.

usage: tests/bench/report.py [--runs N] [--flavour F]
"""
import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from vnuma.device import wait_completion  # noqa: E402
from vnuma.guest import Guest, Node, Topology, versions  # noqa: E402

TOPO = Topology([Node(1024, [0]), Node(1024, [1])])
TRACE = ['-msg', 'timestamp=on',
         '-trace', 'virtio_numa_cmd_queued', '-trace', 'virtio_numa_cmd_sent',
         '-trace', 'virtio_numa_cmd_done']
# pid@seconds.microseconds:event vnuma0: command N ...
TRACE_RE = re.compile(r'^\d+@(\d+)\.(\d{6}):virtio_numa_cmd_(queued|sent|done) '
                      r'\S+: command (\d+)', re.M)


def trace_times(log):
    """{command id: {'queued'|'sent'|'done': wall-clock seconds}}."""
    out = {}
    for sec, usec, what, cid in TRACE_RE.findall(log):
        out.setdefault(int(cid), {})[what] = int(sec) + int(usec) / 1e6
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=200)
    ap.add_argument('--flavour', default='perf')
    args = ap.parse_args()
    v = versions()
    g = Guest(TOPO, flavour=args.flavour, extra_args=TRACE)
    try:
        g.start()
        floor, sent = [], {}
        for _ in range(args.runs):
            t0 = time.monotonic()
            g.qmp.cmd('query-status')
            floor.append(time.monotonic() - t0)
        rtt = []
        for _ in range(args.runs):
            w0, t0 = time.time(), time.monotonic()
            cid = g.qmp.cmd('virtio-numa-report', id='vnuma0')['command-id']
            done = wait_completion(g, cid)
            rtt.append(time.monotonic() - t0)
            sent[cid] = (w0, time.time())
            assert done['status'] == 'ok', done
        accel = g.accel
        g.poweroff()
        log = open(os.path.join(g.dir, 'qemu.log')).read()
    finally:
        g.cleanup()

    tr = trace_times(log)
    parts = {'host in': [], 'to guest': [], 'guest': [], 'host out': []}
    for cid, (w0, w1) in sent.items():
        t = tr.get(cid, {})
        assert set(t) == {'queued', 'sent', 'done'}, (cid, t)
        parts['host in'].append(t['queued'] - w0)
        parts['to guest'].append(t['sent'] - t['queued'])
        parts['guest'].append(t['done'] - t['sent'])
        parts['host out'].append(w1 - t['done'])
    med = statistics.median(rtt)
    base = statistics.median(floor)
    print(f"Linux {v.get('LINUX_VERSION')} ({args.flavour} flavour), QEMU "
          f"{v.get('QEMU_VERSION')}, {accel}; two nodes; {args.runs} runs each\n")
    print(f"{'':<34} {'median':>9} {'min':>9} {'max':>9}")
    print(f"{'REPORT round trip':<34} {med * 1000:>6.2f} ms {min(rtt) * 1000:>6.2f} ms "
          f"{max(rtt) * 1000:>6.2f} ms")
    for name, xs in parts.items():
        print(f"{'  ' + name:<34} {statistics.median(xs) * 1000:>6.2f} ms "
              f"{min(xs) * 1000:>6.2f} ms {max(xs) * 1000:>6.2f} ms")
    print(f"{'QMP floor (query-status)':<34} {base * 1000:>6.2f} ms "
          f"{min(floor) * 1000:>6.2f} ms {max(floor) * 1000:>6.2f} ms")
    print(f"(round trip over the QMP floor: {med / base:.1f}x; goal: round "
          f"trip <= 2 ms; parts from the device's trace points, medians of "
          f"each part, so they need not add up)")


if __name__ == '__main__':
    main()
