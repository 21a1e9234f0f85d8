# SPDX-License-Identifier: GPL-2.0
"""virtio-numa as libvirt's own memory device: our virtqemud (libvirt 11.3
with patches/libvirt), started by the test, defines and starts a domain
from XML alone (<memory model='virtio-numa'>, NUMA cells without
memory), and nothing taints it."""

import os
import re
import time

import pytest

from vnuma.guest import Ctl, log_problems
from vnuma.libvirt import (LIBVIRT_BUILD, DomainFiles, LibvirtError,
                           PrivateLibvirt, domain_xml)

pytestmark = pytest.mark.skipif(
    not os.path.exists(os.path.join(LIBVIRT_BUILD, 'src', 'virtqemud')),
    reason='our libvirt is not built (scripts/build-libvirt)')

MiB = 1 << 20


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
