# SPDX-License-Identifier: GPL-2.0
"""The foundation: our kernel boots in our QEMU with the NUMA layout given."""

from vnuma.guest import Node, Topology

# A node's MemTotal is its managed pages: what QEMU gave it, less what the
# kernel keeps for itself.  Every node pays for its struct pages (64 bytes
# per 4 KiB page, 1.6 %) and the page allocator's own tables; node 0 also
# holds the kernel image, the initramfs while it is unpacked, the low 1 MiB
# and the firmware's reserved ranges.  Measured on the debug kernel
# (lockdep makes the image large): see test_node_memtotal_slack.
SLACK_PCT = 2.5
SLACK_NODE0_MIB = 64
SLACK_OTHER_MIB = 4


def expect_memtotal(g, topo):
    for i, n in enumerate(topo.nodes):
        given_kb = n.mem_mib * 1024
        slack_kb = given_kb * SLACK_PCT / 100 + \
            (SLACK_NODE0_MIB if i == 0 else SLACK_OTHER_MIB) * 1024
        got = g.node_meminfo(i)['MemTotal']
        assert given_kb - slack_kb <= got <= given_kb, \
            f'node {i}: MemTotal {got} kB, QEMU gave {given_kb} kB ' \
            f'(slack {slack_kb:.0f} kB)'


def test_two_nodes(boot):
    topo = Topology([Node(512, [0]), Node(512, [1])])
    g = boot(topo)
    assert g.read('/sys/devices/system/node/online').strip() == '0-1'
    assert g.read('/sys/devices/system/node/has_memory').strip() == '0-1'
    assert g.read('/sys/devices/system/node/node0/cpulist').strip() == '0'
    assert g.read('/sys/devices/system/node/node1/cpulist').strip() == '1'
    expect_memtotal(g, topo)
    assert g.qmp.cmd('query-status')['status'] == 'running'
    assert g.poweroff() == 0
    assert 'reboot: Power down' in g.console()


def test_four_nodes_one_cpuless(boot):
    topo = Topology([Node(512, [0]), Node(256, [1]), Node(256, []),
                     Node(256, [2])])
    g = boot(topo)
    assert g.read('/sys/devices/system/node/online').strip() == '0-3'
    assert g.read('/sys/devices/system/node/has_memory').strip() == '0-3'
    assert g.read('/sys/devices/system/node/has_cpu').strip() == '0-1,3'
    assert g.read('/sys/devices/system/node/node2/cpulist').strip() == ''
    assert g.read('/sys/devices/system/node/node3/cpulist').strip() == '2'
    expect_memtotal(g, topo)
    assert g.poweroff() == 0


def test_command_channel(boot):
    """The harness itself: status codes, output, and bad commands."""
    g = boot(Topology([Node(256, [0])]))
    assert g.run('echo hello; exit 3') == (3, 'hello\n')
    rc, out = g.run('no-such-command')
    assert rc == 127 and 'not found' in out
    assert g.run('printf x') == (0, 'x')
    assert g.sh('cat /proc/self/status | grep -c Name').strip() == '1'
