# SPDX-License-Identifier: GPL-2.0
"""virtio-numa end to end: the QEMU device, the guest driver, accounting."""

import base64
import os
import re
import statistics
import struct
import time

import pytest

from vnuma.device import CMD, cmd_bytes, command, report, timed_reports, \
    wait_completion
from vnuma.guest import Node, Topology
from vnuma.layout import zoneinfo
from vnuma.qmp import QMPError

TOPOLOGIES = {
    'two-nodes': Topology([Node(512, [0]), Node(512, [1])]),
    'four-nodes-one-cpuless': Topology([Node(512, [0]), Node(256, [1]),
                                        Node(256, []), Node(256, [2])]),
}


def zone_present(g):
    """{guest node: present pages} summed over zones, from /proc/zoneinfo."""
    out = {}
    for z in zoneinfo(g):
        out[z['node']] = out.get(z['node'], 0) + z['present']
    return out


@pytest.mark.parametrize('name', TOPOLOGIES)
def test_report_matches_guest(boot, name):
    """Every node's accounting agrees with the guest's own sysfs/procfs."""
    topo = TOPOLOGIES[name]
    g = boot(topo)
    done, info = report(g)
    assert done['status'] == 'ok' and info['bogus-events'] == 0
    assert info['max-nodes'] == len(topo.nodes)
    assert info['page-size'] == 4096
    pxm = g.pxm_to_node()
    present = zone_present(g)
    nodes = {n['node']: n for n in info['nodes']}
    assert sorted(nodes) == list(range(len(topo.nodes)))
    for host, want in enumerate(topo.nodes):
        n, guest = nodes[host], pxm[host]
        mi = g.node_meminfo(guest)
        assert n['guest-node'] == guest
        assert n['possible'] and n['online'] and n['with-memory']
        assert n['with-cpus'] == bool(want.cpus)
        assert n['cpus'] == len(want.cpus)
        assert n['present-pages'] == present[guest]
        # MemTotal is managed pages: exact.  MemFree moves while we read
        # it (the shell that reads it allocates); allow 2 MiB.
        assert n['managed-pages'] * 4 == mi['MemTotal']
        assert abs(n['free-pages'] * 4 - mi['MemFree']) <= 2048, \
            f"host node {host}: report free {n['free-pages'] * 4} kB, " \
            f"meminfo {mi['MemFree']} kB"
        assert n['pending-pages'] == 0 and n['transplanted-pages'] == 0


def test_report_round_trip(boot, figures):
    g = boot(TOPOLOGIES['two-nodes'])
    times = timed_reports(g, 50)
    figures(f'REPORT round trip, QMP command to completion event, '
            f'{g.accel}, 50 runs: median {statistics.median(times):.2f} ms, '
            f'min {min(times):.2f} ms, max {max(times):.2f} ms')
    info = g.qmp.cmd('query-virtio-numa')[0]
    assert [c['status'] for c in info['commands']][-32:] == ['ok'] * 32


def test_periodic_reports(boot):
    g = boot(TOPOLOGIES['two-nodes'])
    assert command(g, 'virtio-numa-set-report-interval',
                   interval=200)['status'] == 'ok'
    first = g.qmp.wait_event('VIRTIO_NUMA_REPORT', 10)['data']['report-seq']
    # Throttled to one event a second; the guest reports every 200 ms.
    later = g.qmp.wait_event('VIRTIO_NUMA_REPORT', 10)['data']['report-seq']
    assert later > first
    info = g.qmp.cmd('query-virtio-numa')[0]
    assert info['report-interval'] == 200
    assert command(g, 'virtio-numa-set-report-interval',
                   interval=0)['status'] == 'ok'
    before = g.qmp.cmd('query-virtio-numa')[0]['reports']
    time.sleep(1.5)
    assert g.qmp.cmd('query-virtio-numa')[0]['reports'] == before


