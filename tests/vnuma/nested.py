# SPDX-License-Identifier: GPL-2.0
"""Our QEMU inside a test guest with two NUMA nodes: the guest is the
"host" whose memory moves (this machine has one node).  The inner VM is
stopped (-S): nothing needs to run in it for its memory to move.  The
guest kernel has no sockets (CONFIG_NET=n), so QMP goes over FIFOs
(tests/guest/vnuma-qmp.c)."""

import json
import os
import re
import subprocess
import time

from .guest import BUILD, FIRMWARE, FLAVOUR, Node, Topology, qemu_path

MiB = 1 << 20
PAGE = 4096
# The "host": two nodes with memory and a CPU each.
HOST = Topology([Node(1024, [0]), Node(1024, [1])])
SOCK = 'pipe:/tmp/qmp'


def qemu_cpio(d):
    """Write to directory @d a cpio archive with our QEMU, the libraries
    it links and its firmware, to append to the guest's initramfs;
    return its path."""
    qemu = os.path.join(d, 'qemu-system-x86_64')
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
    spec = os.path.join(d, 'cpio.list')
    with open(spec, 'w') as f:
        f.write(''.join(f'dir {p} 755 0 0\n' for p in sorted(dirs)) +
                ''.join(f'file {p} {src} 755 0 0\n'
                        for p, src in sorted(files.items())))
    gen = os.path.join(BUILD, f'linux-{FLAVOUR}', 'usr', 'gen_init_cpio')
    out = os.path.join(d, 'qemu.cpio.gz')
    cpio = subprocess.run([gen, spec], check=True, capture_output=True).stdout
    with open(out, 'wb') as f:
        f.write(subprocess.run(['gzip', '-1'], input=cpio, check=True,
                               capture_output=True).stdout)
    return out


def ex(name, **args):
    return {'execute': name, 'arguments': args} if args else \
        {'execute': name}


def qmp(g, *cmds, errors=False):
    """Send QMP commands to the inner QEMU; returns (replies, events).
    Unless @errors, every command must succeed."""
    args = ' '.join("'" + json.dumps(c) + "'" for c in cmds)
    if errors:
        out = g.run(f'vnuma-qmp {SOCK} {args}')[1]
    else:
        out = g.sh(f'vnuma-qmp {SOCK} {args}')
    replies, events = [], []
    for line in out.splitlines():
        if line.startswith('event: '):
            events.append(json.loads(line[7:]))
        elif line.startswith('{'):
            replies.append(json.loads(line))
    assert len(replies) == len(cmds), out
    return replies, events


def start_inner(g, mib, node=0, timeout=300):
    """Start the inner QEMU with @mib MiB preallocated and bound to host
    node @node; return its pid once QMP answers."""
    g.sh('mkfifo /tmp/qmp.in /tmp/qmp.out')
    g.sh('/qemu/qemu-system-x86_64 -L /qemu -nodefaults -no-user-config '
         '-display none -machine q35 -accel tcg,tb-size=16 -S -smp 1 '
         f'-m {mib}M -object memory-backend-ram,id=m0,size={mib}M,'
         f'prealloc=on,host-nodes={node},policy=bind '
         '-numa node,memdev=m0 -device virtio-numa-pci,id=vn0 '
         '-chardev pipe,id=qmp,path=/tmp/qmp -mon chardev=qmp,mode=control '
         '> /tmp/inner.log 2>&1 & echo $! > /tmp/inner.pid')
    deadline = time.monotonic() + timeout
    while 'return' not in g.sh(f'timeout 10 vnuma-qmp {SOCK} '
                               f'\'{{"execute": "query-status"}}\' 2>&1 '
                               f'|| true'):
        assert time.monotonic() < deadline, g.read('/tmp/inner.log')
        time.sleep(1)
    return int(g.read('/tmp/inner.pid'))


def done_command(g, cid, timeout=300):
    """The inner device's record of command @cid once it has completed."""
    deadline = time.monotonic() + timeout
    while True:
        r, _ = qmp(g, ex('query-virtio-numa'))
        cmds = {c['command-id']: c for c in r[0]['return'][0]['commands']}
        if cmds.get(cid, {}).get('state') == 'done':
            return cmds[cid]
        assert time.monotonic() < deadline, cmds
        time.sleep(0.2)


def host_move(g, addr, size, nodes, timeout=300):
    """virtio-numa-host-move on the inner device; returns its record."""
    r, _ = qmp(g, ex('virtio-numa-host-move', id='vn0',
                     ranges=[{'addr': addr, 'size': size,
                              'host-nodes': list(nodes)}]))
    return done_command(g, r[0]['return']['command-id'], timeout)


def host_ram(g):
    r, _ = qmp(g, ex('query-virtio-numa-host-ram'))
    return [(x['addr'], x['size'], x['policy'], x['host-nodes'],
             {n['node']: n['size'] for n in x['resident']})
            for x in r[0]['return']]


def parse_bound_mappings(maps, numa_maps):
    """[(size, policy, {node: pages})] of the mappings with a bind
    policy, from a process's /proc/PID/maps and numa_maps texts."""
    ends = {}
    for line in maps.splitlines():
        a, b = line.split()[0].split('-')
        ends[int(a, 16)] = int(b, 16)
    out = []
    for line in numa_maps.splitlines():
        f = line.split()
        if f[1].startswith('bind:'):
            start = int(f[0], 16)
            out.append((ends[start] - start, f[1],
                        {int(n): int(v) for n, v in
                         re.findall(r'\bN(\d+)=(\d+)', line)}))
    return sorted(out)


def bound_mappings(g, pid):
    """parse_bound_mappings() of the inner QEMU, from the guest kernel."""
    return parse_bound_mappings(g.read(f'/proc/{pid}/maps'),
                                g.read(f'/proc/{pid}/numa_maps'))
