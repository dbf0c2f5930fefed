"""The processes a run needs: redis-servers and frontcache instances on free loopback ports, each
in a private temp dir, killed when the run ends (and, through PR_SET_PDEATHSIG, when the runner
itself dies, so nothing outlives a crashed or killed test)."""

import concurrent.futures
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


_spawner = None
_spawner_lock = threading.Lock()


def _from_spawner_thread(fn):
    """Run fn (which forks a child) on one thread that lives as long as the runner. The parent
    PR_SET_PDEATHSIG watches is the *thread* that forked: a Redis restarted by a fault thread
    was killed when that thread ended, before the run did."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix='spawner')
    return _spawner.submit(fn).result()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def ping(port, timeout=0.3):
    """True when something on port answers PING with +PONG."""
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
            s.sendall(b'PING\r\n')
            return s.recv(64).startswith(b'+PONG')
    except OSError:
        return False


def wait_ready(port, proc, timeout):
    """Wait until port answers PING (the event), giving up when the process exits or after
    timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ping(port):
            return True
        time.sleep(0.02)
    return False


class Workdir:
    """A private temp dir, removed at close unless DIFFTEST_KEEP_TMP is set."""

    def __init__(self, prefix='difftest-'):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def file(self, name):
        return os.path.join(self.path, name)

    def close(self):
        if not os.environ.get('DIFFTEST_KEEP_TMP'):
            shutil.rmtree(self.path, ignore_errors=True)


class Child:
    """One child process with its log file."""

    def __init__(self, argv, log_path, env=None):
        self.argv = argv
        self.log_path = log_path
        log = open(log_path, 'ab')
        self.proc = _from_spawner_thread(lambda: subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=_die_with_parent,
            env=env))
        log.close()

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        if self.alive():
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def terminate(self, grace=5.0):
        """SIGTERM, then SIGKILL after grace seconds; returns the exit status."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self):
        try:
            with open(self.log_path, 'rb') as f:
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''


class RedisServer:
    def __init__(self, workdir, name, databases=16, extra=()):
        self.workdir = workdir
        self.name = name
        self.databases = databases
        self.extra = list(extra)
        self.port = None
        self.child = None
        for _ in range(5):
            if self._start_on(free_port()):
                return
        raise RuntimeError('redis-server %s did not start:\n%s' % (name, self.log()))

    def _start_on(self, port):
        self.port = port
        argv = ['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '',
                '--appendonly', 'no', '--daemonize', 'no', '--dir', self.workdir.path,
                '--databases', str(self.databases), '--logfile', ''] + self.extra
        self.child = Child(argv, self.workdir.file('redis-%s.log' % self.name))
        if wait_ready(port, self.child.proc, 10):
            return True
        self.child.kill()
        return False

    def restart(self):
        """kill -9 and start again on the same port (empty: no persistence)."""
        self.child.kill()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._start_on(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError('redis-server %s did not restart on %d' % (self.name, self.port))

    def log(self):
        return self.child.log() if self.child else ''

    def stop(self):
        if self.child:
            self.child.kill()


FRONTCACHE_YAML = """\
listen: 127.0.0.1:{port}
workers: {workers}
upstream:
{upstream_extra}  address: 127.0.0.1:{upstream}
  connections_per_worker: 2
  command_timeout: {command_timeout}
cache:
  max_memory: 64mb
  rules:
{rules_extra}    - match: "*"
      ttl: {ttl}
      negative_ttl: {negative_ttl}
invalidation:
  tracking: {tracking}
admin_commands: {admin_commands}
log:
  level: {log_level}
{extra}"""


class Frontcache:
    """A frontcache in front of `upstream_port`, configured from FRONTCACHE_YAML; `extra_yaml`
    is appended as is (for knobs a newer proxy has and an older one would reject);
    `upstream_extra` and `rules_extra` are lines put first in `upstream:` and `cache.rules`
    (cluster mode and its seeds, a rule of keys never cached)."""

    def __init__(self, binary, workdir, name, upstream_port, workers=2, ttl='10s',
                 negative_ttl='1s', command_timeout='2s', extra_yaml='', log_level='info',
                 env=None, admin_commands='deny', upstream_extra='', rules_extra='',
                 tracking='bcast'):
        self.binary = binary
        self.workdir = workdir
        self.name = name
        self.settings = dict(workers=workers, upstream=upstream_port, ttl=ttl,
                             negative_ttl=negative_ttl, command_timeout=command_timeout,
                             extra=extra_yaml, log_level=log_level,
                             admin_commands=admin_commands, upstream_extra=upstream_extra,
                             rules_extra=rules_extra, tracking=tracking)
        self.env = env
        self.port = None
        self.child = None
        for _ in range(5):
            if self._start_on(free_port()):
                return
        raise RuntimeError('frontcache %s did not become ready:\n%s' % (name, self.log()))

    def config_path(self):
        return self.workdir.file('frontcache-%s.yaml' % self.name)

    def _start_on(self, port):
        self.port = port
        with open(self.config_path(), 'w') as f:
            f.write(FRONTCACHE_YAML.format(port=port, **self.settings))
        self.child = Child([self.binary, '--config', self.config_path()],
                           self.workdir.file('frontcache-%s.log' % self.name), env=self.env)
        if wait_ready(port, self.child.proc, 20):
            return True
        self.child.kill()
        return False

    def alive(self):
        return self.child.alive()

    def log(self):
        return self.child.log() if self.child else ''

    def stop(self):
        if self.child:
            return self.child.terminate()
        return None


def find_frontcache(explicit=None):
    """The frontcache binary: --frontcache, else $FRONTCACHE_BIN, else the ci build."""
    if explicit:
        return explicit
    if os.environ.get('FRONTCACHE_BIN'):
        return os.environ['FRONTCACHE_BIN']
    here = os.path.dirname(os.path.abspath(__file__))
    guess = os.path.join(here, '..', '..', 'build-ci', 'frontcache')
    return os.path.normpath(guess) if os.path.exists(guess) else None


SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:',
                     'WARNING: ThreadSanitizer', 'ERROR: UndefinedBehaviorSanitizer')


def sanitizer_reports(log_text):
    return [line for line in log_text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]
