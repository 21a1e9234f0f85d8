# SPDX-License-Identifier: GPL-2.0
"""The serial-log checker every e2e test relies on must catch real reports."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from vnuma.guest import log_problems  # noqa: E402

# Lines as 6.12 prints them.
BAD = [
    '[    0.065253] WARNING: CPU: 1 PID: 0 at arch/x86/kernel/smpboot.c:350 topology_sane.isra.0+0x56/0x5c',
    '[    3.1] BUG: KASAN: slab-out-of-bounds in vnuma_event_add+0x1/0x2',
    '[    3.1] BUG: sleeping function called from invalid context at mm/slub.c:4150',
    '[    4.2] WARNING: possible circular locking dependency detected',
    '[    4.2] WARNING: possible recursive locking detected',
    '[    4.2] WARNING: inconsistent lock state',
    '[    4.2] WARNING: suspicious RCU usage',
    '[    5.0] kernel BUG at mm/page_alloc.c:1234!',
    '[    5.0] Oops: general protection fault, probably for non-canonical address',
    '[    5.0] UBSAN: array-index-out-of-bounds in drivers/virtio/virtio_numa.c:10:2',
    '[    5.0] page dumped because: VM_BUG_ON_PAGE(PageTail(page))',
    '[    5.0] list_add corruption. prev->next should be next',
    '[    5.0] Kernel panic - not syncing: Attempted to kill init!',
    '[    5.0] Call Trace:',
]

GOOD = [
    '[    1.3] virtio_numa virtio1: 2 host nodes, 2 guest node ids, block size 131072 KiB',
    '[    3.6] virtio_numa virtio1: command 7 (unknown, 16 bytes): invalid type',
    '[    2.5] # virtio_numa_proto: pass:9 fail:0 skip:0 total:9',
    '[    0.0] ACPI: SRAT: Node 1 PXM 1 [mem 0x20000000-0x2fffffff]',
    'VNUMA-READY kernel=6.12.117 nodes=0-1 port=/dev/vport0p1',
]


def test_bad_lines_are_caught():
    for line in BAD:
        assert log_problems(line) == [line], line


def test_good_lines_pass():
    assert log_problems('\n'.join(GOOD)) == []


def test_expected_lines_pass_only_when_expected():
    line = '[    3.5] page dumped because: migration failure'
    assert log_problems(line) == [line]
    assert log_problems(line, [r'page dumped because: migration failure']) == []
    other = '[    3.6] WARNING: CPU: 0 PID: 1 at mm/page_alloc.c:1 x'
    assert log_problems(line + '\n' + other, [r'migration failure']) == [other]