# Malformed commands and what the guest must answer: (bytes, status, field)
def hostile_commands():
    node_add = struct.pack('<IIQQ', 1, 0, 0, 128 << 20)
    relayout = struct.pack('<II', 1, 0) + struct.pack('<QQII', 0, 128 << 20, 7, 0)
    return {
        'short': (b'\x01\x02\x03', 0, 'invalid', 'len'),
        'unknown-type': (cmd_bytes(11, 99), 11, 'invalid', 'type'),
        'type-zero': (cmd_bytes(12, 0), 12, 'invalid', 'type'),
        'len-mismatch': (cmd_bytes(13, CMD['report'], plen=8), 13, 'invalid', 'len'),
        'len-huge': (cmd_bytes(14, CMD['report'], plen=0xffffffff), 14, 'invalid', 'len'),
        'id-zero': (cmd_bytes(0, CMD['report']), 0, 'invalid', 'id'),
        'flags': (cmd_bytes(15, CMD['report'], flags=0x8000), 15, 'invalid', 'flags'),
        'interval-too-small': (cmd_bytes(16, CMD['set-report-interval'],
                                         struct.pack('<II', 5, 0)), 16, 'invalid', 'interval-ms'),
        'reserved-set': (cmd_bytes(17, CMD['set-report-interval'],
                                   struct.pack('<II', 1000, 1)), 17, 'invalid', 'reserved'),
        'truncated-payload': (cmd_bytes(18, CMD['node-add'], node_add[:12]), 18, 'invalid', 'len'),
        'relayout-bad-node': (cmd_bytes(19, CMD['relayout'], relayout), 19, 'invalid', 'node'),
        # No device region yet: any NODE_ADD address is outside it.
        'node-add-outside-region': (cmd_bytes(20, CMD['node-add'], node_add), 20,
                                    'invalid', 'addr'),
        # Well formed, but the feature is not negotiated (yet).
        'node-remove-unsupported': (cmd_bytes(21, CMD['node-remove'],
                                              struct.pack('<II', 1, 0)), 21,
                                    'unsupported', 'none'),
    }


def test_hostile_commands(boot):
    """Each malformed command gets one invalid completion naming the field;
    the guest logs it and keeps working, with no kernel warning."""
    g = boot(TOPOLOGIES['two-nodes'], vnuma='id=vnuma0,x-allow-inject=on')
    for name, (data, cid, status, field) in hostile_commands().items():
        r = g.qmp.cmd('x-virtio-numa-inject', id='vnuma0',
                      data=base64.b64encode(data).decode())
        assert r['command-id'] == cid, name
        done = wait_completion(g, cid)
        assert (done['status'], done['field']) == (status, field), name
    # Still working: a real command completes and nothing was dropped.
    done, info = report(g)
    assert done['status'] == 'ok' and info['bogus-events'] == 0
    assert 'virtio_numa virtio' in g.console() and \
        re.search(r'command 11 \(unknown, 16 bytes\): invalid type', g.console())


def test_qmp_errors(boot):
    g = boot(TOPOLOGIES['two-nodes'])
    with pytest.raises(QMPError, match="'nope' is not a virtio-numa device") as e:
        g.qmp.cmd('virtio-numa-report', id='nope')
    assert e.value.klass == 'DeviceNotFound'
    with pytest.raises(QMPError, match="'vser' is not a virtio-numa device"):
        g.qmp.cmd('virtio-numa-report', id='vser')
    for bad in (1, 99, 3600001):
        with pytest.raises(QMPError, match="'interval' must be 0 or 100 to 3600000"):
            g.qmp.cmd('virtio-numa-set-report-interval', id='vnuma0', interval=bad)
    with pytest.raises(QMPError, match='x-allow-inject=on'):
        g.qmp.cmd('x-virtio-numa-inject', id='vnuma0', data='AAAA')
    with pytest.raises(QMPError, match="Parameter 'interval' expects uint32_t"):
        g.qmp.cmd('virtio-numa-set-report-interval', id='vnuma0', interval=-1)
    # Nothing was queued by any of them.
    assert g.qmp.cmd('query-virtio-numa')[0]['commands'] == []


def test_inject_errors(boot):
    g = boot(TOPOLOGIES['two-nodes'], vnuma='id=vnuma0,x-allow-inject=on')
    with pytest.raises(QMPError, match='Base64 data contains invalid characters'):
        g.qmp.cmd('x-virtio-numa-inject', id='vnuma0', data='***')
    with pytest.raises(QMPError, match="'data' must be 1 to 1560 bytes, not 2000"):
        g.qmp.cmd('x-virtio-numa-inject', id='vnuma0',
                  data=base64.b64encode(b'\0' * 2000).decode())


