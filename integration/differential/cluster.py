"""Redis Cluster pieces of the multi-client mode (--cluster): the key-to-slot function (CRC16,
hash tags), a local cluster of redis-server nodes (3 masters, one replica each, formed with
ADDSLOTSRANGE, MEET and REPLICATE) that can lose a node and get it back on the same ports with
its nodes.conf, and a cluster-aware direct client (slot map from CLUSTER SLOTS, MOVED followed,
the map read again after a lost node or CLUSTERDOWN)."""

import random
import time

import procs
import resp

SLOTS = 16384

# The nodes fail over quickly (node timeout), a replica may always stand for election (validity
# factor 0), the other masters keep serving while one is down (full coverage off), and a node
# that comes back syncs at once (no diskless delay). No persistence, as in standalone mode.
NODE_ARGS = ['--cluster-enabled', 'yes', '--cluster-node-timeout', '1000',
             '--cluster-replica-validity-factor', '0', '--cluster-require-full-coverage', 'no',
             '--cluster-allow-replica-migration', 'no', '--repl-diskless-sync-delay', '0']


def _crc16_table():
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xffff)
    return table


_CRC16 = _crc16_table()


def crc16(data):
    """CRC16-CCITT (XMODEM), the one Redis Cluster hashes keys with."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xffff) ^ _CRC16[((crc >> 8) ^ b) & 0xff]
    return crc


def key_slot(key):
    """CLUSTER KEYSLOT: the hash tag (between the first '{' and the next '}', if not empty) or
    the whole key, CRC16 mod 16384."""
    start = key.find(b'{')
    if start != -1:
        end = key.find(b'}', start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc16(key) % SLOTS


def command_key(cmd):
    """The key a request is routed by, or None (MULTI, EXEC, keyless EVAL)."""
    name = cmd[0].upper()
    if name in (b'MULTI', b'EXEC', b'DISCARD', b'PING'):
        return None
    if name in (b'EVAL', b'EVALSHA'):
        return cmd[3] if int(cmd[2]) > 0 else None
    return cmd[1] if len(cmd) > 1 else None


def ranges(masters):
    """The slot range [first, last] of each master, split as evenly as CLUSTER ADDSLOTSRANGE
    calls in integration/support/cluster.cpp do."""
    return [(SLOTS * i // masters, SLOTS * (i + 1) // masters - 1) for i in range(masters)]


def _redirect(raw):
    """(kind, slot, port) of a -MOVED/-ASK error, else None."""
    if not (raw.startswith(b'-MOVED ') or raw.startswith(b'-ASK ')):
        return None
    parts = raw[1:].split()
    return parts[0], int(parts[1]), int(parts[2].rsplit(b':', 1)[1])


def info_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + b':'):
            return line.split(b':', 1)[1].strip()
    return None


class Node:
    """One cluster node: redis-server on a fixed client port and bus port, its nodes.conf in the
    run's workdir under the node's name, so that a restart finds its identity again."""

    def __init__(self, workdir, name):
        self.workdir = workdir
        self.name = name
        self.child = None
        self.id = None
        for _ in range(5):
            self.port, self.bus_port = procs.free_port(), procs.free_port()
            if self.port != self.bus_port and self._start():
                return
        raise RuntimeError('cluster node %s did not start:\n%s' % (name, self.log()))

    def _start(self):
        argv = ['redis-server', '--port', str(self.port), '--cluster-port', str(self.bus_port),
                '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no',
                '--dir', self.workdir.path, '--cluster-config-file',
                'nodes-%s.conf' % self.name, '--logfile', ''] + NODE_ARGS
        self.child = procs.Child(argv, self.workdir.file('redis-%s.log' % self.name))
        if procs.wait_ready(self.port, self.child.proc, 10):
            return True
        self.child.kill()
        return False

    def kill(self):
        """kill -9, nothing else: the cluster notices by itself."""
        self.child.kill()

    def start_again(self):
        """Same ports, same nodes.conf (the data is gone: no persistence)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._start():
                return
            time.sleep(0.05)
        raise RuntimeError('cluster node %s did not restart on %d' % (self.name, self.port))

    def alive(self):
        return self.child is not None and self.child.alive()

    def call(self, cmds, timeout=5.0):
        conn = procs_conn(self.port)
        try:
            return conn.call(cmds, timeout)
        finally:
            conn.close()

    def role(self):
        """'master', 'slave' or None (not answering)."""
        try:
            v = resp.decode(self.call([[b'ROLE']], 2.0)[0])
            return v[1][0][1].decode() if v[0] == '*' else None
        except (OSError, ConnectionError, resp.ProtocolError):
            return None

    def replication(self):
        return resp.decode(self.call([[b'INFO', b'replication']])[0])[1]

    def log(self):
        return self.child.log() if self.child else ''

    def stop(self):
        if self.child:
            self.child.kill()


def procs_conn(port):
    import multi  # the reconnecting blocking client; imported late (multi imports this module)
    return multi.Conn(port)


