# SPDX-License-Identifier: GPL-2.0
"""QEMU under the qtest accelerator, and a virtio-pci driver of our own
that talks to the virtio-numa device through it: no guest kernel, so a
test can do to the virtqueues what no real driver does (descriptors of
the wrong direction, chains that loop, indexes that jump, addresses
outside RAM, resets at any moment).

qtest protocol: one command per line ("outl ADDR VAL", "readl ADDR",
"write ADDR SIZE 0xHEX", ...), each answered "OK [value]".  QEMU connects
to our socket.  The vCPUs never run: nothing assigns PCI BARs, so we do.
"""

import os
import socket
import struct
import subprocess
import tempfile

from .guest import base_args
from .qmp import QMP

VIRTIO_VENDOR = 0x1af4
VIRTIO_NUMA_PCI_ID = 0x1040 + 56
BAR_BASE = 0xc0000000
# Our driver's structures and buffers, in guest RAM.
RING_BASE = 0x100000
BUF_BASE = 0x400000
BUF_SIZE = 0x100000
QSIZE = 16

# Status bits
ACK, DRIVER, DRIVER_OK, FEATURES_OK, NEEDS_RESET = 1, 2, 4, 8, 0x40
# Descriptor flags
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4
# virtio_pci_common_cfg offsets
DFSELECT, DF, GFSELECT, GF = 0x00, 0x04, 0x08, 0x0c
NUM_QUEUES, STATUS, Q_SELECT, Q_SIZE = 0x12, 0x14, 0x16, 0x18
Q_ENABLE, Q_NOTIFY_OFF, Q_DESC, Q_AVAIL, Q_USED = 0x1c, 0x1e, 0x20, 0x28, 0x30


class QTestError(Exception):
    pass


class QTest:
    """QEMU with -accel qtest and one virtio-numa-pci at 00:04.0."""

    def __init__(self, qemu, device='id=vnuma0', mem_mib=512, extra=()):
        self.dir = tempfile.mkdtemp(prefix='vnuma-qtest-')
        qsock = os.path.join(self.dir, 'qtest.sock')
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(qsock)
        srv.listen(1)
        srv.settimeout(60)
        self.stderr_path = os.path.join(self.dir, 'qemu.stderr')
        self.proc = subprocess.Popen(
            [*base_args(qemu), '-accel', 'qtest', '-qtest', f'unix:{qsock}',
             '-qtest-log', '/dev/null', '-m', f'{mem_mib}M',
             '-object', f'memory-backend-ram,id=ram0,size={mem_mib}M',
             '-numa', 'node,nodeid=0,memdev=ram0', '-numa', 'node,nodeid=1',
             '-qmp', f'unix:{self.qmp_path},server=on,wait=off',
             '-device', f'virtio-numa-pci,{device},disable-legacy=on,'
             'bus=pcie.0,addr=0x4', *extra],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.stderr_path, 'wb'))
        try:
            self.sock, _ = srv.accept()
        finally:
            srv.close()
        self.sock.settimeout(60)
        self.buf = b''
        self.qmp = QMP(self.qmp_path)

    # --- the protocol ---

    def _cmd(self, line):
        self.sock.sendall(line.encode() + b'\n')
        while b'\n' not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise QTestError(f'QEMU closed qtest at {line!r}')
            self.buf += data
        ans, _, self.buf = self.buf.partition(b'\n')
        ans = ans.decode()
        if not ans.startswith('OK'):
            raise QTestError(f'{line!r}: {ans}')
        return ans[3:]

    def out(self, size, port, val):
        self._cmd(f'out{size} 0x{port:x} 0x{val:x}')

    def inp(self, size, port):
        return int(self._cmd(f'in{size} 0x{port:x}'), 16)

    def writex(self, size, addr, val):
        self._cmd(f'write{size} 0x{addr:x} 0x{val:x}')

    def readx(self, size, addr):
        return int(self._cmd(f'read{size} 0x{addr:x}'), 16)

    def memwrite(self, addr, data):
        if data:
            self._cmd(f'write 0x{addr:x} 0x{len(data):x} 0x{data.hex()}')

    def memread(self, addr, size):
        return bytes.fromhex(self._cmd(f'read 0x{addr:x} 0x{size:x}')[2:])

    def alive(self):
        return self.proc.poll() is None

    def stderr_text(self):
        with open(self.stderr_path, errors='replace') as f:
            return f.read()

    def close(self):
        try:
            self.qmp.cmd('quit')
        except Exception:
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    # --- PCI configuration, mechanism #1 ---

    def cfg_read(self, reg, size=4, dev=4):
        self.out('l', 0xcf8, 0x80000000 | dev << 11 | (reg & 0xfc))
        return self.inp({1: 'b', 2: 'w', 4: 'l'}[size], 0xcfc + (reg & 3))

    def cfg_write(self, reg, val, size=4, dev=4):
        self.out('l', 0xcf8, 0x80000000 | dev << 11 | (reg & 0xfc))
        self.out({1: 'b', 2: 'w', 4: 'l'}[size], 0xcfc + (reg & 3), val)