def test_realize_errors(tmp_path):
    """Device properties are checked at realize, with the property named."""
    import subprocess
    from vnuma.guest import base_args, qemu_path
    base = [*base_args(qemu_path()), '-accel', 'tcg', '-S']
    numa = ['-m', '512M', '-object', 'memory-backend-ram,id=m0,size=512M',
            '-numa', 'node,nodeid=0,memdev=m0']
    for args, msg in (
            (numa + ['-device', 'virtio-numa-pci,block-size=3M'],
             "'block-size' property must be a power of two"),
            (['-m', '512M', '-device', 'virtio-numa-pci'],
             "needs a NUMA machine")):
        p = subprocess.run(base + args, capture_output=True, text=True, timeout=60)
        assert p.returncode != 0 and msg in p.stderr, p.stderr


def test_migration(boot, tmp_path):
    """An idle device migrates with its report and history; during the
    migration new commands are refused as busy."""
    topo = TOPOLOGIES['two-nodes']
    src = boot(topo)
    done, before = report(src)
    uri = f'unix:{tmp_path}/migrate.sock'
    dst = boot(topo, incoming=uri)
    # Slow enough to catch it running, fast enough for the test.
    src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': 64 << 20})
    src.qmp.cmd('migrate', uri=uri)
    with pytest.raises(QMPError, match='busy: a migration is running'):
        src.qmp.cmd('virtio-numa-report', id='vnuma0')
    src.qmp.cmd('migrate-set-parameters', **{'max-bandwidth': 8 << 30})
    deadline = time.monotonic() + 120
    while src.qmp.cmd('query-migrate').get('status') != 'completed':
        assert time.monotonic() < deadline, src.qmp.cmd('query-migrate')
        time.sleep(0.2)
    dst.wait_console('', 1)
    after = dst.qmp.cmd('query-virtio-numa')[0]
    for k in ('nodes', 'report-seq', 'reports', 'commands', 'guest-nr-node-ids'):
        assert after[k] == before[k], k
    # The migrated guest keeps answering on the destination.
    dst.qmp.cmd('cont')
    done = command(dst, 'virtio-numa-report')
    assert done['status'] == 'ok' and done['command-id'] == before['commands'][-1]['command-id'] + 1


def bogus_events():
    from vnuma.device import R, event_bytes, node_records
    good = node_records(0) + node_records(1)
    return {
        'too-short': event_bytes([])[:16],
        'length-mismatch': event_bytes(good, nr_records=3),
        'unknown-type': event_bytes(good, etype=7),
        'completion-not-in-flight': event_bytes(good, etype=1, cid=999),
        'report-with-id': event_bytes(good, cid=5),
        'report-with-status': event_bytes(good, status=1),
        'unknown-status': event_bytes(good, etype=1, status=9),
        'page-shift': event_bytes(good, page_shift=2),
        'nr-node-ids-zero': event_bytes(good, nr_node_ids=0),
        'node-out-of-range': event_bytes(good + [(R['free'], 2, 1)]),
        'duplicate-record': event_bytes(good + [(R['free'], 1, 1)]),
        'free-above-managed': event_bytes(node_records(0, free=950) + node_records(1)),
        'managed-above-present': event_bytes(node_records(0, managed=1001) + node_records(1)),
        'more-pages-than-ram': event_bytes(node_records(0, present=1 << 40) + node_records(1)),
        'guest-node-out-of-range': event_bytes([(R['guest-node'], 0, 7)] + node_records(1)),
        'unknown-state-bits': event_bytes([(R['state'], 0, 1 << 20)]),
        'too-many-cpus': event_bytes(node_records(0, cpus=99) + node_records(1)),
        'unmovable-above-pending': event_bytes(
            node_records(0) + [(R['pending-slab'], 0, 5)] + node_records(1)),
        'unit-for-node-1': event_bytes(good + [(R['relayout-unit'], 1, 1 << 27)]),
        'unit-twice': event_bytes(good + [(R['add-unit'], 0, 1 << 27)] * 2),
        'unit-not-power-of-2': event_bytes(good + [(R['add-unit'], 0, 3 << 27)]),
        'unit-below-a-page': event_bytes(good + [(R['relayout-unit'], 0, 1 << 11)]),
        'unit-above-ram': event_bytes(good + [(R['relayout-unit'], 0, 1 << 50)]),
    }