class Cluster:
    """3 masters with one replica each, formed and checked the way the C++ integration tests do
    (integration/support/cluster.cpp), on free loopback ports."""

    def __init__(self, workdir, masters=3):
        self.workdir = workdir
        self.nodes = []
        self.ranges = ranges(masters)
        try:
            self._form(masters)
        except Exception:
            self.stop()
            raise

    def _form(self, masters):
        for i, (first, last) in enumerate(self.ranges):
            n = Node(self.workdir, 'm%d' % i)
            self.nodes.append(n)
            ok = n.call([[b'CLUSTER', b'ADDSLOTSRANGE', b'%d' % first, b'%d' % last]])[0]
            if ok != b'+OK\r\n':
                raise RuntimeError('CLUSTER ADDSLOTSRANGE: %r' % ok)
        for i in range(masters):
            self.nodes.append(Node(self.workdir, 'r%d' % i))
        for n in self.nodes:
            n.id = resp.decode(n.call([[b'CLUSTER', b'MYID']])[0])[1]
        for n in self.nodes[1:]:
            self.nodes[0].call([[b'CLUSTER', b'MEET', b'127.0.0.1', b'%d' % n.port,
                                 b'%d' % n.bus_port]])
        for i in range(masters):
            replica, master = self.nodes[masters + i], self.nodes[i]
            self._wait(lambda: master.id in replica.call([[b'CLUSTER', b'NODES']])[0],
                       'node %s never learnt of %s' % (replica.name, master.name))
            ok = replica.call([[b'CLUSTER', b'REPLICATE', master.id]])[0]
            if ok != b'+OK\r\n':
                raise RuntimeError('CLUSTER REPLICATE: %r' % ok)
        for i in range(masters):
            replica = self.nodes[masters + i]
            self._wait(lambda: info_field(replica.replication(), b'master_link_status') == b'up',
                       'replica %s never synced' % replica.name)
        self._wait(self.formed, 'the cluster did not form')

    def _wait(self, done, what, timeout=60.0):
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError('%s; logs:\n%s' % (what, self.logs()))
            time.sleep(0.02)  # polling interval, not a synchronisation

    def formed(self):
        """Every node: cluster_state:ok, every node known, and 3 slot ranges each with a
        master and a replica."""
        for n in self.nodes:
            info = resp.decode(n.call([[b'CLUSTER', b'INFO']])[0])[1]
            if info_field(info, b'cluster_state') != b'ok' or \
                    info_field(info, b'cluster_known_nodes') != b'%d' % len(self.nodes):
                return False
            slots = resp.decode(n.call([[b'CLUSTER', b'SLOTS']])[0])[1]
            if len(slots) != len(self.ranges) or any(len(r[1]) != 4 for r in slots):
                return False
        return True

    def ports(self):
        return [n.port for n in self.nodes]

    def logs(self):
        return ''.join('--- redis %s (%d) ---\n%s' % (n.name, n.port, n.log()[-4000:])
                       for n in self.nodes)

    def stop(self):
        for n in self.nodes:
            n.stop()


class ClusterConn:
    """A direct client of the cluster with the interface of multi.Conn: a pipeline goes to the
    master of its first key's slot (every request of a pipeline is in that slot). MOVED updates
    the slot and the pipeline is sent again when nothing of it ran; a lost node or CLUSTERDOWN
    makes the next call read the map again. Anything else (errors, a lost connection) reaches
    the caller, who treats the writes' outcome as unknown."""

    MAX_REDIRECTS = 5

    def __init__(self, ports):
        self.ports = list(ports)
        self.conns = {}
        self.slots = None  # slot -> port

    def _refresh(self):
        errors = []
        for port in random.sample(self.ports, len(self.ports)):
            conn = procs_conn(port)
            try:
                v = resp.decode(conn.call([[b'CLUSTER', b'SLOTS']], 2.0)[0])
            except (OSError, ConnectionError, resp.ProtocolError) as e:
                errors.append(str(e))
                continue
            finally:
                conn.close()
            if v[0] != '*' or not v[1]:
                continue
            slots = [None] * SLOTS
            for span in v[1]:
                first, last, master = span[1][0][1], span[1][1][1], span[1][2][1]
                for s in range(first, last + 1):
                    slots[s] = master[1][1]
            self.slots = slots
            return
        raise ConnectionError('no cluster node gave a slot map (%s)' % '; '.join(errors[:3]))

    def _conn(self, port):
        if port not in self.conns:
            self.conns[port] = procs_conn(port)
        return self.conns[port]

    def call(self, commands, timeout=10.0):
        key = next((k for k in map(command_key, commands) if k is not None), None)
        slot = key_slot(key) if key is not None else 0
        ask = None
        for _ in range(self.MAX_REDIRECTS + 1):
            if self.slots is None:
                self._refresh()
            port = ask or self.slots[slot] or random.choice(self.ports)
            conn = self._conn(port)
            try:
                replies = conn.call(([[b'ASKING']] if ask else []) + commands, timeout)
            except (OSError, ConnectionError, resp.ProtocolError):
                conn.close()
                del self.conns[port]
                self.slots = None
                raise
            if ask:
                replies = replies[1:]
            ask = None
            redirect = self._redirect_of(commands, replies)
            if redirect is None:
                if any(r.startswith(b'-CLUSTERDOWN') for r in replies):
                    self.slots = None
                return replies
            kind, rslot, rport = redirect
            if kind == b'MOVED':
                self.slots[rslot] = rport
            else:
                ask = rport
        return replies

    @staticmethod
    def _redirect_of(commands, replies):
        """The redirect to follow when none of the pipeline ran, else None."""
        if commands[0][0].upper() == b'MULTI':
            end = next(i for i, c in enumerate(commands) if c[0].upper() == b'EXEC')
            exec_reply = replies[end]
            moved = [r for r in replies[:end + 1] if _redirect(r)]
            if moved and (_redirect(exec_reply) or exec_reply.startswith(b'-EXECABORT')):
                return _redirect(moved[0])
            return None
        found = [_redirect(r) for r in replies]
        return found[0] if all(found) else None

    def close(self):
        for conn in self.conns.values():
            conn.close()
        self.conns = {}
        self.slots = None
