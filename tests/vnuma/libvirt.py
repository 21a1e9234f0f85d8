# SPDX-License-Identifier: GPL-2.0
"""A private libvirt daemon for tests, and domains that boot our kernel in
our QEMU with the virtio-numa device.

Two daemons: ours (virtqemud of libvirt 11.3 with patches/libvirt, run
from its build tree: it knows <memory model='virtio-numa'>) and the
system's stock libvirtd (Debian's 9.0, which sees the device only
through <qemu:commandline> and QMP passthrough: the fallback path).

libvirt's state paths (/etc/libvirt, /var/lib/libvirt, /var/cache/libvirt,
/var/log/libvirt, /run/libvirt) are fixed when it is built, so the daemon
runs in its own mount namespace with a test directory bound over each of
them; it needs no systemd, cgroups or namespaces of its own (qemu.conf
turns them off).  Clients outside reach it through its socket:
qemu+unix:///system?socket=DIR/sock/libvirt-sock.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

from .guest import BUILD, FIRMWARE, initramfs_path, kernel_path, qemu_path

# scripts/build-libvirt's tree: run in place, as libvirt's own ./run does.
LIBVIRT_BUILD = os.path.join(BUILD, 'libvirt')
VIRSH = os.path.join(LIBVIRT_BUILD, 'tools', 'virsh')

STATE_DIRS = {'etc': '/etc/libvirt', 'lib': '/var/lib/libvirt',
              'cache': '/var/cache/libvirt', 'log': '/var/log/libvirt',
              'run': '/run/libvirt'}

# Our daemon runs QEMU as the unprivileged libvirt-qemu user, as a
# distribution's libvirt does (QEMU as root taints a domain:
# high-privileges), and hands it the files it needs (dynamic ownership).
QEMU_CONF_OURS = '''user = "libvirt-qemu"
group = "libvirt-qemu"
dynamic_ownership = 1
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "file"
'''

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


def free_port():
    """A TCP port on 127.0.0.1 free now, for a migration's --migrateuri."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ours_env():
    """The environment that runs our libvirt from its build tree."""
    env = dict(os.environ)
    env['LD_LIBRARY_PATH'] = os.path.join(LIBVIRT_BUILD, 'src')
    # Drivers, helpers and schemas from the build tree, not /usr/lib.
    env['LIBVIRT_DIR_OVERRIDE'] = '1'
    return env


