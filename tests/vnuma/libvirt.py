# SPDX-License-Identifier: GPL-2.0
"""A private libvirtd for tests, and domains that boot our kernel in our
QEMU with the virtio-numa device.

libvirt's state paths (/etc/libvirt, /var/lib/libvirt, /var/cache/libvirt,
/var/log/libvirt, /run/libvirt) are fixed when it is built, so the daemon
runs in its own mount namespace with a test directory bound over each of
them; it needs no systemd, cgroups or namespaces of its own (qemu.conf
turns them off).  Clients outside reach it through its socket:
qemu+unix:///system?socket=DIR/sock/libvirt-sock.
"""

import os
import shutil
import subprocess
import tempfile
import time
import uuid

from .guest import FIRMWARE, initramfs_path, kernel_path, qemu_path

STATE_DIRS = {'etc': '/etc/libvirt', 'lib': '/var/lib/libvirt',
              'cache': '/var/cache/libvirt', 'log': '/var/log/libvirt',
              'run': '/run/libvirt'}

QEMU_CONF = '''user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
'''


class LibvirtError(Exception):
    pass


class PrivateLibvirt:
    """One libvirtd of our own.  Use as a context manager."""

    def __init__(self, workdir=None, hooks=None):
        """@hooks: {name: script} for etc/hooks/qemu.d/ (read at start)."""
        self.own_dir = workdir is None
        self.hooks = hooks or {}
        self.dir = workdir or tempfile.mkdtemp(prefix='vnuma-libvirt-')
        # Sockets in a short directory of their own: a unix socket path
        # has at most 107 bytes, and pytest's directories grow with its
        # run number (pytest-105/.../libvirt-admin-sock was too long).
        # DIR/sock links to it.
        self.sock_dir = tempfile.mkdtemp(prefix='vnuma-lv-')
        self.uri = (f'qemu+unix:///system?socket={self.sock_dir}/libvirt-sock')
        self.proc = None

    def _write_config(self):
        for d in STATE_DIRS:
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.makedirs(self.sock_dir, exist_ok=True)
        if not os.path.lexists(os.path.join(self.dir, 'sock')):
            os.symlink(self.sock_dir, os.path.join(self.dir, 'sock'))
        with open(os.path.join(self.dir, 'etc', 'libvirtd.conf'), 'w') as f:
            f.write(f'unix_sock_dir = "{self.sock_dir}"\n'
                    'auth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    f'host_uuid = "{uuid.uuid4()}"\n'
                    'log_outputs = "3:stderr"\n')
        with open(os.path.join(self.dir, 'etc', 'qemu.conf'), 'w') as f:
            f.write(QEMU_CONF)
        hook_dir = os.path.join(self.dir, 'etc', 'hooks', 'qemu.d')
        for name, script in self.hooks.items():
            os.makedirs(hook_dir, exist_ok=True)
            path = os.path.join(hook_dir, name)
            with open(path, 'w') as f:
                f.write(script)
            os.chmod(path, 0o755)

    def _mounts(self):
        """Shell commands run in the namespace before libvirtd starts."""
        # Mount points the host may lack (no libvirt state yet): empty
        # directories, created outside like any package would.
        cmds = [f'mkdir -p {path} && mount --bind {self.dir}/{d} {path}'
                for d, path in STATE_DIRS.items()]
        # libvirt 9.0 wants a libvirt-qemu user and group, even for root.
        for db, line in (('passwd', 'libvirt-qemu:x:64055:64055::/:/bin/false'),
                         ('group', 'libvirt-qemu:x:64055:')):
            if subprocess.run(['getent', db, 'libvirt-qemu'],
                              capture_output=True).returncode:
                copy = os.path.join(self.dir, db)
                shutil.copy(f'/etc/{db}', copy)
                with open(copy, 'a') as f:
                    f.write(line + '\n')
                cmds.append(f'mount --bind {copy} /etc/{db}')
        return cmds

    def start(self, timeout=60):
        self._write_config()
        script = ' && '.join(self._mounts() + [
            f'exec libvirtd -f {self.dir}/etc/libvirtd.conf '
            f'-p {self.dir}/libvirtd.pid'])
        self.log = open(os.path.join(self.dir, 'libvirtd.log'), 'ab')
        self.proc = subprocess.Popen(
            ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        while self.virsh('list', '--all', check=False).returncode:
            if self.proc.poll() is not None:
                raise LibvirtError(f'libvirtd exited ({self.proc.returncode}); '
                                   f'see {self.dir}/libvirtd.log')
            if time.monotonic() > deadline:
                raise LibvirtError(f'libvirtd not answering after {timeout} s')
            time.sleep(0.2)
        return self

    def virsh(self, *args, check=True, timeout=120):
        p = subprocess.run(['virsh', '-c', self.uri, *args],
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode:
            raise LibvirtError(f'virsh {" ".join(args)}: {p.stderr.strip()}')
        return p

    def stop(self, keep_domains=False):
        """Stop libvirtd; unless @keep_domains, its domains first (a
        libvirtd started again on the same directory finds kept ones)."""
        if self.proc and self.proc.poll() is None:
            if not keep_domains:
                for dom in self.virsh('list', '--name',
                                      check=False).stdout.split():
                    self.virsh('destroy', dom, check=False)
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
            self.proc = None
        # Made again at the next start.
        shutil.rmtree(self.sock_dir, ignore_errors=True)

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def domain_xml(name, serial_log, flavour='debug', vnuma='id=vnuma0,region-size=2G',
               append='', ctl=None):
    """A domain with nodes 0 (1 GiB, vCPUs 0-1) and 1 (512 MiB, vCPU 2)
    and the empty nodes 2 and 3, booting our kernel directly, with
    virtio-numa on QEMU's command line (libvirt does not know it).
    With @ctl, the guest's command channel listens on that socket
    (vnuma.guest.Ctl talks to it)."""
    channel = (f"""    <channel type='unix'>
      <source mode='bind' path='{ctl}'/>
      <target type='virtio' name='org.virtio-numa.ctl'/>
    </channel>
""" if ctl else '')
    args = [a for f in FIRMWARE for a in ('-L', f)]
    # libvirt gives every cell a memory backend, which cannot be empty:
    # the empty nodes go on QEMU's command line too.  The device gets a
    # slot of its own: QEMU sees it before libvirt's root ports, which
    # take slots from 1 up.
    args += ['-numa', 'node,nodeid=2', '-numa', 'node,nodeid=3',
             '-machine', 'i8042=off', '-device', f'virtio-numa-pci,{vnuma},bus=pcie.0,addr=0x10']
    qemu_args = '\n'.join(f"    <qemu:arg value='{a}'/>" for a in args)
    return f'''<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <maxMemory slots='2' unit='MiB'>5632</maxMemory>
  <memory unit='MiB'>1536</memory>
  <vcpu>3</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{kernel_path(flavour)}</kernel>
    <initrd>{initramfs_path(flavour)}</initrd>
    <cmdline>console=ttyS0 panic=-1 memhp_default_state=online_movable {append}</cmdline>
  </os>
  <features><acpi/></features>
  <cpu>
    <topology sockets='3' dies='1' cores='1' threads='1'/>
    <numa>
      <cell id='0' cpus='0-1' memory='1024' unit='MiB'/>
      <cell id='1' cpus='2' memory='512' unit='MiB'/>
    </numa>
  </cpu>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>{qemu_path()}</emulator>
    <serial type='file'><source path='{serial_log}' append='on'/></serial>
{channel}    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
{qemu_args}
  </qemu:commandline>
</domain>
'''
