# SPDX-License-Identifier: GPL-2.0
"""vnumactl (host-agent/) against a real guest over its own QMP socket:
every subcommand, its output, its exit codes, and that nothing is left
half-created after an error."""

import json
import os
import pty
import re
import subprocess

import pytest

from vnuma.device import nodes, report
from vnuma.guest import BUILD, Node, Topology

MiB = 1 << 20
PAGE = 4096
TOPO = Topology([Node(1024, [0, 1]), Node(512, [2]), Node(0, []), Node(0, [])],
                maxmem_mib=1536 + 2048 + 1024)
VNUMACTL = os.environ.get('VNUMACTL',
                          os.path.join(BUILD, 'host-agent', 'vnumactl'))


@pytest.fixture
def guest(boot, tmp_path):
    """A guest with a second QMP socket, for vnumactl."""
    sock = str(tmp_path / 'agent.sock')
    g = boot(TOPO, vnuma='id=vnuma0,region-size=2G',
             extra_args=['-qmp', f'unix:{sock},server=on,wait=off'])
    g.agent_sock = sock
    return g


def ctl(g, *args, timeout=300):
    """Run vnumactl on @g; return (exit status, stdout, stderr)."""
    if not os.path.exists(VNUMACTL):
        pytest.fail(f'{VNUMACTL} missing: run make build first')
    p = subprocess.run([VNUMACTL, '--qmp', g.agent_sock, *args],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def objects(g):
    return {o['name'] for o in g.qmp.cmd('qom-list', path='/objects')}


def test_vnumactl_walkthrough(guest):
    """nodes, report, node-add, relayout --wait, node-remove, as a user
    would run them, each checked against what the device reports."""
    g = guest
    rc, out, err = ctl(g, 'report', 'vm1')
    assert rc == 0, err
    assert re.search(r'^\s*0\s+0\s+online,memory,cpus\s+2\s', out, re.M), out

    rc, out, err = ctl(g, 'nodes', 'vm1', '--json')
    assert rc == 0, err
    js = json.loads(out)
    report(g)
    want = nodes(g)
    got = {n['node']: n for n in (js['nodes'] if isinstance(js, dict) else js)}
    assert set(got) == set(want)
    for host, n in want.items():
        assert got[host]['present-pages'] == n['present-pages'], (host, got[host])

    rc, out, err = ctl(g, 'node-add', 'vm1', '--node', '2', '--size', '512M',
                       '--cpus', '2')
    assert rc == 0, err + out
    report(g)
    ns = nodes(g)
    assert ns[2]['added'] and ns[2]['present-pages'] == 512 * MiB // PAGE
    assert ns[2]['cpus'] == 1
    assert 'vnuma-vm1-node2' in objects(g)
    assert re.search(r'^\s*2\s+\d+\s+online,memory,cpus,added\s+1\s', out, re.M), out

    # 128 MiB of node 0's memory to node 1, waiting for the transplant.
    rc, out, err = ctl(g, 'relayout', 'vm1', '--range', '0x20000000:128M:1',
                       '--wait')
    assert rc == 0, err + out
    report(g)
    assert nodes(g)[1]['transplanted-pages'] >= 128 * MiB // PAGE // 2

    rc, out, err = ctl(g, 'node-remove', 'vm1', '--node', '2')
    assert rc == 0, err + out
    report(g)
    assert not nodes(g)[2]['online']
    # The backend vnumactl created is gone with the node.
    assert 'vnuma-vm1-node2' not in objects(g)


def test_vnumactl_errors(guest):
    """Bad input: one clear line naming the domain, non-zero exit codes,
    nothing half-created."""
    g = guest
    before = objects(g)
    # (args, exit status, what the message says); all but usage errors
    # name the VM and device ("vm1/vnuma0").
    cases = [
        (('node-add', 'vm1', '--node', '2', '--size', '12Q'), 1,
         "bad size '12Q'"),
        # Checked against the device before anything is created.
        (('node-add', 'vm1', '--node', '2', '--size', '100M'), 1,
         'vm1/vnuma0: node 2: size 104857600 (100 MiB) is not a non-zero '
         'multiple of the block size 128 MiB'),
        (('node-add', 'vm1', '--node', '9', '--size', '128M'), 1,
         "vm1/vnuma0: node 9: not below the device's max-nodes 4"),
        (('node-add', 'vm1', '--node', '0', '--size', '128M'), 2,
         'vm1/vnuma0: node 0: QEMU refused virtio-numa-node-add: '
         "'node': node 0 has boot memory"),
        (('node-remove', 'vm1', '--node', '2'), 2,
         'vm1/vnuma0: node 2: QEMU refused virtio-numa-node-remove'),
        (('relayout', 'vm1', '--range', '0x20000000:128M'), 1,
         "bad range '0x20000000:128M': expected START:SIZE:NODE"),
        (('relayout', 'vm1', '--range', '0x1000:128M:1'), 1,
         'vm1/vnuma0: range 1 (0x1000, 0x8000000 bytes) is not aligned'),
        (('--device', 'nope', 'nodes', 'vm1'), 1,
         "vm1/nope: the VM has no virtio-numa device 'nope'"),
        (('frobnicate', 'vm1'), 1, "unknown command 'frobnicate'"),
    ]
    for args, status, msg in cases:
        rc, out, err = ctl(g, *args)
        assert (rc, msg in err) == (status, True), (args, rc, out, err)
        assert len(err.strip().splitlines()) == 1, (args, err)
    assert objects(g) == before
    # A socket that is not there.
    p = subprocess.run([VNUMACTL, '--qmp', '/nonexistent.sock', 'nodes', 'vm1'],
                       capture_output=True, text=True)
    assert p.returncode == 5 and 'vm1' in p.stderr, p.stderr


def ctl_on_pty(g, *args, timeout=300):
    """Run vnumactl on @g with stderr on a pseudo-terminal (stdout piped);
    return (exit status, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([VNUMACTL, '--qmp', g.agent_sock, *args],
                         stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    term = b''
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:         # EIO: the last writer closed it
            break
        if not chunk:
            break
        term += chunk
    out, _ = p.communicate(timeout=timeout)
    os.close(master)
    return p.returncode, out, term.decode(errors='replace')


def test_vnumactl_progress_only_on_a_terminal(guest):
    """Long operations show their progress on a terminal, rewritten in
    place, and say nothing of it when stderr is piped."""
    g = guest
    rc, out, term = ctl_on_pty(g, 'relayout', 'vm1', '--range',
                               '0x20000000:128M:1', '--migrate', '--settle')
    assert rc == 0, term + out
    assert re.search(r'\rpending: \d+ pages \([^)]*\)\x1b\[K', term), term
    assert 'pending:' not in out
    rc, out, err = ctl(g, 'relayout', 'vm1', '--range', '0x20000000:128M:0',
                       '--migrate', '--settle')
    assert rc == 0, err + out
    assert 'pending:' not in err and '\x1b' not in err, err

    rc, out, err = ctl(g, 'node-add', 'vm1', '--node', '2', '--size', '256M')
    assert rc == 0, err
    rc, out, term = ctl_on_pty(g, 'node-remove', 'vm1', '--node', '2')
    assert rc == 0, term + out
    # The guest's reports while the node empties, if it sent any.
    assert re.fullmatch(r'(\r(node 2: \S+ \S+ present)\x1b\[K)*\r?\n?', term) \
        or 'node 2:' in term, repr(term)
    rc, out, err = ctl(g, 'node-add', 'vm1', '--node', '2', '--size', '256M')
    assert rc == 0, err
    rc, out, err = ctl(g, 'node-remove', 'vm1', '--node', '2')
    assert rc == 0 and 'node 2:' not in err, err
