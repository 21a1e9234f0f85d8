# SPDX-License-Identifier: GPL-2.0
"""virtio-numa through a real libvirt: a private libvirtd started by the
test, a domain booting our kernel in our QEMU, driven with
`virsh qemu-monitor-command`, the Python module (host-agent/python) and
vnumactl -c URI when it has libvirt support."""

import json
import os
import subprocess
import sys
import time

import libvirt
import pytest

from vnuma.guest import BUILD, log_problems
from vnuma.libvirt import PrivateLibvirt, domain_xml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..',
                                'host-agent', 'python'))
import virtio_numa  # noqa: E402

MiB = 1 << 20
PAGE = 4096
VNUMACTL = os.path.join(BUILD, 'host-agent', 'vnumactl')


@pytest.fixture
def domain(tmp_path):
    """(private libvirtd, domain name, serial log) with vm1 running."""
    lv = PrivateLibvirt(str(tmp_path / 'libvirt'))
    lv.start()
    serial = str(tmp_path / 'serial.log')
    xml = tmp_path / 'vm1.xml'
    xml.write_text(domain_xml('vm1', serial))
    try:
        lv.virsh('define', str(xml))
        lv.virsh('start', 'vm1')
        deadline = time.monotonic() + 180
        while not (os.path.exists(serial) and
                   'VNUMA-READY' in open(serial, errors='replace').read()):
            assert time.monotonic() < deadline, f'no VNUMA-READY; see {serial}'
            time.sleep(0.2)
        yield lv, 'vm1', serial
    finally:
        lv.stop()
    problems = log_problems(open(serial, errors='replace').read())
    assert not problems, problems


def qmp_virsh(lv, dom, name, **args):
    cmd = {'execute': name, **({'arguments': args} if args else {})}
    out = lv.virsh('qemu-monitor-command', dom, json.dumps(cmd)).stdout
    return json.loads(out)


def test_libvirt_virsh_and_python(domain):
    """The device through libvirt: virsh qemu-monitor-command and the
    Python module add a node, relayout and remove it; both see the same
    accounting."""
    lv, dom, _ = domain
    virtio_numa.event_loop()
    conn = libvirt.open(lv.uri)
    vn = virtio_numa.Device(conn, dom)
    try:
        ns = vn.report()
        assert ns[0]['online'] and ns[0]['cpus'] == 2
        assert not ns[2]['online']
        via_virsh = qmp_virsh(lv, dom, 'query-virtio-numa')['return'][0]
        assert {n['node']: n['present-pages'] for n in via_virsh['nodes']} == \
            {h: n['present-pages'] for h, n in ns.items()}

        ns = vn.node_add(2, 512 * MiB, cpus=[2])
        assert ns[2]['added'] and ns[2]['present-pages'] == 512 * MiB // PAGE
        assert ns[2]['cpus'] == 1
        vn.relayout([(512 * MiB, 128 * MiB, 1)])
        ns = vn.node_remove(2)
        assert not ns[2]['online']
        names = [o['name'] for o in
                 qmp_virsh(lv, dom, 'qom-list', path='/objects')['return']]
        assert 'vnuma-vm1-node2' not in names

        # Refusals come back as one line naming the domain and node.
        with pytest.raises(virtio_numa.Error,
                           match=r"vm1/vnuma0: node 0: QEMU refused "
                                 r"virtio-numa-node-add: 'node': node 0 has "
                                 r"boot memory"):
            vn.node_add(0, 128 * MiB)
        names = [o['name'] for o in
                 qmp_virsh(lv, dom, 'qom-list', path='/objects')['return']]
        assert 'vnuma-vm1-node0' not in names
    finally:
        vn.close()
        conn.close()


def vnumactl_has_libvirt():
    p = subprocess.run([VNUMACTL, '-c', 'test:///default', 'nodes', 'x'],
                       capture_output=True, text=True)
    return 'not built' not in p.stderr


def test_libvirt_vnumactl(domain):
    """vnumactl -c URI: the same subcommands as over --qmp."""
    lv, dom, _ = domain
    if not vnumactl_has_libvirt():
        pytest.fail('vnumactl was built without libvirt')

    def ctl(*args):
        p = subprocess.run([VNUMACTL, '-c', lv.uri, *args],
                           capture_output=True, text=True, timeout=300)
        return p.returncode, p.stdout, p.stderr

    rc, out, err = ctl('report', dom)
    assert rc == 0, err
    rc, out, err = ctl('node-add', dom, '--node', '2', '--size', '256M')
    assert rc == 0, err + out
    rc, out, err = ctl('nodes', dom, '--json')
    js = json.loads(out)
    got = {n['node']: n for n in (js['nodes'] if isinstance(js, dict) else js)}
    assert got[2]['present-pages'] == 256 * MiB // PAGE
    rc, out, err = ctl('node-remove', dom, '--node', '2')
    assert rc == 0, err + out
    rc, out, err = ctl('nodes', 'nosuchvm')
    assert rc != 0 and 'nosuchvm' in err and len(err.strip().splitlines()) == 1


def test_libvirt_gone_mid_command(domain):
    """libvirtd goes away while vnumactl waits: for events (watch) and
    for the guest's completion of a node-add.  Both end at once with one
    line that says so and exit 5; once libvirtd is back, the node is
    either wholly there, backend and all, or wholly not."""
    lv, dom, _ = domain

    def start(*args):
        return subprocess.Popen([VNUMACTL, '-c', lv.uri, *args],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    watch = start('watch', dom)
    time.sleep(3)
    # Stopped vCPUs never complete the node-add: it waits on the guest.
    lv.virsh('suspend', dom)
    add = start('node-add', dom, '--node', '2', '--size', '128M')
    deadline = time.monotonic() + 60
    while 'vnuma-vm1-node2' not in [
            o['name'] for o in qmp_virsh(lv, dom, 'qom-list',
                                         path='/objects')['return']]:
        assert time.monotonic() < deadline, 'node-add made no backend'
        time.sleep(0.2)
    t = time.monotonic()
    lv.stop(keep_domains=True)
    for p, what in ((watch, 'watch'), (add, 'node-add')):
        out, err = p.communicate(timeout=60)
        # Stock libvirt: the first line says that this is the fallback.
        lines = err.strip().splitlines()
        assert lines and 'falling back to QMP passthrough' in lines[0], err
        lines = lines[1:]
        assert p.returncode == 5, (what, p.returncode, err)
        assert len(lines) == 1 and 'libvirt' in lines[0] and \
            ('lost' in lines[0] or 'could not run' in lines[0]), (what, err)
    assert time.monotonic() - t < 40

    lv.start()
    lv.virsh('resume', dom)
    rc = subprocess.run([VNUMACTL, '-c', lv.uri, 'report', dom],
                        capture_output=True, text=True, timeout=120)
    assert rc.returncode == 0, rc.stderr
    info = qmp_virsh(lv, dom, 'query-virtio-numa')['return'][0]
    added = {n['node'] for n in info['nodes'] if n['added']}
    names = [o['name'] for o in
             qmp_virsh(lv, dom, 'qom-list', path='/objects')['return']]
    assert (2 in added) == ('vnuma-vm1-node2' in names), (added, names)
    if 2 in added:
        rc = subprocess.run([VNUMACTL, '-c', lv.uri, 'node-remove', dom,
                             '--node', '2'], capture_output=True, text=True,
                            timeout=300)
        assert rc.returncode == 0, rc.stderr