class DomainFiles:
    """What a domain's QEMU, running as the unprivileged libvirt-qemu user,
    must reach: the QEMU binary (with its firmware links: see
    scripts/build-qemu), a copy of the kernel and initramfs, and room for
    the serial log and sockets, in a directory anyone can traverse (the
    build cache is under /root, which only root can)."""

    def __init__(self, flavour='debug'):
        self.dir = tempfile.mkdtemp(prefix='vnuma-dom-')
        os.chmod(self.dir, 0o755)
        # Copies: libvirt hands the kernel and initramfs to QEMU's user
        # (chown) and back, which the cache's own files must not see.
        self.kernel = self._copy(kernel_path(flavour), 'bzImage')
        self.initrd = self._copy(initramfs_path(flavour), 'initramfs.cpio.gz')
        self.qemu = os.path.join(self.dir, 'qemu-system-x86_64')
        try:
            os.link(qemu_path(), self.qemu)
        except OSError:
            shutil.copy(qemu_path(), self.qemu)
        for d in ('/usr/share/qemu', '/usr/share/seabios'):
            os.makedirs(self.dir + '/qemu-bundle' + os.path.dirname(d),
                        exist_ok=True)
            os.symlink(d, self.dir + '/qemu-bundle' + d)

    def _copy(self, path, name):
        dst = os.path.join(self.dir, name)
        shutil.copy(path, dst)
        return dst

    def path(self, name):
        return os.path.join(self.dir, name)

    def xml_args(self):
        """domain_xml()'s arguments that use these files."""
        return {'kernel': self.kernel, 'initrd': self.initrd,
                'emulator': self.qemu}

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateLibvirt:
    """One libvirt daemon of our own.  Use as a context manager."""

    def __init__(self, workdir=None, hooks=None, daemon='stock'):
        """@hooks: {name: script} for etc/hooks/qemu.d/ (read at start).
        @daemon: 'ours' (our virtqemud) or 'stock' (the system's
        libvirtd)."""
        assert daemon in ('ours', 'stock')
        self.daemon = daemon
        if daemon == 'ours' and not os.access(
                os.path.join(LIBVIRT_BUILD, 'src', 'virtqemud'), os.X_OK):
            raise LibvirtError(f'no virtqemud in {LIBVIRT_BUILD}: '
                               'run scripts/build-libvirt')
        self.own_dir = workdir is None
        self.hooks = hooks or {}
        self.dir = workdir or tempfile.mkdtemp(prefix='vnuma-libvirt-')
        # Sockets in a short directory of their own: a unix socket path
        # has at most 107 bytes, and pytest's directories grow with its
        # run number (pytest-105/.../libvirt-admin-sock was too long).
        # DIR/sock links to it.
        self.sock_dir = tempfile.mkdtemp(prefix='vnuma-lv-')
        sock = 'virtqemud-sock' if daemon == 'ours' else 'libvirt-sock'
        self.uri = f'qemu+unix:///system?socket={self.sock_dir}/{sock}'
        self.env = ours_env() if daemon == 'ours' else None
        self.virsh_path = VIRSH if daemon == 'ours' else 'virsh'
        self.proc = None

    def _write_config(self):
        for d in STATE_DIRS:
            os.makedirs(os.path.join(self.dir, d), exist_ok=True)
        os.makedirs(self.sock_dir, exist_ok=True)
        if not os.path.lexists(os.path.join(self.dir, 'sock')):
            os.symlink(self.sock_dir, os.path.join(self.dir, 'sock'))
        conf = 'virtqemud.conf' if self.daemon == 'ours' else 'libvirtd.conf'
        with open(os.path.join(self.dir, 'etc', conf), 'w') as f:
            f.write(f'unix_sock_dir = "{self.sock_dir}"\n'
                    'auth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    f'host_uuid = "{uuid.uuid4()}"\n' +
                    # VNUMA_LV_LOG: the daemon's logging settings in
                    # place of errors on stderr, e.g. log_filters and a
                    # log_outputs file, to see where time goes.
                    os.environ.get('VNUMA_LV_LOG',
                                   'log_outputs = "3:stderr"\n'))
        with open(os.path.join(self.dir, 'etc', 'qemu.conf'), 'w') as f:
            f.write(QEMU_CONF_OURS if self.daemon == 'ours' else QEMU_CONF)
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
        # Our domains run on TCG (type='qemu').  Where /dev/kvm exists
        # but only root may open it, QEMU probed as root reports KVM
        # while libvirt finds it unusable for libvirt-qemu, so every
        # lookup of the capabilities throws them away and probes QEMU
        # again: 30 probes, a minute, before a domain could start.  An
        # empty file in its place gives the daemon a host without KVM.
        if os.path.exists('/dev/kvm'):
            nokvm = os.path.join(self.dir, 'no-kvm')
            open(nokvm, 'w').close()
            os.chmod(nokvm, 0o600)
            cmds.append(f'mount --bind {nokvm} /dev/kvm')
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
        if self.daemon == 'ours':
            daemon = (f'{LIBVIRT_BUILD}/src/virtqemud '
                      f'-f {self.dir}/etc/virtqemud.conf')
        else:
            daemon = f'libvirtd -f {self.dir}/etc/libvirtd.conf'
        script = ' && '.join(self._mounts() + [
            f'exec {daemon} -p {self.dir}/libvirtd.pid'])
        self.log = open(os.path.join(self.dir, 'libvirtd.log'), 'ab')
        self.proc = subprocess.Popen(
            ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            env=self.env)
        deadline = time.monotonic() + timeout
        while self.virsh('list', '--all', check=False).returncode:
            if self.proc.poll() is not None:
                raise LibvirtError(f'{self.daemon} daemon exited '
                                   f'({self.proc.returncode}); '
                                   f'see {self.dir}/libvirtd.log')
            if time.monotonic() > deadline:
                raise LibvirtError(f'{self.daemon} daemon not answering '
                                   f'after {timeout} s')
            time.sleep(0.2)
        return self

    def virsh(self, *args, check=True, timeout=120):
        p = subprocess.run([self.virsh_path, '-c', self.uri, *args],
                           capture_output=True, text=True, timeout=timeout,
                           env=self.env)
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
               append='', ctl=None, typed=False, region_mib=2048, block_mib=None,
               kernel=None, initrd=None, emulator=None, vcpu_cpuset=None):
    """A domain with nodes 0 (1 GiB, vCPUs 0-1) and 1 (512 MiB, vCPU 2)
    and the empty nodes 2 and 3, booting our kernel directly.  With
    @ctl, the guest's command channel listens on that socket
    (vnuma.guest.Ctl talks to it).

    @typed: virtio-numa as libvirt's own memory device (our virtqemud):
    the empty nodes are cells without memory, the device a <memory
    model='virtio-numa'> with a region of @region_mib (and @block_mib
    if given), nothing on QEMU's command line behind libvirt's back.
    Otherwise (any libvirt, the fallback): the device and the empty
    nodes on QEMU's command line, with options @vnuma.  @kernel, @initrd
    and @emulator default to the build's (see DomainFiles).  @vcpu_cpuset:
    the host CPUs vCPUs without a <vcpupin> run on."""
    channel = (f"""    <channel type='unix'>
      <source mode='bind' path='{ctl}'/>
      <target type='virtio' name='org.virtio-numa.ctl'/>
    </channel>
""" if ctl else '')
    if typed:
        block = (f"\n        <block unit='MiB'>{block_mib}</block>"
                 if block_mib else '')
        empty_cells = """
      <cell id='2' memory='0' unit='KiB'/>
      <cell id='3' memory='0' unit='KiB'/>"""
        device = f"""    <memory model='virtio-numa'>
      <target>
        <size unit='MiB'>{region_mib}</size>{block}
      </target>
    </memory>
"""
        # Debian's firmware is on our QEMU's search path (build-qemu's
        # --firmwarepath): no -L needed.
        xmlns = ''
        commandline = ''
        features = "<acpi/><ps2 state='off'/>"
    else:
        args = [a for f in FIRMWARE for a in ('-L', f)]
        # libvirt 9.0 gives every cell a memory backend, which cannot be
        # empty: the empty nodes go on QEMU's command line too.  The
        # device gets a slot of its own: QEMU sees it before libvirt's
        # root ports, which take slots from 1 up.
        args += ['-numa', 'node,nodeid=2', '-numa', 'node,nodeid=3',
                 '-machine', 'i8042=off', '-device',
                 f'virtio-numa-pci,{vnuma},bus=pcie.0,addr=0x10']
        qemu_args = '\n'.join(f"    <qemu:arg value='{a}'/>" for a in args)
        empty_cells = device = ''
        xmlns = " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"
        commandline = f"""  <qemu:commandline>
{qemu_args}
  </qemu:commandline>
"""
        features = '<acpi/>'
    return f'''<domain type='qemu'{xmlns}>
  <name>{name}</name>
  <maxMemory slots='2' unit='MiB'>5632</maxMemory>
  <memory unit='MiB'>1536</memory>
  <vcpu{f" cpuset='{vcpu_cpuset}'" if vcpu_cpuset else ''}>3</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>{kernel or kernel_path(flavour)}</kernel>
    <initrd>{initrd or initramfs_path(flavour)}</initrd>
    <cmdline>console=ttyS0 panic=-1 memhp_default_state=online_movable {append}</cmdline>
  </os>
  <features>{features}</features>
  <cpu>
    <topology sockets='3' dies='1' cores='1' threads='1'/>
    <numa>
      <cell id='0' cpus='0-1' memory='1024' unit='MiB'/>
      <cell id='1' cpus='2' memory='512' unit='MiB'/>{empty_cells}
    </numa>
  </cpu>
  <on_reboot>destroy</on_reboot>
  <devices>
    <emulator>{emulator or qemu_path()}</emulator>
    <serial type='file'><source path='{serial_log}' append='on'/></serial>
{channel}    <memballoon model='none'/>
{device}  </devices>
{commandline}</domain>
'''
