# SPDX-License-Identifier: GPL-2.0
"""virtio-numa for operators, through libvirt (Debian's python3-libvirt).

The same operations as vnumactl, on a libvirt domain whose QEMU has a
virtio-numa device:

    import libvirt, virtio_numa
    conn = libvirt.open('qemu:///system')
    vn = virtio_numa.Device(conn, 'vm1')
    vn.report()                       # {host node: {...}} after asking
    vn.node_add(2, 512 << 20, cpus=[2])
    vn.relayout([(0x20000000, 128 << 20, 1)], wait=True)
    vn.node_remove(2)

Commands go through libvirt_qemu.qemuMonitorCommand(); completions come
back as QEMU monitor events (qemuMonitorEventRegister), which need
libvirt's event loop: Device starts one in a thread unless the caller
registered its own.  Every failure raises Error with one line naming the
domain, the node and QEMU's or the guest's reason.
"""

import json
import threading
import time

import libvirt
import libvirt_qemu

_loop_started = False
_loop_lock = threading.Lock()


def _start_event_loop():
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()
        t = threading.Thread(target=_run_loop, name='libvirt-events',
                             daemon=True)
        t.start()
        _loop_started = True


def _run_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


def event_loop():
    """Start libvirt's default event loop in a thread.  Call it before
    opening connections whose events Device should see."""
    _start_event_loop()


class Error(Exception):
    """A refusal or failure; str() is one line.  .kind is 'qemu' (QMP
    error), 'guest' (completion status), 'partial' or 'timeout'."""

    def __init__(self, msg, kind, status=None):
        super().__init__(msg)
        self.kind = kind
        self.status = status


class Device:
    def __init__(self, conn, domain, device='vnuma0', timeout=120):
        self.conn = conn
        self.dom = conn.lookupByName(domain) if isinstance(domain, str) else domain
        self.name = self.dom.name()
        self.device = device
        self.timeout = timeout
        self._events = []
        self._cond = threading.Condition()
        self._cb = libvirt_qemu.qemuMonitorEventRegister(
            conn, self.dom, None, self._on_event, None, 0)

    def close(self):
        libvirt_qemu.qemuMonitorEventDeregister(self.conn, self._cb)

    def _on_event(self, conn, dom, event, seconds, micros, details, opaque):
        data = json.loads(details) if isinstance(details, str) else details
        with self._cond:
            self._events.append({'event': event, 'data': data or {}})
            self._cond.notify_all()

    def _where(self, node=None):
        w = f'{self.name}/{self.device}'
        return w if node is None else f'{w}: node {node}'

    def qmp(self, name, *, where=None, **args):
        """Run one QMP command; its return value, or raise Error.
        @where: the node the command is about, for messages."""
        cmd = {'execute': name}
        if args:
            cmd['arguments'] = args
        try:
            out = libvirt_qemu.qemuMonitorCommand(self.dom, json.dumps(cmd), 0)
        except libvirt.libvirtError as e:
            raise Error(f'{self._where(where)}: {name}: {e}', 'libvirt') from e
        reply = json.loads(out)
        if 'error' in reply:
            raise Error(f"{self._where(where)}: QEMU refused {name}: "
                        f"{reply['error']['desc']}", 'qemu')
        return reply['return']

    def wait_event(self, name, match=lambda d: True, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        with self._cond:
            while True:
                for i, ev in enumerate(self._events):
                    if ev['event'] == name and match(ev['data']):
                        return self._events.pop(i)['data']
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Error(f'{self._where()}: no {name} within '
                                f'{timeout or self.timeout} s', 'timeout')
                self._cond.wait(left)

    def _complete(self, cid, what, node=None):
        done = self.wait_event('VIRTIO_NUMA_COMPLETION',
                               lambda d: d.get('command-id') == cid)
        if done['status'] == 'ok':
            return done
        reason = done['status']
        if done.get('field', 'none') != 'none':
            reason += f" ({done['field']})"
        if done.get('detail'):
            reason += f", errno {done['detail']}"
        raise Error(f'{self._where(node)}: the guest answered {what}: '
                    f'{reason}', 'partial' if done['status'] == 'partial'
                    else 'guest', done['status'])

    def nodes(self):
        """{host node: node info} from the guest's last report."""
        for dev in self.qmp('query-virtio-numa'):
            if dev['id'] == self.device:
                return {n['node']: n for n in dev['nodes']}
        raise Error(f'{self._where()}: no such virtio-numa device', 'qemu')

    def report(self):
        cid = self.qmp('virtio-numa-report', id=self.device)['command-id']
        self._complete(cid, 'report')
        return self.nodes()

    def backend_name(self, node):
        return f'vnuma-{self.name}-node{node}'

    def node_add(self, node, size, host_nodes=None, cpus=None):
        """Create the node's memory backend and add the node; on any
        refusal the backend is deleted again."""
        be = {'qom-type': 'memory-backend-ram', 'id': self.backend_name(node),
              'size': size}
        if host_nodes:
            be.update({'host-nodes': list(host_nodes), 'policy': 'bind'})
        self.qmp('object-add', where=node, **be)
        try:
            args = {'id': self.device, 'node': node,
                    'memdev': self.backend_name(node)}
            if cpus:
                args['cpus'] = list(cpus)
            r = self.qmp('virtio-numa-node-add', where=node, **args)
            self._complete(r['command-id'], 'node-add', node)
        except Error as e:
            if e.kind != 'timeout':
                self.qmp('object-del', where=node, id=self.backend_name(node))
            raise
        for cid in r.get('cpu-command-ids', []):
            self._complete(cid, 'cpu-assign', node)
        return self.nodes()

    def node_remove(self, node):
        r = self.qmp('virtio-numa-node-remove', where=node, id=self.device,
                     node=node)
        self._complete(r['command-id'], 'node-remove', node)
        self.qmp('object-del', where=node, id=self.backend_name(node))
        return self.nodes()

    def relayout(self, ranges, migrate=False, wait=True):
        """ranges: [(addr, size, host node)]."""
        args = {'id': self.device,
                'ranges': [{'addr': a, 'size': s, 'node': n}
                           for a, s, n in ranges]}
        if migrate:
            args['migrate'] = True
        r = self.qmp('virtio-numa-relayout', **args)
        if wait:
            self._complete(r['command-id'], 'relayout')
        return r['command-id']