def test_bogus_guest_events(boot):
    """The device drops and counts every event that fails validation and
    never shows it to management; a consistent one is accepted."""
    from vnuma.device import R, event_bytes, guest_inject_event, node_records
    g = boot(TOPOLOGIES['two-nodes'], append='virtio_numa.allow_inject=1')
    _, before = report(g)
    g.qmp.events.clear()
    for n, (name, data) in enumerate(bogus_events().items(), 1):
        rc, out = guest_inject_event(g, data)
        assert rc == 0, out
        info = g.qmp.cmd('query-virtio-numa')[0]
        assert info['bogus-events'] == n, name
        assert info['reports'] == before['reports'], name
        assert info['nodes'] == before['nodes'], name
        assert (info['guest-relayout-unit'], info['guest-add-unit']) == \
            (128 << 20, 128 << 20), name
    assert not [e for e in g.qmp.events if e['event'].startswith('VIRTIO_NUMA')]
    # Forged but consistent, with a tag from the future: accepted.
    rc, out = guest_inject_event(g, event_bytes(
        node_records(0) + node_records(1) + [(200, 0, 1)] +
        [(R['relayout-unit'], 0, 1 << 21), (R['add-unit'], 0, 1 << 28)],
        seq=4242))
    assert rc == 0, out
    ev = g.qmp.wait_event('VIRTIO_NUMA_REPORT', 10)
    assert ev['data']['report-seq'] == 4242
    info = g.qmp.cmd('query-virtio-numa')[0]
    assert info['bogus-events'] == len(bogus_events())
    assert info['nodes'][1]['managed-pages'] == 900
    assert (info['guest-relayout-unit'], info['guest-add-unit']) == \
        (2 << 20, 256 << 20)
    # The guest's own next report replaces the forged one.
    _, after = report(g)
    assert after['nodes'][0]['managed-pages'] == before['nodes'][0]['managed-pages']
    assert (after['guest-relayout-unit'], after['guest-add-unit']) == \
        (128 << 20, 128 << 20)
    # Bad input to the debugfs file itself is refused.
    dev = g.sh('ls /sys/kernel/debug/virtio_numa/').split()[0]
    for bad in ('xyz', 'abc', ''):
        rc, _ = g.run(f"echo '{bad}' > /sys/kernel/debug/virtio_numa/{dev}/inject_event")
        assert rc != 0, bad


def test_inject_needs_module_parameter(boot):
    g = boot(TOPOLOGIES['two-nodes'])
    rc, _ = g.run('ls /sys/kernel/debug/virtio_numa')
    assert rc != 0


def test_queue_limit_and_order(boot):
    """Commands queue while the guest does not answer (its vCPUs are
    stopped); the 33rd is refused; all complete in the order queued once
    the guest runs."""
    g = boot(TOPOLOGIES['two-nodes'])
    g.qmp.cmd('stop')
    ids = [g.qmp.cmd('virtio-numa-report', id='vnuma0')['command-id']
           for _ in range(32)]
    with pytest.raises(QMPError, match="has 32 commands queued already"):
        g.qmp.cmd('virtio-numa-report', id='vnuma0')
    states = [c['state'] for c in g.qmp.cmd('query-virtio-numa')[0]['commands']
              if c['command-id'] in ids]
    assert states == ['sent'] + ['queued'] * 31
    g.qmp.cmd('cont')
    for i in ids:
        assert wait_completion(g, i)['status'] == 'ok'
    # The history lists commands in the order they completed.
    hist = g.qmp.cmd('query-virtio-numa')[0]['commands']
    assert [c['command-id'] for c in hist][-32:] == ids
    assert all(c['state'] == 'done' for c in hist)


