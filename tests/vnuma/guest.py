# SPDX-License-Identifier: GPL-2.0
"""Boot the virtio-numa test kernel in our QEMU with a given NUMA topology.

A Guest owns one QEMU process with:
  - the serial console (ttyS0) captured to a log file,
  - a QMP UNIX socket (Guest.qmp),
  - a command channel on a virtio-serial port served by the guest's init
    (Guest.run() / Guest.sh()).
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field

from .qmp import QMP, QEMUExited

CACHE = os.environ.get('VNUMA_CACHE',
                       os.path.expanduser('~/.cache/virtio-numa'))
BUILD = os.path.join(CACHE, 'build')
# Kernel flavour the tests boot (tests/kernel/FLAVOUR.config).
FLAVOUR = os.environ.get('VNUMA_FLAVOUR', 'debug')
FIRMWARE = ['/usr/share/seabios', '/usr/share/qemu']
END = re.compile(rb'\n@@VNUMA-END (\d+) (\d+)\n')


def kernel_path(flavour=None):
    flavour = flavour or FLAVOUR
    return os.path.join(BUILD, f'linux-{flavour}', 'arch/x86/boot/bzImage')


def initramfs_path(flavour=None):
    flavour = flavour or FLAVOUR
    return os.path.join(BUILD, f'initramfs-{flavour}', 'initramfs.cpio.gz')


def qemu_path(variant='vnuma'):
    return os.path.join(BUILD, f'qemu-{variant}', 'qemu-system-x86_64')


def base_args(qemu):
    """The QEMU command line every guest and probe starts from."""
    return [qemu, *sum([['-L', f] for f in FIRMWARE], []), '-nodefaults',
            '-no-user-config', '-display', 'none',
            # No PS/2 controller: nothing uses it, and its probe is where
            # a KASAN guest once stalled at boot.
            '-machine', 'q35,i8042=off']


def versions():
    """The exact versions built, as scripts/ recorded them."""
    out = {}
    try:
        with open(os.path.join(BUILD, 'versions')) as f:
            for line in f:
                k, _, v = line.strip().partition('=')
                out[k] = v
    except FileNotFoundError:
        pass
    return out


def parse_size(s):
    """'512M', '4G', '1GiB', '64' (MiB) -> MiB."""
    m = re.fullmatch(r'(\d+)\s*([MG]?)(i?B)?', s.strip(), re.I)
    if not m:
        raise ValueError(f'bad size {s!r}')
    n = int(m.group(1))
    return n * 1024 if m.group(2).upper() == 'G' else n


@dataclass
class Node:
    mem_mib: int = 0
    cpus: list = field(default_factory=list)


@dataclass
class Topology:
    nodes: list
    maxmem_mib: int = 0      # > 0: room for memory hotplug (needs slots)
    slots: int = 0
    # Guests larger than the host: backends without a swap reservation
    # (reserve=off), which the host's overcommit heuristic would refuse.
    noreserve: bool = False

    @property
    def ncpus(self):
        return max(1, sum(len(n.cpus) for n in self.nodes))

    @property
    def mem_mib(self):
        return sum(n.mem_mib for n in self.nodes)

    def qemu_args(self):
        # One socket per vCPU: vCPUs of one socket share a cache, and
        # Linux warns (topology_sane) when they sit in different nodes.
        args = ['-smp', f'{self.ncpus},sockets={self.ncpus},cores=1,threads=1']
        mem = f'{self.mem_mib}M'
        if self.maxmem_mib:
            mem += f',slots={self.slots},maxmem={self.maxmem_mib}M'
        args += ['-m', mem]
        for i, n in enumerate(self.nodes):
            spec = f'node,nodeid={i}'
            if n.mem_mib:
                args += ['-object',
                         f'memory-backend-ram,id=ram-node{i},size={n.mem_mib}M'
                         + (',reserve=off' if self.noreserve else '')]
                spec += f',memdev=ram-node{i}'
            for c in n.cpus:
                spec += f',cpus={c}'
            args += ['-numa', spec]
        return args


_accel_cache = {}


def choose_accel(qemu, kernel, initrd):
    """KVM when a short probe boot prints a kernel line, TCG otherwise.

    Returns (accel, reason).  VNUMA_ACCEL=tcg|kvm overrides the probe.
    """
    forced = os.environ.get('VNUMA_ACCEL')
    if forced:
        return forced, 'VNUMA_ACCEL'
    if not os.path.exists('/dev/kvm'):
        return 'tcg', 'no /dev/kvm'
    key = (qemu, kernel)
    if key in _accel_cache:
        return _accel_cache[key]
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, 'serial')
        p = subprocess.Popen(
            [*base_args(qemu), '-accel', 'kvm',
             '-m', '256M', '-kernel', kernel, '-initrd', initrd,
             '-append', 'console=ttyS0 panic=-1', '-no-reboot',
             '-serial', f'file:{log}'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = False
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and p.poll() is None:
            if os.path.exists(log) and b'Linux version' in open(log, 'rb').read():
                ok = True
                break
            time.sleep(0.2)
        p.kill()
        p.wait()
    res = ('kvm', 'probe boot printed') if ok else \
          ('tcg', 'KVM probe boot printed nothing in 20 s')
    _accel_cache[key] = res
    return res


class GuestError(Exception):
    pass


class Ctl:
    """The guest init's command channel (virtio-serial port
    org.virtio-numa.ctl) behind the UNIX socket @path: shell commands
    in, their output and status out.  @alive says whether the VM still
    runs (a wait ends when it does not)."""

    def __init__(self, path, alive=lambda: True):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.alive = alive
        self.buf = b''
        self.seq = 0
        self.pending = None

    def run(self, cmd, timeout=120):
        """Run a shell command in the guest; return (status, output)."""
        return self.finish(self.start(cmd), timeout)

    def start(self, cmd):
        """Send a command without waiting for it (one at a time: the
        guest runs them in order); finish() collects its answer."""
        if '\n' in cmd:
            raise ValueError('one line per command')
        self.seq += 1
        self.sock.sendall(f'{self.seq} {cmd}\n'.encode())
        self.pending = cmd
        return self.seq

    def finish(self, seq, timeout=120):
        """Wait for the answer to command @seq; return (status, output)."""
        cmd = self.pending
        deadline = time.monotonic() + timeout
        while True:
            m = END.search(self.buf)
            if m:
                if int(m.group(1)) != seq:
                    raise GuestError(f'answer for {m.group(1)}, expected {seq}')
                out = self.buf[:m.start()]
                self.buf = self.buf[m.end():]
                return int(m.group(2)), out.decode('utf-8', 'replace')
            left = deadline - time.monotonic()
            if left <= 0 or not self.alive():
                raise GuestError(f'guest command {cmd!r} gave no answer '
                                 f'within {timeout} s')
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise GuestError('command channel closed')
            self.buf += data

    def sh(self, cmd, timeout=120):
        """Run a command that must succeed; return its output."""
        rc, out = self.run(cmd, timeout)
        if rc != 0:
            raise GuestError(f'guest command {cmd!r} failed ({rc}): {out}')
        return out

    def read(self, path):
        return self.sh(f'cat {path}')

    def close(self):
        self.sock.close()


class Guest:
    """One QEMU running our kernel.  Use as a context manager."""

    def __init__(self, topo, workdir=None, flavour=None, qemu='vnuma',
                 append='', extra_args=(), boot_timeout=180,
                 vnuma='id=vnuma0', incoming=None, icount=False,
                 reboot=False, initrd_extra=()):
        self.topo = topo
        self.flavour = flavour or FLAVOUR
        self.kernel = kernel_path(self.flavour)
        self.initrd = initramfs_path(self.flavour)
        self.qemu_bin = qemu_path(qemu)
        for p in (self.kernel, self.initrd, self.qemu_bin):
            if not os.path.exists(p):
                raise GuestError(f'{p} missing: run make build first')
        self.own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix='vnuma-')
        os.makedirs(self.dir, exist_ok=True)
        # More files for the guest: cpio archives unpacked after ours
        # (the kernel unpacks concatenated archives in order).
        self.boot_initrd = self.initrd
        if initrd_extra:
            self.boot_initrd = os.path.join(self.dir, 'initrd.cpio.gz')
            with open(self.boot_initrd, 'wb') as out:
                for p in (self.initrd, *initrd_extra):
                    with open(p, 'rb') as f:
                        shutil.copyfileobj(f, out)
        self.serial_log = os.path.join(self.dir, 'serial.log')
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')
        self.ctl_path = os.path.join(self.dir, 'ctl.sock')
        self.append = append
        self.extra_args = list(extra_args)
        self.boot_timeout = boot_timeout
        # Options of the virtio-numa-pci device; None: no device.
        self.vnuma = vnuma
        # A migration destination: listens on this URI and does not boot.
        self.incoming = incoming
        # Guest time counts instructions (single-threaded TCG): guest-side
        # timings repeat exactly, for benchmarks.
        self.icount = icount
        # A guest reboot resets the machine (QEMU goes on); by default QEMU
        # exits instead, so that a guest that panics stops at once.
        self.reboot = reboot
        # Regexes of kernel log lines a test provokes on purpose.
        self.expected_log = []
        self.proc = None
        self.qmp = None
        self.ctl = None
        self.accel, self.accel_reason = choose_accel(
            self.qemu_bin, self.kernel, self.initrd)

    def command_line(self):
        if self.icount:
            accel = ['-accel', 'tcg,thread=single', '-icount', 'shift=0']
        elif self.accel == 'kvm':
            accel = ['-accel', 'kvm']
        else:
            accel = ['-accel', 'tcg,thread=multi']
        append = ('console=ttyS0 panic=-1 printk.devkmsg=on '
                  'memhp_default_state=online_movable ' + self.append)
        return [*base_args(self.qemu_bin), *accel, *self.topo.qemu_args(),
                '-kernel', self.kernel, '-initrd', self.boot_initrd,
                '-append', append.strip(),
                *([] if self.reboot else ['-no-reboot']),
                '-serial', f'file:{self.serial_log}',
                # Events the device drops as bogus say why here.
                '-d', 'guest_errors', '-D', os.path.join(self.dir, 'qemu.log'),
                '-qmp', f'unix:{self.qmp_path},server=on,wait=off',
                '-device', 'virtio-serial-pci,id=vser',
                '-chardev', f'socket,id=ctl,path={self.ctl_path},server=on,wait=off',
                '-device', 'virtserialport,bus=vser.0,chardev=ctl,name=org.virtio-numa.ctl',
                *(['-device', f'virtio-numa-pci,{self.vnuma}'] if self.vnuma else []),
                *(['-incoming', self.incoming] if self.incoming else []),
                *self.extra_args]

    # QEMU 10.0's multi-threaded TCG can mistake the memory map while a
    # booting guest moves PCI BARs (upstream; at PCI enumeration, before
    # any virtio-numa command): a vCPU's stale TLB entry either aborts
    # QEMU in iotlb_to_section(), or sends a write meant for a device's
    # MSI-X table to its PBA ("attempt to write to MSI-X PBA" in
    # qemu.log), so the device never interrupts and the guest finds no
    # control port.  Each was seen once, on a loaded host.  Such a boot
    # is tried once more, with a warning in the run's summary; the first
    # QEMU's output stays (*.first).
    UPSTREAM_BOOT_ABORT = 'iotlb_to_section: Assertion'
    # What the guest's init says on the console without its port.
    NO_CTL_PORT = 'port=none'

    def boot_went_astray(self):
        """Why this boot hit the upstream race above, or None."""
        if self.incoming:
            return None
        if self.proc.poll() is not None:
            with open(os.path.join(self.dir, 'qemu.stderr'), 'rb') as f:
                if self.UPSTREAM_BOOT_ABORT.encode() in f.read():
                    return 'QEMU aborted in iotlb_to_section()'
            return None
        if self.NO_CTL_PORT in self.console():
            return 'the guest found no control port'
        return None

    def start(self):
        try:
            return self._start()
        except GuestError:
            why = self.boot_went_astray()
            if not why:
                raise
        self.stop()
        for name in ('qemu.stderr', 'qemu.log', 'serial.log'):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                os.replace(path, path + '.first')
        warnings.warn(f'{why} while the guest booted (upstream TCG race), '
                      f'booting again; see {self.dir}/*.first')
        return self._start()

    def _start(self):
        cmd = self.command_line()
        with open(os.path.join(self.dir, 'qemu.cmdline'), 'w') as f:
            f.write(' '.join(cmd) + '\n')
        self.stderr = open(os.path.join(self.dir, 'qemu.stderr'), 'wb')
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.stderr, stderr=self.stderr)
        try:
            self.qmp = QMP(self.qmp_path,
                           alive=lambda: self.proc.poll() is None)
        except QEMUExited:
            raise GuestError(f'QEMU exited ({self.proc.poll()}) at start: '
                             f'{self.stderr_text().strip()}') from None
        self.ctl = Ctl(self.ctl_path, alive=lambda: self.proc.poll() is None)
        if not self.incoming:
            self.wait_console('VNUMA-READY', self.boot_timeout)
            if self.NO_CTL_PORT in self.console():
                raise GuestError(f'the guest found no control port; see '
                                 f'{self.serial_log}')
        return self

    def console(self):
        try:
            with open(self.serial_log, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def stderr_text(self):
        """What QEMU wrote on stderr (error_report() and the like)."""
        try:
            with open(os.path.join(self.dir, 'qemu.stderr'), 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def wait_console(self, text, timeout):
        deadline = time.monotonic() + timeout
        while text not in self.console():
            if self.proc.poll() is not None:
                raise GuestError(f'QEMU exited ({self.proc.returncode}) before '
                                 f'{text!r}; see {self.dir}')
            if time.monotonic() > deadline:
                raise GuestError(f'no {text!r} on the console within '
                                 f'{timeout} s; see {self.serial_log}')
            time.sleep(0.1)

    def wait_reboot(self, timeout=180):
        """Wait until the guest has booted a second time (a reboot with
        QEMU going on), and reopen the command channel: its init opens
        the port again."""
        deadline = time.monotonic() + timeout
        while self.console().count('VNUMA-READY') < 2:
            assert time.monotonic() < deadline, 'no second boot'
            time.sleep(0.5)
        self.ctl.buf = b''
        assert self.ctl.run('true')[0] == 0

    def run(self, cmd, timeout=120):
        """Run a shell command in the guest; return (status, output)."""
        return self.ctl.run(cmd, timeout)

    def sh(self, cmd, timeout=120):
        """Run a command that must succeed; return its output."""
        return self.ctl.sh(cmd, timeout)

    def read(self, path):
        return self.ctl.read(path)

    def read_files(self, paths):
        """Several files in one round trip and one process (each costs
        tens of milliseconds on a KASAN guest): {path: contents}.  head
        prints "==> PATH <==" before each file, and an empty line
        between two, when there are two or more."""
        if len(paths) == 1:
            return {paths[0]: self.read(paths[0])}
        out = self.sh('head -n 1000000 ' + ' '.join(paths))
        parts = re.split(r'(?:\A|\n)==> (.+) <==\n', out)
        got = dict(zip(parts[1::2], parts[2::2]))
        assert list(got) == list(paths), out
        return got

    def node_meminfo(self, node):
        """/sys/devices/system/node/nodeN/meminfo as {field: kB}."""
        out = {}
        for line in self.read(f'/sys/devices/system/node/node{node}/meminfo').splitlines():
            m = re.match(r'Node \d+ (\S+):\s+(\d+)', line)
            if m:
                out[m.group(1)] = int(m.group(2))
        return out

    def pxm_to_node(self):
        """{host node id (ACPI PXM): guest node id}, from the SRAT lines
        the guest printed.  The guest numbers nodes in the order it meets
        PXMs in the SRAT, CPU entries first, so the two often differ."""
        return {int(p): int(n) for n, p in
                re.findall(r'SRAT: Node (\d+) PXM (\d+) ', self.console())}

    def poweroff(self, timeout=60):
        """Power the guest off from inside; return QEMU's exit status."""
        self.ctl.sock.sendall(b'0 poweroff -f\n')
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise GuestError(f'QEMU still running {timeout} s after poweroff')

    def stop(self):
        for c in (self.qmp, self.ctl):
            if c:
                c.close()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc:
            self.stderr.close()

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


# Lines in a kernel log that mean something went wrong.
BAD_LOG = re.compile(
    r'(WARNING: |BUG: |Oops|Kernel panic|general protection fault|'
    r'possible (recursive|circular) locking|inconsistent lock state|'
    r'suspicious RCU usage|KASAN:|UBSAN:|list_(add|del) corruption|'
    r'page dumped because|kernel BUG at|Call Trace:)')


def log_problems(text, expected=()):
    """Lines of a serial log that report a kernel warning or error, but
    for those matching a regex in @expected."""
    return [line for line in text.splitlines() if BAD_LOG.search(line) and
            not any(re.search(e, line) for e in expected)]
