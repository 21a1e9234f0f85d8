# SPDX-License-Identifier: GPL-2.0
"""The foundation: our kernel boots in our QEMU with the NUMA layout given.

QEMU's node ids are ACPI proximity domains (PXM); the guest numbers its
nodes in the order it meets them in the SRAT, so every check here goes
from the host id through the guest's own PXM-to-node map.
"""

import pytest

from vnuma.guest import Guest, Node, Topology
from vnuma.layout import node_list

# A node's MemTotal is its managed pages: what QEMU gave it, less what the
# kernel keeps.  Every node pays for its struct pages (64 bytes per 4 KiB
# page: 1.56 %) and small per-node tables; node 0 also holds the kernel
# image (large with lockdep), the initramfs while it is unpacked, the low
# 1 MiB and the firmware's ranges.  Measured on the debug kernel: a
# 512 MiB node 0 has 30.2 MiB less, a 256 MiB or 512 MiB other node
# 1.65 % less.
SLACK_PCT = 2
SLACK_NODE0_MIB = 32
SLACK_OTHER_MIB = 1


def expect_layout(g, topo):
    """Every host node is online in the guest with its CPUs and memory."""
    pxm = g.pxm_to_node()
    assert sorted(pxm) == list(range(len(topo.nodes))), \
        f'guest SRAT map {pxm} does not cover host nodes 0-{len(topo.nodes) - 1}'
    online = g.read('/sys/devices/system/node/online').strip()
    assert online == f'0-{len(topo.nodes) - 1}'
    for host, n in enumerate(topo.nodes):
        node = pxm[host]
        cpus = g.read(f'/sys/devices/system/node/node{node}/cpulist').strip()
        assert cpus == ','.join(map(str, n.cpus)), \
            f'host node {host} (guest node {node}): cpus {cpus!r}, given {n.cpus}'
        given_kb = n.mem_mib * 1024
        slack_kb = given_kb * SLACK_PCT / 100 + \
            (SLACK_NODE0_MIB if host == 0 else SLACK_OTHER_MIB) * 1024
        got = g.node_meminfo(node)['MemTotal']
        assert given_kb - slack_kb <= got <= given_kb, \
            f'host node {host} (guest node {node}): MemTotal {got} kB, ' \
            f'QEMU gave {given_kb} kB (slack {slack_kb:.0f} kB)'


def test_two_nodes(boot):
    topo = Topology([Node(512, [0]), Node(512, [1])])
    g = boot(topo)
    expect_layout(g, topo)
    assert g.read('/sys/devices/system/node/has_memory').strip() == '0-1'
    assert g.qmp.cmd('query-status')['status'] == 'running'
    assert g.poweroff() == 0
    assert 'reboot: Power down' in g.console()


def test_four_nodes_one_cpuless(boot):
    topo = Topology([Node(512, [0]), Node(256, [1]), Node(256, []),
                     Node(256, [2])])
    g = boot(topo)
    expect_layout(g, topo)
    pxm = g.pxm_to_node()
    has_cpu = set(node_list(g.read('/sys/devices/system/node/has_cpu')))
    assert has_cpu == {pxm[0], pxm[1], pxm[3]}, \
        f'has_cpu {has_cpu}: the CPU-less host node 2 is guest node {pxm[2]}'
    assert g.read('/sys/devices/system/node/has_memory').strip() == '0-3'
    assert g.poweroff() == 0


def test_command_channel(boot):
    """The harness itself: status codes, output, and bad commands."""
    g = boot(Topology([Node(256, [0])]))
    assert g.run('echo hello; exit 3') == (3, 'hello\n')
    rc, out = g.run('no-such-command')
    assert rc == 127 and 'not found' in out
    assert g.run('printf x') == (0, 'x')
    assert g.sh('cat /proc/self/status | grep -c Name').strip() == '1'


class StrayBootGuest(Guest):
    """A guest whose first boot has no control port by that name: what
    the upstream TCG race does to the first boot (see Guest.start)."""

    boots = 0

    def command_line(self):
        self.boots += 1
        cmd = super().command_line()
        if self.boots == 1:
            cmd = [a.replace('name=org.virtio-numa.ctl', 'name=other')
                   for a in cmd]
        return cmd


def test_boot_tried_again_after_upstream_race(tmp_path):
    """A boot the race led astray is tried once more, with a warning and
    the first boot's output kept; the guest then works."""
    g = StrayBootGuest(Topology([Node(512, [0])]), workdir=str(tmp_path))
    with pytest.warns(UserWarning, match='found no control port'):
        g.start()
    try:
        assert g.boots == 2
        assert 'port=none' in (tmp_path / 'serial.log.first').read_text()
        assert g.sh('echo ok').strip() == 'ok'
    finally:
        g.stop()