def test_module_unload_reload(boot):
    """rmmod resets the device and frees everything: commands are refused
    while no driver is loaded, and work once the module is back; repeated,
    nothing is left over."""
    g = boot(TOPOLOGIES['two-nodes'])
    assert 'virtio_numa' in g.read('/proc/modules')
    for _ in range(3):
        # Periodic reports armed: removal must not leave a timer behind.
        assert command(g, 'virtio-numa-set-report-interval',
                       interval=100)['status'] == 'ok'
        g.sh('rmmod virtio_numa')
        assert 'virtio_numa' not in g.read('/proc/modules')
        info = g.qmp.cmd('query-virtio-numa')[0]
        assert not info['driver-ready'] and info['report-interval'] == 0
        with pytest.raises(QMPError, match='no driver ready'):
            g.qmp.cmd('virtio-numa-report', id='vnuma0')
        g.sh('modprobe virtio_numa')
        done, info = report(g)
        assert done['status'] == 'ok' and info['driver-ready']
    done, info = report(g)
    assert done['status'] == 'ok' and info['bogus-events'] == 0


MiB, GiB = 1 << 20, 1 << 30
RAM_TOPOLOGIES = {
    # All RAM below 4 GiB.
    'four-nodes-one-cpuless': (TOPOLOGIES['four-nodes-one-cpuless'],
                               'id=vnuma0'),
    # 3 GiB: q35 puts 2 GiB below 4 GiB, so node 1's backend shows in
    # two places; node 2 is empty, for virtio-numa-node-add.
    'split-at-4g-node-add': (Topology([Node(1024, [0]), Node(2048, [1]),
                                       Node(0, [])],
                                      maxmem_mib=3072 + 512),
                             'id=vnuma0,region-size=512M'),
}


def q35_boot_ram(topo):
    """Where q35 maps the boot RAM, as query-virtio-numa lists it:
    [(addr, size, memdev, node)].  The -numa backends follow each other
    in node order (hw/core/numa.c); the first 2 GiB of them are mapped
    from 0 if there are 2.75 GiB or more, else the first 2.75 GiB; the
    rest from 4 GiB (hw/i386/pc_q35.c)."""
    total = topo.mem_mib * MiB
    low = 0x80000000 if total >= 0xb0000000 else 0xb0000000
    out, off = [], 0
    for i, n in enumerate(topo.nodes):
        size = n.mem_mib * MiB
        for start, end, base in ((0, low, 0), (low, total, 4 * GiB - low)):
            a, b = max(off, start), min(off + size, end)
            if a < b:
                out.append((base + a, b - a, f'ram-node{i}', i))
        off += size
    return sorted(out)


def ram_ranges(g):
    """query-virtio-numa-ram as [(addr, size, memdev, node or None)],
    checked: ascending, not overlapping, one backend's adjacent pieces
    merged."""
    ram = [(r['addr'], r['size'], r['memdev'], r.get('node'))
           for r in g.qmp.cmd('query-virtio-numa-ram')]
    for (a, s, m, _), (na, _, nm, _) in zip(ram, ram[1:]):
        assert a + s <= na, ram
        assert a + s < na or m != nm, ram
    assert all(s > 0 for _, s, _, _ in ram), ram
    return ram


@pytest.mark.parametrize('name', RAM_TOPOLOGIES)
def test_query_ram(boot, name):
    """query-virtio-numa maps guest-physical RAM to the -numa backends and
    their nodes, and to the backends of nodes added at run time."""
    topo, dev = RAM_TOPOLOGIES[name]
    g = boot(topo, vnuma=dev)
    boot_ram = q35_boot_ram(topo)
    ram = ram_ranges(g)
    assert ram == boot_ram
    # Exactly the boot RAM: the low 1 MiB has no hole here.  The VGA and
    # SMRAM window 0xa0000-0xbffff is an alias of PCI space, which has
    # nothing there (-nodefaults: no VGA), so the RAM under it shows
    # through; 0xc0000-0xfffff is RAM in all PAM segments, as SeaBIOS
    # leaves them (shadowed BIOS and option ROMs, part read-only), and
    # merged with the rest of node 0's.  The PCI hole below 4 GiB is no
    # hole either: the RAM that would be there is mapped from 4 GiB.
    assert ram[0][0] == 0
    assert sum(s for _, s, _, _ in ram) == topo.mem_mib * MiB
    # A backend nothing maps is no guest RAM.
    g.qmp.cmd('object-add', **{'qom-type': 'memory-backend-ram',
                               'id': 'spare', 'size': 512 * MiB})
    assert ram_ranges(g) == boot_ram
    if 'region-size' not in dev:
        return
    # Added, the backend is node 2's memory in the device's region.
    r = g.qmp.cmd('virtio-numa-node-add', id='vnuma0', node=2, memdev='spare')
    assert wait_completion(g, r['command-id'], 120)['status'] == 'ok'
    region = [d['data'] for d in g.qmp.cmd('query-memory-devices')
              if d['type'] == 'virtio-numa'][0]
    added = [(n['memaddr'], n['size'], 'spare', n['node'])
             for n in region['nodes']]
    assert added == [(region['memaddr'], 512 * MiB, 'spare', 2)]
    assert ram_ranges(g) == boot_ram + added
    # Removed, it is gone again.
    assert command(g, 'virtio-numa-node-remove', node=2,
                   timeout=300)['status'] == 'ok'
    assert ram_ranges(g) == boot_ram
    g.qmp.cmd('object-del', id='spare')


