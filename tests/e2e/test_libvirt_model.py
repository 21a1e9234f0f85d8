# SPDX-License-Identifier: GPL-2.0
"""virtio-numa as libvirt's own memory device: our virtqemud (libvirt 11.3
with patches/libvirt), started by the test, defines and starts a domain
from XML alone (<memory model='virtio-numa'>, NUMA cells without
memory), and nothing taints it."""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from vnuma.guest import BUILD, Ctl, GuestError, log_problems
from vnuma.mem import start_mem, stop_mem
from vnuma.vnumad import Vnumad, wait_nodes
from vnuma.layout import node_list
from vnuma.libvirt import (LIBVIRT_BUILD, DomainFiles, LibvirtError,
                           PrivateLibvirt, domain_xml, free_port, ours_env)

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(LIBVIRT_BUILD, 'src', 'virtqemud')),
    reason='our libvirt is not built (scripts/build-libvirt)')

MiB = 1 << 20
VNUMACTL = os.path.join(BUILD, 'host-agent', 'vnumactl')
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.fixture
def lv(tmp_path):
    lv = PrivateLibvirt(str(tmp_path / 'libvirt'), daemon='ours')
    lv.start()
    yield lv
    lv.stop()


@pytest.fixture
def files():
    f = DomainFiles()
    yield f
    f.cleanup()


def start(lv, files, tmp_path, name='vm1', **xml_args):
    """Define and start @name from XML; return (serial log, Ctl)."""
    serial = files.path(f'{name}.serial')
    ctl = files.path(f'{name}.ctl')
    xml = tmp_path / f'{name}.xml'
    xml.write_text(domain_xml(name, serial, ctl=ctl, typed=True,
                              **files.xml_args(), **xml_args))
    lv.virsh('define', str(xml))
    lv.virsh('start', name)
    deadline = time.monotonic() + 180
    while not (os.path.exists(serial) and
               'VNUMA-READY' in open(serial, errors='replace').read()):
        assert time.monotonic() < deadline, f'no VNUMA-READY; see {serial}'
        time.sleep(0.2)
    return serial, Ctl(ctl)


def guest(ctl, cmd):
    status, out = ctl.run(cmd)
    assert status == 0, f'{cmd}: {out}'
    return out.strip()


def taints(lv, name):
    """Every taint libvirt recorded for @name: virsh dominfo's messages
    and the domain log's 'is tainted' lines."""
    info = lv.virsh('dominfo', name).stdout
    found = [line.strip() for line in info.splitlines() if 'taint' in line]
    log = os.path.join(lv.dir, 'log', 'qemu', f'{name}.log')
    found += [line.strip() for line in open(log, errors='replace')
              if 'tainted' in line]
    return found


def test_domain_from_xml_without_taint(lv, files, tmp_path):
    serial, ctl = start(lv, files, tmp_path, region_mib=2048, block_mib=128)

    # The live XML: the device with its alias, the PCI address libvirt
    # gave it, and the region's address read back from QEMU
    # (query-memory-devices).
    xml = lv.virsh('dumpxml', 'vm1').stdout
    dev = re.search(r"<memory model='virtio-numa'>.*?</memory>", xml, re.S)
    assert dev, xml
    dev = dev.group(0)
    assert "<size unit='KiB'>2097152</size>" in dev, dev
    assert "<block unit='KiB'>131072</block>" in dev, dev
    assert "<alias name='virtionuma0'/>" in dev, dev
    assert re.search(r"<address type='pci' domain='0x0000' bus='0x0[0-9a-f]'",
                     dev), dev
    base = re.search(r"<address base='(0x[0-9a-f]+)'/>", dev)
    assert base and int(base.group(1), 16) >= 4 << 30, dev
    # Cells without memory stay so; the region counts in the total.
    assert "<cell id='2' memory='0' unit='KiB'/>" in xml, xml
    assert re.search(r"<memory unit='KiB'>3670016</memory>", xml), xml

    # QEMU got the device from libvirt, no backend for the device or
    # the empty cells, and nothing on the command line behind libvirt.
    log = open(os.path.join(lv.dir, 'log', 'qemu', 'vm1.log')).read()
    cmdline = log[log.index('qemu-system-x86_64 '):]
    assert '"driver":"virtio-numa-pci"' in cmdline, cmdline
    assert '"region-size":2147483648' in cmdline, cmdline
    assert '-numa node,nodeid=2 ' in cmdline.replace('\\\n', ''), cmdline
    assert 'ram-node2' not in cmdline, cmdline
    assert taints(lv, 'vm1') == []

    # The guest sees the device, its driver bound, and the four nodes
    # (two of them without memory, possible for hotplug).
    assert guest(ctl, 'ls /sys/bus/virtio/drivers/virtio_numa | grep -c virtio') == '1'
    assert guest(ctl, 'cat /sys/devices/system/node/possible') == '0-3'
    assert guest(ctl, 'cat /sys/devices/system/node/has_memory') == '0-1'
    lv.virsh('destroy', 'vm1')
    problems = log_problems(open(serial, errors='replace').read())
    assert not problems, problems


