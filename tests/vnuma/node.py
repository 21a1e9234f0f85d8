# SPDX-License-Identifier: GPL-2.0
"""Node add and remove through QMP, and what the guest shows of its nodes."""

import re

from .device import command, nodes, report, wait_completion

MiB = 1 << 20


def new_backend(g, name, mib):
    g.qmp.cmd('object-add', **{'qom-type': 'memory-backend-ram', 'id': name,
                               'size': mib * MiB})


def add_node(g, host, mib, cpus=(), memdev=None, distances=None):
    """Add host node @host with a new backend of @mib MiB; return the
    NODE_ADD completion and those of the CPU_ASSIGN and DISTANCE_SET
    commands that follow it."""
    memdev = memdev or f'mem-node{host}'
    new_backend(g, memdev, mib)
    args = {'node': host, 'memdev': memdev}
    if cpus:
        args['cpus'] = list(cpus)
    if distances:
        args['distances'] = [{'node': n, 'distance': d}
                             for n, d in distances.items()]
    r = g.qmp.cmd('virtio-numa-node-add', id='vnuma0', **args)
    done = wait_completion(g, r['command-id'], 120)
    more = r.get('cpu-command-ids', []) + r.get('distance-command-ids', [])
    return done, [wait_completion(g, c, 60) for c in more]


def remove_node(g, host, timeout=300):
    return command(g, 'virtio-numa-node-remove', node=host, timeout=timeout)


def added_nodes(g):
    """{host node: size} of what the device has mapped now."""
    devs = [d['data'] for d in g.qmp.cmd('query-memory-devices')
            if d['type'] == 'virtio-numa']
    return {n['node']: n['size'] for n in devs[0]['nodes']}


def guest_node(g, host):
    """The guest's id of host node @host, from the device's last report."""
    report(g)
    return nodes(g)[host]['guest-node']


def online_nodes(g):
    return g.read('/sys/devices/system/node/online').strip()


def cpu_node(g, cpu):
    out = g.sh(f'ls -d /sys/devices/system/cpu/cpu{cpu}/node*')
    return int(re.search(r'node(\d+)', out).group(1))


def node_cpus(g, gnode):
    return g.read(f'/sys/devices/system/node/node{gnode}/cpulist').strip()


def meminfo(g):
    return {k: int(v) for k, v in
            re.findall(r'^(\w+):\s+(\d+) kB', g.read('/proc/meminfo'), re.M)}
