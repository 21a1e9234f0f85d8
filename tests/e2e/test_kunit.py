# SPDX-License-Identifier: GPL-2.0
"""KUnit suites of the test kernel: built in, they run at boot; as modules,
when loaded.  Either way their TAP goes to the console, read here."""

import re

from vnuma.guest import Node, Topology

# Suites of ours that must have run, with at least this many cases.
SUITES = {'virtio_numa_proto': 9, 'memlayout': 6}


def test_kunit_suites(boot):
    g = boot(Topology([Node(256, [0])]))
    g.sh('modprobe virtio_numa_test')
    g.sh('modprobe memlayout_test')
    log = g.console()
    failed = re.findall(r'^\[[ \d.]+\]\s+not ok \d+ (\S+)', log, re.M)
    assert not failed, f'KUnit cases failed: {failed}'
    for suite, want in SUITES.items():
        m = re.search(rf'# {suite}: pass:(\d+) fail:(\d+) skip:(\d+) total:(\d+)', log)
        assert m, f'KUnit suite {suite} did not run'
        passed, fail, skip, total = map(int, m.groups())
        assert fail == 0 and skip == 0 and passed == total >= want, m.group(0)