def nodes_with_memory(ctl):
    """The guest's nodes with memory, as a set of ids."""
    return set(node_list(guest(ctl, 'cat /sys/devices/system/node/has_memory')))


def node_mib(ctl, node):
    """MemTotal of guest node @node, in MiB."""
    line = guest(ctl, f'grep MemTotal /sys/devices/system/node/node{node}/meminfo')
    return int(line.split()[-2]) // 1024


def vnuma_stats(lv, name):
    """virsh domstats --vnuma: {cell id: {field: value}} and the report
    count."""
    out = lv.virsh('domstats', '--vnuma', '--raw', name).stdout
    flat = dict(re.findall(r'^\s+vnuma\.(\S+)=(\S+)$', out, re.M))
    cells = {}
    for i in range(int(flat['cell.count'])):
        f = {k[len(f'cell.{i}.'):]: v for k, v in flat.items()
             if k.startswith(f'cell.{i}.')}
        cells[int(f['id'])] = f
    return cells, int(flat['reports'])


def node_meminfo_kib(ctl, node, field):
    line = guest(ctl, f'grep -w {field}: /sys/devices/system/node/node{node}/meminfo')
    return int(line.split()[-2])


def cell_records(lv, name, *flags):
    """The virtio-numa cells of @name's XML, as attribute strings."""
    xml = lv.virsh('dumpxml', name, *flags).stdout
    return re.findall(r"<cell (id='\d+' memory='\d+' unit='KiB' memdev=[^/]*)/>", xml)


def dominfo_kib(lv, name):
    """virsh dominfo's max and used memory of @name, in KiB."""
    info = dict(line.split(':', 1) for line in
                lv.virsh('dominfo', name).stdout.splitlines() if ':' in line)
    return tuple(int(info[k].split()[0]) for k in ('Max memory', 'Used memory'))


