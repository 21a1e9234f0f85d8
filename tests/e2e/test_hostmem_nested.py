# SPDX-License-Identifier: GPL-2.0
"""Host memory really moving between host nodes.  This machine has one
NUMA node, so the "host" here is a test guest with two: our QEMU runs
inside it (stopped with -S: nothing needs to run in the inner VM for its
memory to move), and the guest kernel's numa_maps and move_pages say
where the inner VM's memory is."""

import json
import os
import re
import subprocess
import time

import pytest

from vnuma.guest import BUILD, FIRMWARE, FLAVOUR, Node, Topology, qemu_path

MiB = 1 << 20
PAGE = 4096
# The "host": two nodes with memory and a CPU each.
TOPO = Topology([Node(1024, [0]), Node(1024, [1])])
INNER = ('/qemu/qemu-system-x86_64 -L /qemu -nodefaults -no-user-config '
         '-display none -machine q35 -accel tcg,tb-size=16 -S -smp 1 '
         '-m 256M -object memory-backend-ram,id=m0,size=256M,prealloc=on,'
         'host-nodes=0,policy=bind -numa node,memdev=m0 '
         '-device virtio-numa-pci,id=vn0 '
         '-chardev pipe,id=qmp,path=/tmp/qmp -mon chardev=qmp,mode=control')
# The guest kernel has no sockets (CONFIG_NET=n): QMP goes over FIFOs.
SOCK = 'pipe:/tmp/qmp'


@pytest.fixture(scope='module')
def qemu_cpio(tmp_path_factory):
    """A cpio archive with our QEMU, the libraries it links and its
    BIOS, for the test guest (appended to its initramfs)."""
    d = tmp_path_factory.mktemp('nested')
    qemu = str(d / 'qemu-system-x86_64')
    subprocess.run(['strip', '-o', qemu, qemu_path()], check=True)
    files = {'/qemu/qemu-system-x86_64': qemu}
    for blob in ('bios-256k.bin', 'kvmvapic.bin'):
        files[f'/qemu/{blob}'] = next(
            os.path.join(f, blob) for f in FIRMWARE
            if os.path.exists(os.path.join(f, blob)))
    ldd = subprocess.run(['ldd', qemu_path()], check=True,
                         capture_output=True, text=True).stdout
    for lib in re.findall(r'(/\S+) \(0x', ldd):
        files[lib] = os.path.realpath(lib)
    dirs = set()
    for path in files:
        p = os.path.dirname(path)
        while p != '/':
            dirs.add(p)
            p = os.path.dirname(p)
    spec = d / 'cpio.list'
    spec.write_text(''.join(f'dir {p} 755 0 0\n' for p in sorted(dirs)) +
                    ''.join(f'file {p} {src} 755 0 0\n'
                            for p, src in sorted(files.items())))
    gen = os.path.join(BUILD, f'linux-{FLAVOUR}', 'usr', 'gen_init_cpio')
    out = d / 'qemu.cpio.gz'
    with open(out, 'wb') as f:
        cpio = subprocess.run([gen, str(spec)], check=True,
                              capture_output=True).stdout
        f.write(subprocess.run(['gzip', '-1'], input=cpio, check=True,
                               capture_output=True).stdout)
    return str(out)


def qmp(g, *cmds):
    """Send QMP commands to the inner QEMU; returns (replies, events)."""
    args = ' '.join("'" + json.dumps(c) + "'" for c in cmds)
    out = g.sh(f'vnuma-qmp {SOCK} {args}')
    replies, events = [], []
    for line in out.splitlines():
        if line.startswith('event: '):
            events.append(json.loads(line[7:]))
        elif line.startswith('{'):
            replies.append(json.loads(line))
    assert len(replies) == len(cmds), out
    return replies, events


def ex(name, **args):
    return {'execute': name, 'arguments': args} if args else \
        {'execute': name}


def done_command(g, cid, timeout=300):
    """The inner device's record of command @cid once it has completed."""
    deadline = time.monotonic() + timeout
    while True:
        r, _ = qmp(g, ex('query-virtio-numa'))
        cmds = {c['command-id']: c for c in r[0]['return'][0]['commands']}
        if cmds.get(cid, {}).get('state') == 'done':
            return cmds[cid]
        assert time.monotonic() < deadline, cmds
        time.sleep(0.5)


