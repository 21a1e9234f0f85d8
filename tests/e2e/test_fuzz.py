# SPDX-License-Identifier: GPL-2.0
"""A hostile guest: thousands of events, valid ones among mutated and
random ones, sent from inside the guest through the driver's inject
path (tests/guest/vnuma-fuzz.c); and a hostile driver that misuses the
virtqueues themselves, driven through qtest (tests/vnuma/qtest.py).
QEMU must not crash, must account for every event as accepted or bogus,
and must still serve a driver that behaves afterwards.  With
VNUMA_FUZZ_QEMU=asan the device runs in QEMU built with AddressSanitizer
and UBSan (make fuzz, make stress)."""

import os
import random
import re
import time

from vnuma.device import EVENT_COMPLETION, event_bytes, node_records, \
    report, unit_records
from vnuma.guest import Node, Topology, qemu_path
from vnuma.qmp import QMPError
from vnuma.qtest import BUF_BASE, BUF_SIZE, DRIVER_OK, F_INDIRECT, F_NEXT, \
    F_WRITE, NEEDS_RESET, Q_ENABLE, Q_SELECT, Q_SIZE, QTest, VirtioPCI

COUNT = int(os.environ.get('VNUMA_FUZZ_COUNT', '10000'))
SEED = int(os.environ.get('VNUMA_FUZZ_SEED', '1'))
QEMU = os.environ.get('VNUMA_FUZZ_QEMU', 'vnuma')
TOPO = Topology([Node(512, [0]), Node(512, [1])])
# The driver's largest event (4096 records) and one record more: those
# the driver refuses itself.
MAX = 32 + 4097 * 16
SANITIZER = re.compile(r'AddressSanitizer|LeakSanitizer|runtime error:')


def counters(g):
    info = g.qmp.cmd('query-virtio-numa')[0]
    return info['bogus-events'], info['reports']


