# SPDX-License-Identifier: GPL-2.0
"""A hostile guest: thousands of events, valid ones among mutated and
random ones, sent from inside the guest through the driver's inject
path (tests/guest/vnuma-fuzz.c).  QEMU must not crash, must account for
every event as accepted or bogus, and must still serve the real driver
afterwards.  With VNUMA_FUZZ_QEMU=asan the device runs in QEMU built
with AddressSanitizer and UBSan (make fuzz, make stress)."""

import os
import re
import time

from vnuma.device import event_bytes, node_records, report
from vnuma.guest import Node, Topology

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
    template = event_bytes(node_records(0) + node_records(1)).hex()
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