def host_ram(g):
    r, _ = qmp(g, ex('query-virtio-numa-host-ram'))
    return [(x['addr'], x['size'], x['policy'], x['host-nodes'],
             {n['node']: n['size'] for n in x['resident']})
            for x in r[0]['return']]


def bound_mappings(g, pid):
    """[(size, policy, {node: pages})] of the inner QEMU's mappings that
    have a bind policy."""
    ends = {}
    for line in g.read(f'/proc/{pid}/maps').splitlines():
        a, b = line.split()[0].split('-')
        ends[int(a, 16)] = int(b, 16)
    out = []
    for line in g.read(f'/proc/{pid}/numa_maps').splitlines():
        f = line.split()
        if f[1].startswith('bind:'):
            start = int(f[0], 16)
            out.append((ends[start] - start, f[1],
                        {int(n): int(v) for n, v in
                         re.findall(r'\bN(\d+)=(\d+)', line)}))
    return sorted(out)


def test_host_move_between_two_host_nodes(boot, qemu_cpio, figures):
    """virtio-numa-host-move moves the inner VM's memory from host node 0
    to host node 1: the completion counts every page as moved, the
    kernel's numa_maps shows the two bindings with their pages on their
    nodes, and query-virtio-numa-host-ram agrees.  A second move,
    cancelled as it starts, stops early with its progress shown."""
    g = boot(TOPO, vnuma=None, initrd_extra=[qemu_cpio])
    g.sh('mkfifo /tmp/qmp.in /tmp/qmp.out')
    g.sh(f'{INNER} > /tmp/inner.log 2>&1 & echo $! > /tmp/inner.pid')
    deadline = time.monotonic() + 300
    while 'return' not in g.sh(f'timeout 10 vnuma-qmp {SOCK} '
                               f'\'{{"execute": "query-status"}}\' 2>&1 '
                               f'|| true'):
        assert time.monotonic() < deadline, g.read('/tmp/inner.log')
        time.sleep(1)
    pid = int(g.read('/tmp/inner.pid'))
    # Preallocated and bound to node 0: all 256 MiB there.
    assert bound_mappings(g, pid) == [(256 * MiB, 'bind:0',
                                       {0: 256 * MiB // PAGE})]

    half = 128 * MiB
    r, _ = qmp(g, ex('virtio-numa-host-move', id='vn0',
                     ranges=[{'addr': half, 'size': half,
                              'host-nodes': [1]}]))
    cid = r[0]['return']['command-id']
    done = done_command(g, cid)
    assert done['status'] == 'ok', done
    hm = done['host-move']
    assert hm['error'] == 0 and hm['size'] == half, hm
    assert hm['moved'] == half and hm['on-nodes'] == half, hm
    assert hm['elsewhere'] == 0 and hm['not-resident'] == 0, hm
    # The kernel's view: the mapping split in two, each on its node.
    assert bound_mappings(g, pid) == sorted([
        (half, 'bind:0', {0: half // PAGE}),
        (half, 'bind:1', {1: half // PAGE})])
    ram = host_ram(g)
    assert (half, half, 'bind', [1], {1: half}) in ram, ram
    assert sum(x[4].get(0, 0) for x in ram) >= half - MiB, ram
    gib_s = half / (1 << 30) / (hm['duration-us'] / 1e6)
    figures(f'host move, nested (TCG guest as the host): 128 MiB node 0 -> '
            f'1 in {hm["duration-us"] / 1000:.1f} ms, {gib_s:.2f} GiB/s')

    # Move the first half too, and cancel it at once (its first chunk
    # is moving by then): it ends cancelled, having moved part of it.
    replies, _ = qmp(g, ex('virtio-numa-host-move', id='vn0',
                           ranges=[{'addr': 0, 'size': half,
                                    'host-nodes': [1]}]),
                     ex('query-virtio-numa'),
                     ex('virtio-numa-cancel', id='vn0',
                        **{'command-id': cid + 1}))
    assert replies[0]['return']['command-id'] == cid + 1
    moving = [c for c in replies[1]['return'][0]['commands']
              if c['command-id'] == cid + 1]
    assert moving and moving[0]['state'] == 'moving', moving
    assert moving[0]['progress']['total'] == half, moving
    assert 'return' in replies[2], replies
    done = done_command(g, cid + 1)
    assert done['status'] == 'cancelled', done
    assert 0 < done['host-move']['size'] < half, done
    assert done['host-move']['moved'] < half, done
    qmp(g, ex('quit'))
