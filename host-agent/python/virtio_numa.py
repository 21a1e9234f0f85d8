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

open_device() picks how: a domain whose device is libvirt's own (<memory
model='virtio-numa'>), on a libvirt library that has virtio-numa's API,
gets a TypedDevice: libvirt's virDomainNumaNodeAdd(), ...NodeRemove()
and ...Relayout() do the work (libvirt checks, waits for the guest and
keeps the domain XML; nothing taints the domain), and nodes() comes from
the vnuma domain stats.  libvirt-python does not wrap these functions
yet (its sources for libvirt 11.3 are not in Debian's archive), so
TypedDevice calls them through ctypes, on the libvirt library that
libvirt-python itself loaded.

Otherwise, the fallback (stock libvirt, or the device on QEMU's command
line), Device: commands go through libvirt_qemu.qemuMonitorCommand(),
which marks the domain tainted; completions come back as QEMU monitor
events (qemuMonitorEventRegister), which need libvirt's event loop:
Device starts one in a thread unless the caller registered its own.
Every failure raises Error with one line naming the domain, the node and
QEMU's, libvirt's or the guest's reason.
"""

import ctypes
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
    """virtio-numa through QMP passthrough (the fallback)."""

    passthrough = True

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


# --- libvirt's own API, through ctypes ---

_STATS_VNUMA = 1 << 11              # VIR_DOMAIN_STATS_VNUMA
_RELAYOUT_MIGRATE = 1 << 0          # VIR_DOMAIN_NUMA_RELAYOUT_MIGRATE
_AFFECT_LIVE = 1                    # VIR_DOMAIN_AFFECT_LIVE


def _libvirt_lib():
    """The libvirt library libvirt-python loaded, if it has the API."""
    try:
        lib = ctypes.CDLL('libvirt.so.0')
    except OSError:
        return None
    if not all(hasattr(lib, f) for f in ('virDomainNumaNodeAdd',
                                         'virDomainNumaNodeRemove',
                                         'virDomainNumaRelayout')):
        return None
    vp, u, i = ctypes.c_void_p, ctypes.c_uint, ctypes.c_int
    for f, args in (('virDomainNumaNodeAdd', [vp, u, vp, i, u]),
                    ('virDomainNumaNodeRemove', [vp, u, u]),
                    ('virDomainNumaRelayout', [vp, u, vp, i, u])):
        getattr(lib, f).argtypes = args
        getattr(lib, f).restype = i
    lib.virTypedParamsAddULLong.argtypes = [
        ctypes.POINTER(vp), ctypes.POINTER(i), ctypes.POINTER(i),
        ctypes.c_char_p, ctypes.c_ulonglong]
    lib.virTypedParamsAddString.argtypes = [
        ctypes.POINTER(vp), ctypes.POINTER(i), ctypes.POINTER(i),
        ctypes.c_char_p, ctypes.c_char_p]
    lib.virTypedParamsFree.argtypes = [vp, i]
    lib.virGetLastErrorMessage.restype = ctypes.c_char_p
    return lib


def _dom_ptr(dom):
    """The virDomainPtr inside a libvirt-python virDomain."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    get.restype = ctypes.c_void_p
    return get(dom._o, b'virDomainPtr')


class _Params:
    """A virTypedParameter list built by libvirt's own helpers."""

    def __init__(self, lib):
        self.lib = lib
        self.ptr = ctypes.c_void_p()
        self.n = ctypes.c_int(0)
        self.max = ctypes.c_int(0)

    def ullong(self, name, value):
        self._ok(self.lib.virTypedParamsAddULLong(
            ctypes.byref(self.ptr), ctypes.byref(self.n),
            ctypes.byref(self.max), name.encode(), value))

    def string(self, name, value):
        self._ok(self.lib.virTypedParamsAddString(
            ctypes.byref(self.ptr), ctypes.byref(self.n),
            ctypes.byref(self.max), name.encode(), value.encode()))

    @staticmethod
    def _ok(r):
        if r < 0:
            raise MemoryError('virTypedParamsAdd')

    def free(self):
        self.lib.virTypedParamsFree(self.ptr, self.n.value)


def _id_list(ids):
    return ','.join(str(i) for i in ids)


class TypedDevice:
    """virtio-numa through libvirt's own API (see the module's doc)."""

    passthrough = False

    def __init__(self, conn, domain, lib=None):
        self.conn = conn
        self.dom = conn.lookupByName(domain) if isinstance(domain, str) else domain
        self.name = self.dom.name()
        self.lib = lib or _libvirt_lib()
        if not self.lib:
            raise Error(f'{self.name}: this libvirt has no virtio-numa API',
                        'libvirt')
        self._ptr = _dom_ptr(self.dom)

    def close(self):
        pass

    def _call(self, what, node, r):
        if r < 0:
            msg = self.lib.virGetLastErrorMessage() or b'unknown error'
            where = self.name if node is None else f'{self.name}: node {node}'
            raise Error(f'{where}: {what}: {msg.decode()}', 'libvirt')

    def nodes(self):
        """{cell: {'guest-node', 'online', 'added', 'present', 'managed',
        'free', 'pending' (bytes), 'cpus'}}: the guest's last report, as
        libvirt's vnuma stats give it."""
        try:
            [(_, st)] = self.conn.domainListGetStats([self.dom], _STATS_VNUMA)
        except libvirt.libvirtError as e:
            raise Error(f'{self.name}: vnuma stats: {e}', 'libvirt') from e
        cells = {}
        for i in range(st.get('vnuma.cell.count', 0)):
            c = {k[len(f'vnuma.cell.{i}.'):]: v for k, v in st.items()
                 if k.startswith(f'vnuma.cell.{i}.')}
            cells[c['id']] = {
                'guest-node': c['guest_node'], 'online': bool(c['online']),
                'added': bool(c['added']), 'present': c['present'],
                'managed': c['managed'], 'free': c['free'],
                'pending': c['pending'], 'cpus': c.get('cpus', 0)}
        return cells

    def report(self):
        """The guest reports on every change: its last report."""
        return self.nodes()

    def node_add(self, node, size, host_nodes=None, cpus=None):
        if size % 1024:
            raise Error(f'{self.name}: node {node}: libvirt takes sizes in '
                        f'KiB: {size} is not a multiple of 1024', 'usage')
        p = _Params(self.lib)
        try:
            p.ullong('size', size // 1024)
            if host_nodes:
                p.string('nodeset', _id_list(host_nodes))
            if cpus:
                p.string('cpus', _id_list(cpus))
            self._call('node add', node, self.lib.virDomainNumaNodeAdd(
                self._ptr, node, p.ptr, p.n, _AFFECT_LIVE))
        finally:
            p.free()
        return self.nodes()

    def node_remove(self, node):
        self._call('node remove', node, self.lib.virDomainNumaNodeRemove(
            self._ptr, node, _AFFECT_LIVE))
        return self.nodes()

    def relayout(self, ranges, migrate=False, wait=True):
        """ranges: [(addr, size, cell)]; libvirt waits for each."""
        for addr, size, node in ranges:
            if size % 1024:
                raise Error(f'{self.name}: libvirt takes sizes in KiB: '
                            f'{size} is not a multiple of 1024', 'usage')
            p = _Params(self.lib)
            try:
                p.ullong('start', addr)
                p.ullong('size', size // 1024)
                self._call('relayout', node, self.lib.virDomainNumaRelayout(
                    self._ptr, node, p.ptr, p.n,
                    _RELAYOUT_MIGRATE if migrate else 0))
            finally:
                p.free()


def open_device(conn, domain, device='vnuma0', timeout=120):
    """The device of @domain: a TypedDevice when libvirt has the API
    and manages the device, else the QMP passthrough Device (whose
    .passthrough is True: libvirt marks the domain tainted)."""
    dom = conn.lookupByName(domain) if isinstance(domain, str) else domain
    lib = _libvirt_lib()
    if lib and "<memory model='virtio-numa'" in dom.XMLDesc(0):
        return TypedDevice(conn, dom, lib)
    return Device(conn, dom, device, timeout)