def test_device_by_qom_path(boot):
    """Commands name the device by id or by QOM path: the virtio device's
    or its PCI proxy's.  Other paths are no virtio-numa device."""
    g = boot(TOPOLOGIES['two-nodes'])
    info = g.qmp.cmd('query-virtio-numa')[0]
    for path in (info['qom-path'], '/machine/peripheral/vnuma0'):
        cid = g.qmp.cmd('virtio-numa-report', id=path)['command-id']
        assert wait_completion(g, cid)['status'] == 'ok', path
    for path in ('/machine/peripheral/nosuch', '/machine', '/'):
        with pytest.raises(QMPError, match='is not a virtio-numa device'):
            g.qmp.cmd('virtio-numa-report', id=path)


def test_mmio_while_the_memory_map_changes(boot, figures):
    """A vCPU reading the device's registers while another vCPU turns a
    PCI device's memory decoding off and on, each time a new memory map
    in QEMU: every read returns the register, and QEMU lives.  Under
    TCG, QEMU 10.0 looked an I/O TLB entry's section number up in the
    newest map rather than the one it came from, and aborted now and
    then (iotlb_to_section: section_index < d->map.sections_nb) or read
    another region."""
    g = boot(Topology([Node(512, [0, 1]), Node(512, [2])]),
             extra_args=['-device', 'virtio-balloon-pci,id=tog'],
             qemu=os.environ.get('VNUMA_MMIO_QEMU', 'vnuma'))
    devs = {}
    for d in g.sh('ls /sys/bus/pci/devices').split():
        ids = g.read(f'/sys/bus/pci/devices/{d}/vendor').strip(), \
            g.read(f'/sys/bus/pci/devices/{d}/device').strip()
        devs[ids] = d
    vnuma = devs[('0x1af4', '0x1078')]
    tog = devs.get(('0x1af4', '0x1002')) or devs[('0x1af4', '0x1045')]
    # The device config is at 0x2000 of BAR 4; its first word is the low
    # half of block_size.
    secs = 20
    g.sh(f'taskset -c 1 vnuma-mmio read /sys/bus/pci/devices/{vnuma}/resource4 '
         f'0x2000 {secs} > /tmp/mmio.out 2>&1 &')
    out = g.sh(f'taskset -c 0 vnuma-mmio toggle /sys/bus/pci/devices/{tog}/config '
               f'{secs}', timeout=secs + 120)
    assert g.proc.poll() is None, g.stderr_text()[-2000:]
    time.sleep(2)
    read = g.sh('cat /tmp/mmio.out')
    m = re.search(r'(\d+) reads of 0x([0-9a-f]+), (\d+) mismatches', read)
    assert m and int(m.group(2), 16) == (128 << 20) & 0xffffffff and \
        m.group(3) == '0', read
    assert int(m.group(1)) > 1000, read
    toggles = re.search(r'(\d+) toggles', out)
    assert toggles, out
    figures(f'{m.group(1)} MMIO reads while the memory map changed '
            f'{int(toggles.group(1)) * 2} times: 0 mismatches, QEMU alive')
