# SPDX-License-Identifier: GPL-2.0
"""Helpers for the virtio-numa device: commands, raw wire bytes, reports."""

import re
import struct
import time

# Wire constants, from include/uapi/linux/virtio_numa.h.
CMD = {'report': 1, 'set-report-interval': 2, 'node-add': 3,
       'node-remove': 4, 'relayout': 5, 'cpu-assign': 6, 'distance-set': 7}


def cmd_bytes(cid, ctype, payload=b'', flags=0, plen=None):
    """A command header + payload; plen overrides the header's len field."""
    return struct.pack('<QHHI', cid, ctype, flags,
                       len(payload) if plen is None else plen) + payload


def command(g, name, dev='vnuma0', timeout=30, **args):
    """Queue a command over QMP and return its completion event's data."""
    cid = g.qmp.cmd(name, id=dev, **args)['command-id']
    return wait_completion(g, cid, timeout)


def completion_event(g, cid, timeout=30):
    """Command @cid's VIRTIO_NUMA_COMPLETION event, with its timestamp."""
    return g.qmp.wait_event('VIRTIO_NUMA_COMPLETION', timeout,
                            match=lambda e: e['data']['command-id'] == cid)


def wait_completion(g, cid, timeout=30):
    return completion_event(g, cid, timeout)['data']


def command_info(g, cid, dev='vnuma0'):
    """Command @cid as query-virtio-numa lists it, or None."""
    info = next(i for i in g.qmp.cmd('query-virtio-numa') if i['id'] == dev)
    return next((c for c in info['commands'] if c['command-id'] == cid),
                None)


def progress_trace(text, cid):
    """[(done, total), ...] bytes, from a QEMU log traced with
    -trace virtio_numa_progress, for command @cid."""
    return [(int(d, 16), int(t, 16)) for d, t in re.findall(
        rf'virtio_numa_progress \S+: command {cid} 0x([0-9a-f]+) of '
        r'0x([0-9a-f]+) bytes', text)]


def report(g, dev='vnuma0'):
    """Ask for a report; return (completion, query-virtio-numa entry)."""
    done = command(g, 'virtio-numa-report', dev)
    info = next(i for i in g.qmp.cmd('query-virtio-numa') if i['id'] == dev)
    return done, info


def timed_reports(g, n, dev='vnuma0'):
    """Round-trip times in ms of n REPORT commands, QMP to completion."""
    out = []
    for _ in range(n):
        t0 = time.monotonic()
        command(g, 'virtio-numa-report', dev)
        out.append((time.monotonic() - t0) * 1000)
    return out


EVENT_COMPLETION, EVENT_REPORT, EVENT_PROGRESS = 1, 2, 3
R = {'state': 1, 'guest-node': 2, 'present': 3, 'managed': 4, 'free': 5,
     'pending': 6, 'transplanted': 7, 'cpus': 8, 'pending-slab': 9,
     'pending-pgtable': 10, 'pending-other': 11, 'progress-done': 12,
     'progress-total': 13, 'relayout-unit': 14, 'add-unit': 15}


def event_bytes(records, etype=EVENT_REPORT, cid=0, status=0, field=0,
                page_shift=12, detail=0, nr_node_ids=2, seq=1000,
                nr_records=None):
    """A driver event as the wire carries it; records: (tag, node, value)."""
    head = struct.pack('<QHHHHIHHQ', cid, etype, status, field, page_shift,
                       detail, nr_node_ids,
                       len(records) if nr_records is None else nr_records, seq)
    return head + b''.join(struct.pack('<HHIQ', t, 0, n, v) for t, n, v in records)


def node_records(node, present=1000, managed=900, free=800, cpus=1):
    return [(R['state'], node, 0xf), (R['guest-node'], node, node),
            (R['present'], node, present), (R['managed'], node, managed),
            (R['free'], node, free), (R['pending'], node, 0),
            (R['transplanted'], node, 0), (R['cpus'], node, cpus)]


def unit_records(relayout=128 << 20, add=128 << 20):
    """The guest's units, as every report carries them (node 0)."""
    return [(R['relayout-unit'], 0, relayout), (R['add-unit'], 0, add)]


def guest_inject_event(g, data, dev=None):
    """Send raw event bytes from the guest driver (needs allow_inject)."""
    dev = dev or g.sh('ls /sys/kernel/debug/virtio_numa/').split()[0]
    return g.run(f'echo {data.hex()} > /sys/kernel/debug/virtio_numa/{dev}/inject_event')


def relayout(g, ranges, migrate=False, dev='vnuma0', timeout=120):
    """Relayout [(addr, size, host node), ...]; return the completion."""
    args = {'ranges': [{'addr': a, 'size': s, 'node': n} for a, s, n in ranges]}
    if migrate:
        args['migrate'] = True
    return command(g, 'virtio-numa-relayout', dev, timeout, **args)


def nodes(g, dev='vnuma0'):
    """{host node: node info} from the device's last report."""
    info = next(i for i in g.qmp.cmd('query-virtio-numa') if i['id'] == dev)
    return {n['node']: n for n in info['nodes']}


def totals(ns, key):
    return sum(n[key] for n in ns.values())