class VirtioPCI:
    """A minimal modern virtio-pci driver for the device of @qt, with
    split virtqueues; each method does one driver step, right or wrong,
    as the test says."""

    def __init__(self, qt):
        self.qt = qt
        ids = qt.cfg_read(0)
        if ids != VIRTIO_NUMA_PCI_ID << 16 | VIRTIO_VENDOR:
            raise QTestError(f'no virtio-numa-pci at 00:04.0: 0x{ids:08x}')
        self.caps = {}
        ptr = qt.cfg_read(0x34, 1)
        while ptr:
            cap_id, nxt = qt.cfg_read(ptr, 1), qt.cfg_read(ptr + 1, 1)
            if cap_id == 0x09:
                cfg_type = qt.cfg_read(ptr + 3, 1)
                bar = qt.cfg_read(ptr + 4, 1)
                off = qt.cfg_read(ptr + 8)
                mult = qt.cfg_read(ptr + 16) if cfg_type == 2 else 0
                self.caps.setdefault(cfg_type, (bar, off, mult))
            ptr = nxt
        # Common, notify, ISR and device config (type 5, PCI config
        # access, names no BAR of its own).
        bars = {self.caps[t][0] for t in (1, 2, 3, 4)}
        if len(bars) != 1:
            raise QTestError(f'capabilities in BARs {bars}')
        bar = bars.pop()
        # A 64-bit memory BAR: low and high dwords.
        qt.cfg_write(0x10 + 4 * bar, BAR_BASE)
        qt.cfg_write(0x14 + 4 * bar, 0)
        qt.cfg_write(0x04, 0x6, 2)      # memory space, bus master
        self.common = BAR_BASE + self.caps[1][1]
        self.notify_base = BAR_BASE + self.caps[2][1]
        self.notify_mult = self.caps[2][2]
        self.isr = BAR_BASE + self.caps[3][1]
        self.devcfg = BAR_BASE + self.caps[4][1]
        self.queues = {}

    def rd(self, size, off):
        return self.qt.readx(size, self.common + off)

    def wr(self, size, off, val):
        self.qt.writex(size, self.common + off, val)

    def status(self):
        return self.rd('b', STATUS)

    def set_status(self, val):
        self.wr('b', STATUS, val)

    def features(self):
        out = 0
        for sel in (0, 1):
            self.wr('l', DFSELECT, sel)
            out |= self.rd('l', DF) << (32 * sel)
        return out

    def init(self, features=None, qsize=QSIZE):
        """Reset, negotiate @features (all offered if None), set up both
        queues; DRIVER_OK.  Returns the features negotiated."""
        self.set_status(0)
        self.set_status(ACK)
        self.set_status(ACK | DRIVER)
        feat = self.features() if features is None else features
        for sel in (0, 1):
            self.wr('l', GFSELECT, sel)
            self.wr('l', GF, (feat >> (32 * sel)) & 0xffffffff)
        self.set_status(ACK | DRIVER | FEATURES_OK)
        if not self.status() & FEATURES_OK:
            raise QTestError('the device refused the features')
        self.queues = {}
        for q in (0, 1):
            self.setup_queue(q, qsize)
        self.set_status(ACK | DRIVER | FEATURES_OK | DRIVER_OK)
        return feat

    def setup_queue(self, q, qsize):
        self.wr('w', Q_SELECT, q)
        size = min(self.rd('w', Q_SIZE), qsize)
        self.wr('w', Q_SIZE, size)
        base = RING_BASE + q * 0x10000
        desc, avail, used = base, base + 0x1000, base + 0x2000
        self.qt.memwrite(base, bytes(0x3000))
        self.wr('q', Q_DESC, desc)
        self.wr('q', Q_AVAIL, avail)
        self.wr('q', Q_USED, used)
        notify = self.notify_base + self.rd('w', Q_NOTIFY_OFF) * \
            self.notify_mult
        self.wr('w', Q_ENABLE, 1)
        self.queues[q] = {'size': size, 'desc': desc, 'avail': avail,
                          'used': used, 'notify': notify, 'idx': 0,
                          'used_seen': 0}

    def write_desc(self, q, i, addr, length, flags, nxt):
        vq = self.queues[q]
        self.qt.memwrite(vq['desc'] + 16 * (i % vq['size']),
                         struct.pack('<QIHH', addr, length, flags, nxt))

    def publish(self, q, head, step=1):
        """Put @head in the avail ring and move its index by @step (1 is
        right; anything else is a driver lying about it)."""
        vq = self.queues[q]
        self.qt.writex('w', vq['avail'] + 4 + 2 * (vq['idx'] % vq['size']),
                       head)
        vq['idx'] = (vq['idx'] + step) & 0xffff
        self.qt.writex('w', vq['avail'] + 2, vq['idx'])

    def kick(self, q):
        """Notify queue @q; one that does not exist is notified where
        it would be, with its number."""
        addr = self.queues[q]['notify'] if q in self.queues else \
            self.notify_base + q * self.notify_mult
        self.qt.writex('w', addr, q)

    def used(self, q):
        """New used entries [(id, len)] since the last call."""
        vq = self.queues[q]
        idx = self.qt.readx('w', vq['used'] + 2)
        out = []
        while vq['used_seen'] != idx:
            e = vq['used'] + 4 + 8 * (vq['used_seen'] % vq['size'])
            out.append(struct.unpack('<II', self.qt.memread(e, 8)))
            vq['used_seen'] = (vq['used_seen'] + 1) & 0xffff
        return out

    def post(self, q, slot, data=None, size=0, write=False):
        """One well-formed single-descriptor buffer in descriptor @slot:
        @data for the device to read, or @size bytes for it to write."""
        addr = BUF_BASE + slot * 0x20000
        if data is not None:
            self.qt.memwrite(addr, data)
            size = len(data)
        self.write_desc(q, slot, addr, size, F_WRITE if write else 0, 0)
        self.publish(q, slot)
        self.kick(q)
        return addr