def test_fuzz_guest_events(boot, figures):
    """Every event the hostile guest gets through to the device is either
    accepted or dropped and counted; QEMU (sanitized, when built so)
    reports no error, and a real command still completes."""
    g = boot(TOPO, append='virtio_numa.allow_inject=1', qemu=QEMU)
    report(g)
    bogus0, reports0 = counters(g)
    dev = g.sh('ls /sys/kernel/debug/virtio_numa/').split()[0]
    # As the driver sends it: the guest's unit records are mutated too.
    template = event_bytes(node_records(0) + node_records(1) +
                           unit_records()).hex()
    t0 = time.monotonic()
    out = g.sh(f'vnuma-fuzz -n {COUNT} -s {SEED} -m {MAX} '
               f'-f /sys/kernel/debug/virtio_numa/{dev}/inject_event '
               f'{template}', timeout=max(600, COUNT // 5))
    m = re.search(r'sent (\d+), refused by the driver (\d+)', out)
    assert m, out
    sent, refused = int(m.group(1)), int(m.group(2))
    assert sent + refused == COUNT and sent > COUNT * 3 // 4, out

    # The driver has queued them all; wait until the device has seen them.
    deadline = time.monotonic() + 120
    while True:
        bogus, reports = counters(g)
        if bogus - bogus0 + reports - reports0 >= sent:
            break
        assert time.monotonic() < deadline, (bogus, reports, sent)
        time.sleep(0.5)
    elapsed = time.monotonic() - t0
    accepted = reports - reports0
    assert bogus - bogus0 + accepted == sent, (bogus, reports, sent)
    # One in eight is the valid template; mutations rarely stay valid.
    assert accepted >= sent // 16 and bogus - bogus0 >= sent // 2, \
        (accepted, bogus - bogus0)

    assert g.proc.poll() is None, 'QEMU died'
    assert not SANITIZER.search(g.stderr_text()), g.stderr_text()[-3000:]
    done, info = report(g)
    assert done['status'] == 'ok', done
    assert info['nodes'][0]['managed-pages'] != 900   # the guest's own again
    figures(f'fuzz ({QEMU} QEMU, seed {SEED}): {COUNT} events in '
            f'{elapsed:.0f} s: {sent} reached the device, {bogus - bogus0} '
            f'dropped as bogus and counted, {accepted} accepted; '
            f'{refused} refused by the driver (size); 0 crashes, '
            f'0 sanitizer reports')


# Guest-physical addresses a hostile driver may hand the device: RAM it
# owns, RAM's last bytes, nothing, the device's own BAR, the top of the
# address space.
MEM_MIB = 512
BAD_ADDRS = [0, MEM_MIB << 20, (MEM_MIB << 20) - 8, 0xc0000000,
             0xfffff000, 1 << 40, (1 << 64) - 16]
LENGTHS = [0, 1, 31, 32, 48, 4096, 65536, 1 << 20, 0xffffffff]


def misuse_chain(v, q, rng, template):
    """A descriptor chain of 1 to 4: half of them well formed (their
    contents mutated now and then), the others with fields now right,
    now wrong."""
    size = v.queues[q]['size']
    head = rng.randrange(size)
    if rng.random() < 0.5:
        data = bytearray(template)
        if rng.random() < 0.5:
            data[rng.randrange(len(data))] = rng.getrandbits(8)
        v.post(q, head, bytes(data), write=q == 0)
        return
    n = rng.randint(1, 4)
    for k in range(n):
        i = (head + k) % size
        if rng.random() < 0.7:
            addr = BUF_BASE + rng.randrange(BUF_SIZE // 64) * 64
            if rng.random() < 0.5:
                data = bytearray(template)
                for _ in range(rng.randint(0, 4)):
                    data[rng.randrange(len(data))] = rng.getrandbits(8)
            else:
                data = rng.randbytes(rng.randint(1, 256))
            v.qt.memwrite(addr, bytes(data))
            length = rng.choice([len(data)] * 4 + LENGTHS)
        else:
            addr, length = rng.choice(BAD_ADDRS), rng.choice(LENGTHS)
        flags = F_NEXT if k + 1 < n else 0
        if rng.random() < 0.3:
            flags ^= rng.choice([F_NEXT, F_WRITE, F_INDIRECT])
        nxt = (i + 1) % size if rng.random() < 0.8 else \
            rng.choice([head, rng.randrange(0x10000)])
        v.write_desc(q, i, addr, length, flags, nxt)
    v.publish(q, head, step=rng.choice([1] * 12 + [0, 2, size + 1, 0x8000]))
    v.kick(q if rng.random() < 0.9 else rng.choice([0, 1, 2, 7, 0xffff]))


def answer_commands(v, rng):
    """Answer what the device sent as a driver would, or not at all."""
    for _ in v.used(0):
        if rng.random() < 0.7:
            continue
        cid = rng.randrange(1, 64)
        v.post(1, rng.randrange(v.queues[1]['size']),
               event_bytes(node_records(0), etype=EVENT_COMPLETION, cid=cid))


def test_fuzz_virtqueue_misuse(figures):
    """A driver that misuses both virtqueues: chains of the wrong
    direction, looping or running off the ring, indirect tables, lengths
    and addresses outside RAM, avail indexes that jump, notifications of
    queues that do not exist, garbage in common and device config, resets
    at any moment, while commands come from QMP.  QEMU (sanitized, when
    built so) must survive with no report, count the events it dropped,
    and serve a driver that behaves after a reset."""
    rng = random.Random(SEED)
    steps = max(COUNT // 4, 100)
    qt = QTest(qemu_path(QEMU), mem_mib=MEM_MIB)
    try:
        v = VirtioPCI(qt)
        template = event_bytes(node_records(0) + node_records(1) +
                               unit_records())
        v.init()
        resets = broken = refused = 0
        t0 = time.monotonic()
        for _ in range(steps):
            r = rng.random()
            if r < 0.45:
                misuse_chain(v, 1, rng, template)
            elif r < 0.6:
                misuse_chain(v, 0, rng, template)
            elif r < 0.7:
                v.post(0, rng.randrange(v.queues[0]['size']), size=2048,
                       write=True)
                answer_commands(v, rng)
            elif r < 0.8:
                try:
                    qt.qmp.cmd('virtio-numa-report', id='vnuma0')
                except QMPError:
                    refused += 1
            elif r < 0.9:
                # Garbage in common and device config.
                off = rng.choice([Q_SELECT, Q_SIZE, Q_ENABLE])
                v.wr('w', off, rng.getrandbits(16))
                qt.writex('b', v.devcfg + rng.randrange(48),
                          rng.getrandbits(8))
                qt.readx('l', v.devcfg + rng.randrange(44))
            elif r < 0.95:
                v.set_status(rng.getrandbits(8))
            if v.status() & NEEDS_RESET:
                broken += 1
            if v.status() & NEEDS_RESET or r >= 0.95 or \
                    not v.status() & DRIVER_OK:
                v.init()
                resets += 1
        elapsed = time.monotonic() - t0
        assert qt.alive(), qt.stderr_text()[-3000:]
        info = qt.qmp.cmd('query-virtio-numa')[0]
        bogus, accepted = info['bogus-events'], info['reports']

        # A driver that behaves is served: a REPORT goes out, its
        # completion comes back, the accounting is the one sent.
        v.init()
        v.post(0, 0, size=2048, write=True)
        cid = qt.qmp.cmd('virtio-numa-report', id='vnuma0')['command-id']
        deadline = time.monotonic() + 10
        while not v.used(0):
            assert time.monotonic() < deadline, 'no command sent'
            time.sleep(0.05)
        v.post(1, 1, event_bytes(node_records(0, managed=850),
                                 etype=EVENT_COMPLETION, cid=cid, seq=7))
        ev = qt.qmp.wait_event('VIRTIO_NUMA_COMPLETION', 10,
                               match=lambda e: e['data']['command-id'] == cid)
        assert ev['data']['status'] == 'ok', ev
        info = qt.qmp.cmd('query-virtio-numa')[0]
        assert info['nodes'][0]['managed-pages'] == 850, info
        assert info['bogus-events'] == bogus
    finally:
        qt.close()
    errors = qt.stderr_text()
    assert not SANITIZER.search(errors), errors[-3000:]
    assert broken and resets and bogus and accepted, \
        (broken, resets, bogus, accepted)
    figures(f'virtqueue misuse ({QEMU} QEMU, seed {SEED}): {steps} steps '
            f'in {elapsed:.0f} s: device broken (NEEDS_RESET) {broken} '
            f'times, {resets} resets, {bogus} events dropped as bogus and '
            f'counted, {accepted} accepted, {refused} commands refused '
            f'without a driver; 0 crashes, 0 sanitizer reports')