def test_node_add_remove_with_virsh(lv, files, tmp_path):
    """virsh numa-node-add and numa-node-remove: the guest gets the cell's
    memory and vCPU, data kept on it survives its removal, the live XML
    follows (and survives a daemon restart), every bad request fails
    naming its problem, and nothing taints the domain."""
    serial, ctl = start(lv, files, tmp_path, region_mib=2048, block_mib=128)
    # The region counts in the total, only the added cells in the used.
    assert dominfo_kib(lv, 'vm1') == ((1536 + 2048) << 10, 1536 << 10)

    out = lv.virsh('numa-node-add', 'vm1', '2', '--size', '256M', '--cpus', '2').stdout
    assert 'NUMA cell 2 added' in out, out
    assert dominfo_kib(lv, 'vm1') == ((1536 + 2048) << 10, (1536 + 256) << 10)
    # The guest numbers the new node itself (not necessarily 2).
    new = nodes_with_memory(ctl) - {0, 1}
    assert len(new) == 1, new
    g2 = new.pop()
    assert node_mib(ctl, g2) == 256
    assert guest(ctl, f'cat /sys/devices/system/node/node{g2}/cpulist') == '2'
    assert cell_records(lv, 'vm1') == [
        "id='2' memory='262144' unit='KiB' memdev='vnuma-cell2' cpus='2'"]
    assert cell_records(lv, 'vm1', '--inactive') == []

    # The accounting virsh domstats gives is the guest's own.
    cells, reports = vnuma_stats(lv, 'vm1')
    assert reports > 0 and set(cells) == {0, 1, 2, 3}, cells
    c2 = cells[2]
    assert c2['guest_node'] == str(g2) and c2['added'] == 'yes', c2
    assert c2['online'] == 'yes' and c2['cpus'] == '1', c2
    assert int(c2['present']) == 256 << 20, c2
    for cell, gnode in ((0, 0), (1, 1), (2, g2)):
        assert int(cells[cell]['managed']) == \
            node_meminfo_kib(ctl, gnode, 'MemTotal') * 1024, (cell, cells[cell])
    assert cells[3]['online'] == 'no' and cells[3]['added'] == 'no', cells[3]

    # Each bad request: exit status 1, a message naming the problem, and
    # the guest unchanged.
    for args, error in [
            (['2', '--size', '128M'], "cell '2' has memory added already"),
            (['0', '--size', '128M'], "cell '0' has boot memory"),
            (['9', '--size', '128M'], "guest has no NUMA cell '9'"),
            (['3', '--size', '100M'], 'multiple of the virtio-numa block size'),
            (['3', '--size', '2G'], 'exceeds the free part of the virtio-numa region'),
            (['3', '--size', '128M', '--cpus', '7'], "vCPU '7' does not exist"),
            (['3', '--size', '128M', '--nodeset', '5'], 'NUMA node 5 is unavailable'),
            (['3', '--size', '128M', '--current', '--live'], 'mutually exclusive')]:
        p = lv.virsh('numa-node-add', 'vm1', *args, check=False)
        assert p.returncode == 1 and error in p.stderr, (args, p.stderr)
    p = lv.virsh('numa-node-remove', 'vm1', '3', check=False)
    assert p.returncode == 1 and 'has no memory added through virtio-numa' in p.stderr
    assert nodes_with_memory(ctl) == {0, 1, g2}

    # A daemon restart reads the added cell back from its status XML.
    lv.stop(keep_domains=True)
    lv.start()
    assert cell_records(lv, 'vm1') == [
        "id='2' memory='262144' unit='KiB' memdev='vnuma-cell2' cpus='2'"]

    # Data that prefers node 2 moves off as it goes, intact.
    start_mem(ctl, 'n2', f'stress -p {g2} -m 128')
    out = lv.virsh('numa-node-remove', 'vm1', '2').stdout
    assert 'NUMA cell 2 removed' in out, out
    assert stop_mem(ctl, 'n2').endswith(' 0 mismatches')
    assert nodes_with_memory(ctl) == {0, 1}
    assert cell_records(lv, 'vm1') == []
    cells, _ = vnuma_stats(lv, 'vm1')
    assert cells[2]['added'] == 'no' and int(cells[2]['present']) == 0, cells[2]
    assert dominfo_kib(lv, 'vm1') == ((1536 + 2048) << 10, 1536 << 10)

    # Its backend was deleted: the same id is free for the next add, here
    # bound to host node 0.
    lv.virsh('numa-node-add', 'vm1', '2', '--size', '128M', '--nodeset', '0')
    new = nodes_with_memory(ctl) - {0, 1}
    assert len(new) == 1 and node_mib(ctl, new.pop()) == 128
    assert cell_records(lv, 'vm1') == [
        "id='2' memory='131072' unit='KiB' memdev='vnuma-cell2' nodeset='0'"]
    lv.virsh('numa-node-remove', 'vm1', '2')

    assert taints(lv, 'vm1') == []
    lv.virsh('destroy', 'vm1')
    problems = log_problems(open(serial, errors='replace').read())
    assert not problems, problems


def vcpu_affinity(lv, name):
    """{vCPU: set of host CPUs its thread may run on}, as virsh vcpuinfo
    reads them from the threads (sched_getaffinity)."""
    out = lv.virsh('vcpuinfo', name).stdout
    res = {}
    for vcpu, mask in re.findall(r'^VCPU:\s+(\d+)$.*?^CPU Affinity:\s+(\S+)$',
                                 out, re.M | re.S):
        res[int(vcpu)] = {i for i, c in enumerate(mask) if c == 'y'}
    return res


def vcpupins(lv, name):
    """{vCPU: cpuset} of the live <vcpupin>s of @name."""
    xml = lv.virsh('dumpxml', name).stdout
    return {int(v): c for v, c in
            re.findall(r"<vcpupin vcpu='(\d+)' cpuset='([^']+)'/>", xml)}


def test_vcpus_follow_an_added_cell(lv, files, tmp_path):
    """A vCPU numa-node-add moves into a cell bound to host nodes runs on
    those nodes' CPUs (a live <vcpupin>, the thread's affinity, a tunable
    event) until the cell is removed, when it gets the domain's default
    back; a vCPU the operator pinned keeps its pinning throughout."""
    node0 = node_list(open('/sys/devices/system/node/node0/cpulist').read())
    assert len(node0) >= 2, f'host node 0 has CPUs {node0}: the test needs 2'
    default = max(node0)
    serial, ctl = start(lv, files, tmp_path, vcpu_cpuset=str(default))
    assert vcpu_affinity(lv, 'vm1') == {0: {default}, 1: {default}, 2: {default}}
    # The operator pins vCPU 1 to another CPU.
    other = min(node0)
    lv.virsh('vcpupin', 'vm1', '1', str(other), '--live')
    assert vcpupins(lv, 'vm1') == {1: str(other)}

    events = subprocess.Popen(
        [lv.virsh_path, '-c', lv.uri, 'event', 'vm1', '--event', 'tunable',
         '--loop', '--timeout', '120'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=lv.env)
    time.sleep(1)
    lv.virsh('numa-node-add', 'vm1', '2', '--size', '256M', '--nodeset', '0',
             '--cpus', '1-2')
    new = nodes_with_memory(ctl) - {0, 1}
    assert len(new) == 1
    g2 = new.pop()
    assert guest(ctl, f'cat /sys/devices/system/node/node{g2}/cpulist') == '1-2'

    # vCPU 2 had the default: it runs next to the cell's memory now.
    # vCPU 1 keeps the operator's pinning.
    span = lv.virsh('vcpupin', 'vm1', '2', '--live').stdout
    node0_str = re.search(r'^\s*2\s+(\S+)\s*$', span, re.M).group(1)
    assert set(node_list(node0_str)) == set(node0), span
    assert vcpupins(lv, 'vm1') == {1: str(other), 2: node0_str}
    assert vcpu_affinity(lv, 'vm1') == {0: {default}, 1: {other},
                                        2: set(node0)}
    assert cell_records(lv, 'vm1') == [
        "id='2' memory='262144' unit='KiB' memdev='vnuma-cell2' nodeset='0' "
        "cpus='1-2' pinned='2'"]

    # The record survives a daemon restart.
    lv.stop(keep_domains=True)
    lv.start()
    assert cell_records(lv, 'vm1')[0].endswith("cpus='1-2' pinned='2'")

    lv.virsh('numa-node-remove', 'vm1', '2')
    assert nodes_with_memory(ctl) == {0, 1}
    assert vcpupins(lv, 'vm1') == {1: str(other)}
    assert vcpu_affinity(lv, 'vm1') == {0: {default}, 1: {other},
                                        2: {default}}
    events.terminate()
    out = events.communicate(timeout=30)[0]
    assert f'cputune.vcpupin2: {node0_str}' in out, out

    assert taints(lv, 'vm1') == []
    lv.virsh('destroy', 'vm1')
    problems = log_problems(open(serial, errors='replace').read())
    assert not problems, problems


def memnodes(lv, name, *flags):
    """The <memnode>s of @name's XML, as attribute strings."""
    xml = lv.virsh('dumpxml', name, *flags).stdout
    return re.findall(r'<memnode (.*?)/>', xml)


def test_relayout_and_numatune_with_virsh(lv, files, tmp_path):
    """virsh numa-relayout gives half of cell 1's memory to cell 0 in the
    running guest (with its host memory moved first), and numatune
    --cell moves a cell's host memory: the guest's nodes and domstats
    follow, data the guest keeps on node 1 stays intact, the live and
    persistent <memnode> record what was asked, every bad request fails
    naming its problem, and nothing taints the domain."""
    serial, ctl = start(lv, files, tmp_path, region_mib=2048, block_mib=128)
    start_mem(ctl, 'n1', 'stress -n 1 -m 64')

    def present():
        cells, _ = vnuma_stats(lv, 'vm1')
        return {cell: int(cells[cell]['present']) for cell in (0, 1)}

    # What the guest's page allocator manages is what it says (while the
    # layout stands still: pending pages move as they are freed).
    cells, _ = vnuma_stats(lv, 'vm1')
    for cell in (0, 1):
        assert int(cells[cell]['managed']) == \
            node_meminfo_kib(ctl, cell, 'MemTotal') * 1024, cells[cell]
    before = present()
    # Completions as typed domain events, for virsh event.
    events = subprocess.Popen(
        [lv.virsh_path, '-c', lv.uri, 'event', 'vm1', '--event', 'virtio-numa',
         '--loop', '--timeout', '300'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=lv.env)
    time.sleep(1)
    # Cell 1 is guest-physical [1 GiB, 1.5 GiB): its lower half to cell 0
    # (the top of RAM is firmware's, not all RAM).  Pages in use stay
    # managed by node 1 until they are freed (pending).
    out = lv.virsh('numa-relayout', 'vm1', '0', '--start', '1024M',
                   '--size', '256M', '--nodeset', '0').stdout
    assert 'range moved to NUMA cell 0' in out, out
    assert present() == {0: before[0] + (256 << 20), 1: before[1] - (256 << 20)}
    # And back, migrating what is in use.
    lv.virsh('numa-relayout', 'vm1', '1', '--start', str(1 << 30),
             '--size', str(256 << 10), '--migrate')
    assert present() == before
    events.send_signal(signal.SIGINT)
    out = events.communicate(timeout=30)[0]
    seen = re.findall(r"event 'virtio-numa' for domain 'vm1':\n"
                      r"\tdevice: (\S+)\n\tcommand: (\S+)\n"
                      r"\tcommand_id: \d+\n\tstatus: (\S+)\n", out)
    assert [e for e in seen if e[1] == 'relayout'] == \
        [('virtionuma0', 'relayout', 'ok')] * 2, out

    # Cell 1's host memory to host node 0 (this host's only one), live
    # and for the next boot.
    assert memnodes(lv, 'vm1') == []
    lv.virsh('numatune', 'vm1', '--cell', '1', '--nodeset', '0', '--live')
    assert memnodes(lv, 'vm1') == ["cellid='1' mode='strict' nodeset='0'"]
    assert memnodes(lv, 'vm1', '--inactive') == []
    lv.virsh('numatune', 'vm1', '--cell', '1', '--nodeset', '0',
             '--mode', 'preferred', '--config')
    assert memnodes(lv, 'vm1', '--inactive') == \
        ["cellid='1' mode='preferred' nodeset='0'"]

    # Each bad request: exit status 1, a message naming the problem.
    for cmd, error in [
            (['numa-relayout', 'vm1', '0', '--start', '1025M', '--size', '128M'],
             'multiple of the virtio-numa block size (131072KiB)'),
            (['numa-relayout', 'vm1', '0', '--start', '1024M', '--size', '100M'],
             'multiple of the virtio-numa block size'),
            (['numa-relayout', 'vm1', '9', '--start', '1024M', '--size', '128M'],
             "guest has no NUMA cell '9'"),
            (['numa-relayout', 'vm1', '0', '--start', '1024M', '--size', '128M',
              '--nodeset', '5'], 'NUMA node 5 is unavailable'),
            (['numa-relayout', 'vm1', '0', '--start', '4G', '--size', '128M'],
             '0x100000000+0x8000000 is not all guest RAM'),
            (['numatune', 'vm1', '--cell', '1', '--nodeset', '5', '--live'],
             'NUMA node 5 is unavailable'),
            (['numatune', 'vm1', '--cell', '1', '--nodeset', '0', '--mode',
              'interleave', '--live'], "moves with mode 'strict' only"),
            (['numatune', 'vm1', '--cell', '2', '--nodeset', '0', '--live'],
             "NUMA cell '2' has no memory to move"),
            (['numatune', 'vm1', '--cell', '7', '--nodeset', '0', '--live'],
             "guest has no NUMA cell '7'"),
            (['numatune', 'vm1', '--cell', '1', '--live'],
             'Option --nodeset is required by option --cell')]:
        p = lv.virsh(*cmd, check=False)
        assert p.returncode == 1 and error in p.stderr, (cmd, p.stderr)

    assert stop_mem(ctl, 'n1').endswith(' 0 mismatches')
    assert taints(lv, 'vm1') == []
    lv.virsh('destroy', 'vm1')
    problems = log_problems(open(serial, errors='replace').read())
    assert not problems, problems


def ctl_after_migration(path, timeout=180):
    """The guest's command channel at the destination's end @path.  The
    guest's init reopens its port when the host side changes; a command
    sent in that moment can go unanswered, so ask again on a fresh
    connection (with other command ids) until the guest answers."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        ctl = Ctl(path)
        ctl.seq = 1000 * attempt
        try:
            if ctl.run('true', timeout=10)[0] == 0:
                return ctl
        except GuestError:
            pass
        ctl.close()
        assert time.monotonic() < deadline, f'no answer on {path}'


def test_migrate_with_added_cell(tmp_path, files):
    """virsh migrate --live of a domain with a cell added at run time,
    between two virtqemuds: the destination creates the cell's memory
    backend before the migration stream starts (the migration cookie
    carries the cell), the data the guest keeps on the cell arrives
    intact, the destination's live XML and domstats have the cell, the
    cell can be removed there, and nothing is tainted on either side."""
    src = PrivateLibvirt(str(tmp_path / 'src'), daemon='ours')
    dst = PrivateLibvirt(str(tmp_path / 'dst'), daemon='ours')
    try:
        src.start()
        dst.start()
        serial, ctl = start(src, files, tmp_path)
        src.virsh('numa-node-add', 'vm1', '2', '--size', '256M', '--cpus', '2')
        new = nodes_with_memory(ctl) - {0, 1}
        assert len(new) == 1, new
        g2 = new.pop()
        start_mem(ctl, 'n2', f'hold -n {g2} -m 128')
        # The guest's end of the channel migrates as connected: let go of
        # the source's end first, as a client of a migrating VM would
        # (kept open, the guest's next command could wait for it).
        ctl.close()

        # The destination's own serial log and command channel: both
        # QEMUs run on this host for a while.
        xml = src.virsh('dumpxml', '--migratable', 'vm1').stdout
        dst_serial, dst_ctl = files.path('dst.serial'), files.path('dst.ctl')
        xml = re.sub(r"<source path='[^']*'", f"<source path='{dst_serial}'", xml)
        xml = re.sub(r"<source mode='bind' path='[^']*'",
                     f"<source mode='bind' path='{dst_ctl}'", xml)
        # The destination binds cells 1 and the added 2 where its --xml
        # says (the source bound neither).
        assert '<numatune>' not in xml
        xml = re.sub(r'(  <vcpu[^>]*>\d+</vcpu>\n)', r"""\1  <numatune>
    <memnode cellid='1' mode='strict' nodeset='0'/>
    <memnode cellid='2' mode='strict' nodeset='0'/>
  </numatune>
""", xml)
        (tmp_path / 'dst.xml').write_text(xml)
        # A host node the destination does not have, for the added cell:
        # refused before anything moves, naming the node; vm1 runs on.
        (tmp_path / 'bad.xml').write_text(xml.replace(
            "<memnode cellid='2' mode='strict' nodeset='0'/>",
            "<memnode cellid='2' mode='strict' nodeset='5'/>"))
        p = src.virsh('migrate', '--live', 'vm1', dst.uri,
                      '--xml', str(tmp_path / 'bad.xml'),
                      '--migrateuri', f'tcp://127.0.0.1:{free_port()}',
                      timeout=300, check=False)
        assert p.returncode == 1 and 'NUMA node 5 is unavailable' in \
            p.stderr, p.stderr
        assert src.virsh('domstate', 'vm1').stdout.strip() == 'running'
        assert 'vm1' not in dst.virsh('list', '--all', '--name').stdout.split()
        src.virsh('migrate', '--live', 'vm1', dst.uri,
                  '--xml', str(tmp_path / 'dst.xml'),
                  '--migrateuri', f'tcp://127.0.0.1:{free_port()}', timeout=300)
        assert 'vm1' not in src.virsh('list', '--name').stdout.split()
        assert dst.virsh('domstate', 'vm1').stdout.strip() == 'running'

        ctl = ctl_after_migration(dst_ctl)
        assert memnodes(dst, 'vm1') == ["cellid='1' mode='strict' nodeset='0'",
                                        "cellid='2' mode='strict' nodeset='0'"]
        log = open(tmp_path / 'dst' / 'log' / 'qemu' / 'vm1.log').read()
        assert re.search(r'"id":"ram-node1"[^}]*"host-nodes":\[0\],"policy":"bind"', log), \
            re.findall(r'.*ram-node1.*', log)
        assert cell_records(dst, 'vm1') == [
            "id='2' memory='262144' unit='KiB' memdev='vnuma-cell2' nodeset='0' cpus='2'"]
        cells, _ = vnuma_stats(dst, 'vm1')
        assert cells[2]['added'] == 'yes', cells[2]
        assert int(cells[2]['present']) == 256 << 20, cells[2]
        assert node_mib(ctl, g2) == 256
        assert stop_mem(ctl, 'n2').endswith(' 0 mismatches')

        dst.virsh('numa-node-remove', 'vm1', '2')
        assert nodes_with_memory(ctl) == {0, 1}
        assert cell_records(dst, 'vm1') == []
        assert taints(dst, 'vm1') == [] and taints(src, 'vm1') == []
        dst.virsh('destroy', 'vm1')
        for log in (serial, dst_serial):
            problems = log_problems(open(log, errors='replace').read())
            assert not problems, (log, problems)
    finally:
        dst.stop()
        src.stop()


@pytest.mark.parametrize('change, error', [
    # (XML change, what virsh must say)
    (lambda x: x.replace("<size unit='MiB'>2048</size>",
                         "<size unit='MiB'>2048</size>\n        <node>0</node>"),
     'its target takes no <node>'),
    (lambda x: x.replace("<size unit='MiB'>2048</size>",
                         "<size unit='MiB'>2048</size>\n        <block unit='MiB'>96</block>"),
     'block size must be a power of two'),
    (lambda x: x.replace("<size unit='MiB'>2048</size>",
                         "<size unit='MiB'>2112</size>\n        <block unit='MiB'>128</block>"),
     'region size must be an integer multiple of block size'),
    (lambda x: x.replace("<memory model='virtio-numa'>",
                         "<memory model='virtio-numa' access='shared'>"),
     "'access' and 'discard' are not supported"),
    (lambda x: x.replace("<memory model='virtio-numa'>\n",
                         "<memory model='virtio-numa'>\n      <source><nodemask>0</nodemask></source>\n"),
     "takes no <source> element"),
    (lambda x: re.sub(r"(    <memory model='virtio-numa'>.*?</memory>\n)", r"\1\1", x,
                      flags=re.S),
     'only one virtio-numa memory device is supported'),
    (lambda x: x.replace("<maxMemory slots='2' unit='MiB'>5632</maxMemory>",
                         "<maxMemory slots='2' unit='MiB'>3000</maxMemory>"),
     'maximum memory size must be equal or greater than the actual memory size'),
], ids=['target-node', 'block-pow2', 'region-unaligned', 'access', 'source',
        'twice', 'maxmemory'])
def test_bad_xml_refused_by_name(lv, tmp_path, change, error):
    """virsh define refuses each bad device description, with exit
    status 1 and a message that names the problem; nothing is defined."""
    xml = tmp_path / 'bad.xml'
    xml.write_text(change(domain_xml('bad', str(tmp_path / 's'), typed=True)))
    with pytest.raises(LibvirtError) as e:
        lv.virsh('define', str(xml))
    assert error in str(e.value), str(e.value)
    assert 'bad' not in lv.virsh('list', '--all', '--name').stdout.split()


def vnumactl(lv, *args, ours=True):
    """vnumactl -c on @lv's URI, with our libvirt library (@ours) or the
    system's (libvirt 9.0, which has no virtio-numa API)."""
    return subprocess.run([VNUMACTL, '-c', lv.uri, *args], text=True,
                          capture_output=True, timeout=300,
                          env=ours_env() if ours else None)


def table_present(out):
    """{node: PRESENT column} of vnumactl's table."""
    return {int(m.group(1)): m.group(2) for m in re.finditer(
        r'^\s+(\d+)\s+\d+\s+\S+\s+\d+\s+(\S+ \S+)', out, re.M)}


def test_vnumactl_on_the_typed_api(lv, files, tmp_path):
    """vnumactl -c drives a domain with libvirt's own device through
    libvirt's virtio-numa API when its libvirt library has it: the
    table from the vnuma stats, node add, relayout and node remove, the
    guest's data intact, and the domain untainted.  With the system's
    libvirt library, which has no such API, vnumactl falls back to QMP
    passthrough, says so, and libvirt marks the domain tainted."""
    serial, ctl = start(lv, files, tmp_path)
    start_mem(ctl, 'h', 'hold -n 1 -m 64')

    p = vnumactl(lv, '-v', 'nodes', 'vm1')
    assert p.returncode == 0, p.stderr
    assert "vm1: through libvirt's virtio-numa API" in p.stderr, p.stderr
    assert "vm1: libvirt's virtio-numa accounting" in p.stdout, p.stdout
    boot = table_present(p.stdout)
    assert boot[0].endswith('MiB') and boot[1].endswith('MiB'), p.stdout

    p = vnumactl(lv, 'node-add', 'vm1', '--node', '2', '--size', '256M',
                 '--cpus', '2')
    assert p.returncode == 0, p.stderr
    assert table_present(p.stdout)[2] == '256 MiB', p.stdout
    assert cell_records(lv, 'vm1') == [
        "id='2' memory='262144' unit='KiB' memdev='vnuma-cell2' cpus='2'"]
    new = nodes_with_memory(ctl) - {0, 1}
    assert len(new) == 1 and node_mib(ctl, new.pop()) == 256

    # 128 MiB of cell 1 ([1G, 1.5G)) to cell 0, data and all.
    before, _ = vnuma_stats(lv, 'vm1')
    p = vnumactl(lv, 'relayout', 'vm1', '--range', '0x48000000:128M:0',
                 '--settle')
    assert p.returncode == 0, p.stderr
    after, _ = vnuma_stats(lv, 'vm1')
    for cell, change in ((0, 128 * MiB), (1, -128 * MiB)):
        assert int(after[cell]['present']) == \
            int(before[cell]['present']) + change, (before, after)

    # Refusals come from libvirt, named.
    for args, error in (
            (('node-add', 'vm1', '--node', '2', '--size', '128M'),
             "cell '2' has memory added already"),
            (('node-remove', 'vm1', '--node', '3'),
             'has no memory added through virtio-numa'),
            (('relayout', 'vm1', '--range', '0x48000000:100M:0'),
             'virDomainNumaRelayout')):
        p = vnumactl(lv, *args)
        assert p.returncode != 0 and error in p.stderr, (args, p.stderr)

    p = vnumactl(lv, 'node-remove', 'vm1', '--node', '2')
    assert p.returncode == 0, p.stderr
    assert cell_records(lv, 'vm1') == []
    assert stop_mem(ctl, 'h').endswith(' 0 mismatches')
    assert taints(lv, 'vm1') == []

    # The system's libvirt library: the labelled fallback.
    p = vnumactl(lv, '--device', 'virtionuma0', 'nodes', 'vm1', ours=False)
    assert p.returncode == 0, p.stderr
    assert 'vm1: this libvirt has no virtio-numa API; falling back to QMP ' \
        'passthrough (libvirt marks the domain tainted)' in p.stderr, p.stderr
    assert 'vm1/' in p.stdout and 'driver ready' in p.stdout, p.stdout
    assert any('custom-monitor' in t for t in taints(lv, 'vm1'))
    lv.virsh('destroy', 'vm1')
    problems = log_problems(open(serial, errors='replace').read())
    assert not problems, problems


def test_vnumad_follows_a_typed_domain_untainted(lv, files, tmp_path):
    """vnumad on our libvirt library follows a domain with libvirt's own
    device through libvirt's API: its export follows node add and remove
    (the guest's reports, as libvirt's vnuma stats), and no monitor
    command taints the domain."""
    serial, ctl = start(lv, files, tmp_path)
    d = Vnumad(str(tmp_path / 'vnumad'), lv.uri, env=ours_env())
    try:
        d.wait_log("vm1: libvirt's virtio-numa device; through libvirt's "
                   "API")
        boot = wait_nodes(d, 'vm1', lambda n: set(n) == {0, 1})
        lv.virsh('numa-node-add', 'vm1', '2', '--size', '256M')
        grown = wait_nodes(d, 'vm1', lambda n: n.get(2) == 256 * MiB)
        assert {k: grown[k] for k in (0, 1)} == boot, (grown, boot)
        lv.virsh('numa-node-remove', 'vm1', '2')
        wait_nodes(d, 'vm1', lambda n: 2 not in n)
        st = json.loads(d.ctl('daemon-status', '--json').stdout)
        assert [x['domain'] for x in st['domains']] == ['vm1'], st
        assert taints(lv, 'vm1') == []
        assert 'QMP passthrough' not in d.log()
    finally:
        assert d.stop() == 0
    lv.virsh('destroy', 'vm1')
    problems = log_problems(open(serial, errors='replace').read())
    assert not problems, problems


PY_TYPED = r'''
import json, sys
import libvirt, virtio_numa

conn = libvirt.open(sys.argv[1])
vn = virtio_numa.open_device(conn, 'vm1')
out = {'class': type(vn).__name__, 'passthrough': vn.passthrough}
out['boot'] = vn.nodes()
out['added'] = vn.node_add(2, 256 << 20, cpus=[2])
vn.relayout([(0x48000000, 128 << 20, 0)])
out['relaid'] = vn.nodes()
errors = []
for call in (lambda: vn.node_add(2, 128 << 20),
             lambda: vn.node_remove(3),
             lambda: vn.relayout([(0x48000000, 100 << 20, 0)]),
             lambda: vn.node_add(3, 1000)):
    try:
        call()
        errors.append(None)
    except virtio_numa.Error as e:
        errors.append([e.kind, str(e)])
out['errors'] = errors
out['removed'] = vn.node_remove(2)
print(json.dumps(out))
'''


def test_python_on_the_typed_api(lv, files, tmp_path):
    """host-agent/python/virtio_numa.py, imported by a script as an
    operator would, on our libvirt library: open_device() gives the
    typed device, and node add, relayout and node remove go through
    libvirt's API (ctypes: libvirt-python has no binding for it), with
    libvirt's refusals raised as Error, and no taint."""
    serial, ctl = start(lv, files, tmp_path)
    env = ours_env()
    env['PYTHONPATH'] = os.path.join(REPO, 'host-agent', 'python')
    p = subprocess.run(['/usr/bin/python3', '-c', PY_TYPED, lv.uri],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out['class'] == 'TypedDevice' and not out['passthrough'], out
    cells = {int(k): v for k, v in out['added'].items()}
    assert cells[2]['added'] and cells[2]['present'] == 256 * MiB, cells
    boot = {int(k): v for k, v in out['boot'].items()}
    relaid = {int(k): v for k, v in out['relaid'].items()}
    assert relaid[1]['present'] == boot[1]['present'] - 128 * MiB
    assert relaid[0]['present'] == boot[0]['present'] + 128 * MiB
    e = out['errors']
    assert e[0][0] == 'libvirt' and "cell '2' has memory added already" \
        in e[0][1], e
    assert 'vm1: node 3: node remove: ' in e[1][1] and \
        'has no memory added through virtio-numa' in e[1][1], e
    assert 'vm1: node 0: relayout: ' in e[2][1], e
    assert e[3] == ['usage', 'vm1: node 3: libvirt takes sizes in KiB: '
                    '1000 is not a multiple of 1024'], e
    removed = {int(k): v for k, v in out['removed'].items()}
    assert not removed[2]['added'] and removed[2]['present'] == 0, removed
    assert taints(lv, 'vm1') == []
    lv.virsh('destroy', 'vm1')
    problems = log_problems(open(serial, errors='replace').read())
    assert not problems, problems
