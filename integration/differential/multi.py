"""Multi-client mode: several clients at once, through two frontcache instances in front of one
redis-server and directly to it, writes and reads interleaved. Replies cannot be compared one to
one, so properties are checked instead:

- every read returns a value that was written (every written value is unique and carries its
  version);
- read-your-writes: a client never reads a version older than its own last acknowledged write
  (or a write earlier in the same pipeline);
- monotonic reads per client and cell;
- staleness: how long before the read was sent the version it returned had already been
  overwritten (acknowledged), reported as max / p99 / p99.9.

A cell is one string key, counter key, hash field or list. Writers of one cell are serialised by
a lock in this process (held from sending the write to processing its reply), so version order is
Redis's order and a version's acknowledgement time is known. Reads take no lock.

With --faults a fault thread injects CLIENT KILL TYPE pubsub, a kill of the proxies' tracking
connections, DEBUG SLEEP 0.5, kill -9 + restart of Redis with different data, and a short
SIGSTOP of one proxy; violations and staleness are reported per fault window.

With --cluster the same runs against a Redis Cluster (3 masters, one replica each: cluster.py)
with both proxies in cluster mode and cluster-aware direct clients; the cells are grouped under
hash tags spread over every master, and --faults then means failovers (failover.py).
"""

import collections
import random
import socket
import threading
import time

import cluster
import failover
from faults import FaultInjector, FaultLog
import procs
import resp

# Not a failure: monotonic reads of one cell through two different cached commands.
ACROSS_COMMANDS = 'monotonic across commands (not promised)'

SCRIPT_SET = b"redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])"
SCRIPT_SET_UNDECLARED = b"redis.call('SET', ARGV[1], ARGV[2]) return redis.call('GET', ARGV[1])"
SCRIPT_INCR_UNDECLARED = b"return redis.call('INCRBY', ARGV[1], ARGV[2])"
RESYNC_LIMIT_S = 60.0  # a cell whose truth cannot be read this long is a tool error


def now():
    return time.monotonic()


class Version:
    __slots__ = ('n', 'sigs', 'ack', 'writer', 'failed')

    def __init__(self, n, sigs, writer):
        self.n = n
        self.sigs = sigs    # what reads of this version return, e.g. {('v', b'..'), ('len', 3)}
        self.ack = None     # monotonic time the write was acknowledged
        self.writer = writer
        self.failed = False


class Cell:
    """One unit of versioned state. kind: str | ctr | hstr | hctr | list."""

    def __init__(self, kind, key, field=None):
        self.kind = kind
        self.key = key
        self.field = field
        self.lock = threading.Lock()
        self.versions = []
        self.by_sig = {}
        self.value = None  # the latest version's value (int for counters, len for lists)
        self.meta = threading.Lock()
        self.slot = cluster.key_slot(key)
        self.anchor = None  # cluster: the declared key of "undeclared" scripts (same slot)

    def name(self):
        return self.key.decode() + ('.' + self.field.decode() if self.field else '')

    def register(self, sigs, writer, value):
        """A new version (caller holds self.lock)."""
        with self.meta:
            v = Version(len(self.versions), sigs, writer)
            self.versions.append(v)
            for s in sigs:
                self.by_sig.setdefault(s, []).append(v.n)
            self.value = value
            return v

    def lookup(self, sig):
        with self.meta:
            found = self.by_sig.get(sig)
            return max(found) if found else None

    def overwritten_at(self, n):
        """When the first acknowledged version after n was acknowledged, or None."""
        with self.meta:
            for v in self.versions[n + 1:]:
                if v.ack is not None:
                    return v.ack
            return None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reads = collections.Counter()       # op -> reads checked
        self.writes = collections.Counter()
        self.violations = collections.Counter()  # (kind, window) -> n
        self.examples = collections.defaultdict(list)
        self.by_op = collections.Counter()       # (kind, read op) -> n
        self.staleness = collections.defaultdict(list)  # target -> [ms]
        self.errors = collections.Counter()      # (window, message) -> n
        self.reconnects = 0
        self.timeouts = collections.Counter()  # window -> requests without a reply in time
        self.error_targets = collections.defaultdict(set)  # message -> targets that got it
        self.failed_transactions = {}  # EXEC's reply -> (target, the pipeline's replies), first
        self.tool_errors = collections.Counter()

    def violation(self, kind, window, text, op=''):
        with self.lock:
            self.violations[(kind, window)] += 1
            self.by_op[(kind, op)] += 1
            if len(self.examples[kind]) < 5:
                self.examples[kind].append(text)


class Conn:
    """A blocking client connection that reconnects when the server goes away."""

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.framer = None

    def call(self, commands, timeout=10.0):
        """Send commands as one pipeline; raw replies, or None entries after a failure."""
        if self.sock is None:
            self.sock = socket.create_connection(('127.0.0.1', self.port), timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.framer = resp.ReplyFramer()
        self.sock.settimeout(timeout)
        self.sock.sendall(b''.join(resp.encode_multibulk(c) for c in commands))
        out = []
        while len(out) < len(commands):
            raw = self.framer.pop()
            if raw is not None:
                out.append(raw)
                continue
            data = self.sock.recv(262144)
            if not data:
                raise ConnectionError('connection closed')
            self.framer.feed(data)
        return out

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None


def _label(cmd, declared):
    name = cmd[0].decode()
    if name == 'EVAL':
        return 'EVAL-declared' if cmd[1] == SCRIPT_SET else 'EVAL-undeclared'
    return name


def _bulk(raw):
    v = resp.decode(raw)
    return v[1] if v[0] == '$' else None


class World:
    def __init__(self, opts):
        self.opts = opts
        self.workdir = procs.Workdir('difftest-multi-')
        self.redis = procs.RedisServer(self.workdir, 'multi')
        self.proxies = []
        for name in ('A', 'B'):
            self.proxies.append(procs.Frontcache(opts.frontcache, self.workdir, name,
                                                 self.redis.port, workers=opts.workers,
                                                 ttl=opts.cache_ttl,
                                                 negative_ttl=opts.negative_ttl,
                                                 extra_yaml=opts.extra_yaml,
                                                 tracking=opts.tracking))
        self.targets = [('A', self.proxies[0].port), ('B', self.proxies[1].port),
                        ('direct', self.redis.port)]

    def conn_for(self, port):
        return Conn(port)

    def direct_conn(self):
        return Conn(self.redis.port)

    def close(self):
        for p in self.proxies:
            p.stop()
        self.redis.stop()
        self.workdir.close()


class ClusterWorld:
    """A local cluster (cluster.Cluster) and two frontcache instances in cluster mode in front of
    it, every node a seed. Keys `probe*` are never cached: the failover probes read Redis."""

    def __init__(self, opts):
        self.opts = opts
        self.workdir = procs.Workdir('difftest-multi-cluster-')
        self.proxies = []
        self.cluster = cluster.Cluster(self.workdir)
        try:
            ports = self.cluster.ports()
            upstream = '  mode: cluster\n  seeds: [%s]\n' % ', '.join(
                '"127.0.0.1:%d"' % p for p in ports[1:])
            rules = '    - match: "probe*"\n      cache: false\n'
            for name in ('A', 'B'):
                self.proxies.append(procs.Frontcache(
                    opts.frontcache, self.workdir, name, ports[0], workers=opts.workers,
                    ttl=opts.cache_ttl, negative_ttl=opts.negative_ttl,
                    extra_yaml=opts.extra_yaml, upstream_extra=upstream,
                    rules_extra=rules))
        except Exception:
            self.close()
            raise
        self.targets = [('A', self.proxies[0].port), ('B', self.proxies[1].port),
                        ('direct', None)]

    def conn_for(self, port):
        return Conn(port) if port is not None else self.direct_conn()

    def direct_conn(self):
        return cluster.ClusterConn(self.cluster.ports())

    def close(self):
        for p in self.proxies:
            p.stop()
        self.cluster.stop()
        self.workdir.close()


class Group:
    """Cells under one key prefix; in cluster mode the prefix is a hash tag, so the group is one
    slot (transactions and MGET stay within a group)."""

    def __init__(self, prefix):
        p = self.prefix = prefix.encode()
        self.strings = [Cell('str', p + b's%d' % i) for i in range(4)]
        self.counters = [Cell('ctr', p + b'c%d' % i) for i in range(3)]
        self.hstr = [Cell('hstr', p + b'h%d' % i, b'f1') for i in range(2)]
        self.hctr = [Cell('hctr', c.key, b'f2') for c in self.hstr]
        self.lists = [Cell('list', p + b'l%d' % i) for i in range(2)]
        self.all = self.strings + self.counters + self.hstr + self.hctr + self.lists
        self.slot = cluster.key_slot(p)
        self.probe = b'probe' + p  # failover probes; the world's rules never cache probe*
        self.probe_value = b'probe:' + p


class Keyspace:
    def __init__(self, prefix, tags=None):
        """One group (standalone), or one per hash tag."""
        self.clustered = tags is not None
        self.groups = [Group('{%s}' % t) for t in tags] if self.clustered else [Group(prefix)]
        for g in self.groups:
            for c in g.all:
                c.anchor = g.prefix + b'anchor' if self.clustered else None
        self.all = [c for g in self.groups for c in g.all]

    def populate(self, conn, epoch):
        """Give every cell a fresh version written directly (the start, or a restarted Redis
        with different data), and the probe keys their value. Caller holds every cell's lock."""
        for g in self.groups:
            self._populate(conn, epoch, g)

    def _populate(self, conn, epoch, group):
        cmds = [[b'SET', group.probe, group.probe_value]] if self.clustered else []
        plan = []
        for c in group.all:
            if c.kind in ('str', 'hstr'):
                val = b'%d:init%d' % (len(c.versions), epoch)
                cmds.append([b'SET', c.key, val] if c.kind == 'str' else
                            [b'HSET', c.key, c.field, val])
                plan.append((c, {('v', val)}, val))
            elif c.kind in ('ctr', 'hctr'):
                val = (c.value or 0) + 1000
                cmds.append([b'SET', c.key, b'%d' % val] if c.kind == 'ctr' else
                            [b'HSET', c.key, c.field, b'%d' % val])
                plan.append((c, {('v', b'%d' % val)}, val))
            else:
                elem = b'%d:init%d' % (len(c.versions), epoch)
                cmds += [[b'DEL', c.key], [b'RPUSH', c.key, elem]]
                plan.append((c, {('len', 1), ('last', elem)}, 1))
        versions = [c.register(sigs, -1, val) for c, sigs, val in plan]
        if any(r[:1] == b'-' for r in conn.call(cmds)):
            raise RuntimeError('populating %s failed' % group.probe.decode())
        t = now()
        for v in versions:
            v.ack = t


def cluster_tags(prefix, per_range=2):
    """Hash tags whose slots spread over every master's initial range, per_range each."""
    tags, slots = [], set()
    for first, last in cluster.ranges(3):
        found = 0
        for i in range(100000):
            tag = '%sg%d' % (prefix, i)
            slot = cluster.key_slot(tag.encode())
            if first <= slot <= last and slot not in slots:
                tags.append(tag)
                slots.add(slot)
                found += 1
                if found == per_range:
                    break
    return tags


class Client(threading.Thread):
    def __init__(self, idx, target, conn, ks, stats, faults, opts, seed, deadline):
        super().__init__(daemon=True)
        self.idx = idx
        self.target = target
        self.conn = conn
        self.ks = ks
        self.stats = stats
        self.faults = faults
        self.opts = opts
        self.rng = random.Random(seed)
        self.deadline = deadline
        self.n = 0
        self.own = {}   # cell -> highest version this client wrote (acknowledged)
        self.seen = {}  # cell -> highest version this client read
        self.stop = False

    # -- writes ---------------------------------------------------------------------------------
    def new_value(self, cell):
        self.n += 1
        return b'%d:c%d:%d' % (len(cell.versions), self.idx, self.n)

    def plan_write(self, cell, declared=None):
        """(command, version) for one write of cell; the caller holds cell.lock."""
        if cell.kind in ('str', 'hstr'):
            val = self.new_value(cell)
            if cell.kind == 'hstr':
                cmd = [b'HSET', cell.key, cell.field, val]
            elif declared is None:
                cmd = [b'SET', cell.key, val]
            elif declared:
                cmd = [b'EVAL', SCRIPT_SET, b'1', cell.key, val]
            else:
                cmd = [b'EVAL', SCRIPT_SET_UNDECLARED] + self.undeclared(cell) + [val]
            return cmd, cell.register({('v', val)}, self.idx, val)
        if cell.kind in ('ctr', 'hctr'):
            inc = self.rng.randint(1, 5)
            val = cell.value + inc
            if cell.kind == 'hctr':
                cmd = [b'HINCRBY', cell.key, cell.field, b'%d' % inc]
            elif declared is None or declared:
                cmd = [b'INCRBY', cell.key, b'%d' % inc] if inc > 1 else [b'INCR', cell.key]
            else:
                cmd = [b'EVAL', SCRIPT_INCR_UNDECLARED] + self.undeclared(cell) + [b'%d' % inc]
            return cmd, cell.register({('v', b'%d' % val)}, self.idx, val)
        elem = self.new_value(cell)
        return [b'RPUSH', cell.key, elem], cell.register(
            {('len', cell.value + 1), ('last', elem)}, self.idx, cell.value + 1)

    @staticmethod
    def undeclared(cell):
        """numkeys and keys of a script writing cell.key undeclared (ARGV[1]); in a cluster a
        script must declare a key of the slot it runs in: another key of the group."""
        return [b'1', cell.anchor, cell.key] if cell.anchor else [b'0', cell.key]

    def write_ok(self, raw, exec_reply=False):
        """Did the write succeed? An error reply is counted like any other error."""
        ok = raw[:1] == b'*' and raw != b'*-1\r\n' if exec_reply else raw[:1] != b'-'
        if not ok:
            self.error(raw, now())
        return ok

    def acked(self, cell, version, ok):
        if ok:
            version.ack = now()
            self.own[cell] = max(self.own.get(cell, -1), version.n)
        else:
            version.failed = True
            self.resync(cell)

    def resync(self, cell):
        """After a failed write its effect is unknown: read the truth directly and make it a
        version (caller holds cell.lock)."""
        direct = self.opts.direct_conn()
        limit = now() + RESYNC_LIMIT_S
        while True:
            try:
                if cell.kind == 'list':
                    n, last = direct.call([[b'LLEN', cell.key], [b'LRANGE', cell.key, b'-1',
                                                                  b'-1']])
                    if n[:1] == b'-' or last[:1] == b'-':
                        raise ConnectionError('error reply')  # failing over: read again
                    length = resp.decode(n)[1]
                    items = resp.decode(last)[1] or []
                    sigs = {('len', length)}
                    if items:
                        sigs.add(('last', items[0][1]))
                    v = cell.register(sigs, -1, length)
                else:
                    cmd = [b'GET', cell.key] if cell.kind in ('str', 'ctr') else \
                        [b'HGET', cell.key, cell.field]
                    raw = direct.call([cmd])[0]
                    if raw[:1] == b'-':
                        raise ConnectionError('error reply')
                    val = _bulk(raw)
                    value = int(val) if cell.kind in ('ctr', 'hctr') and val else val
                    v = cell.register({('v', val)}, -1, value)
                v.ack = now()
                break
            except (OSError, ConnectionError, ValueError, TypeError, resp.ProtocolError) as e:
                direct.close()
                if now() > limit:
                    with self.stats.lock:
                        self.stats.tool_errors['resync of %s: no answer in %.0f s (%r)' % (
                            cell.name(), RESYNC_LIMIT_S, e)] += 1
                    break
                time.sleep(0.05)
        direct.close()

    # -- reads ----------------------------------------------------------------------------------
    def plan_read(self, cells_hint=None):
        """(command, parse) for a read; parse(raw) -> [(cell, sig)]."""
        r = self.rng.random()
        g = self.group()
        if cells_hint is not None:
            c = cells_hint
        elif r < 0.25:
            c = self.rng.choice(g.strings + g.counters)
        elif r < 0.40:
            pool = g.strings + g.counters
            # Through a proxy an MGET may span slots (split per master, not from the L1).
            if self.ks.clustered and self.target != 'direct' and self.rng.random() < 0.3:
                pool = [c for h in self.ks.groups for c in h.strings + h.counters]
            cs = self.rng.sample(pool, self.rng.randint(2, 4))
            op = 'MGET' if len({c.slot for c in cs}) == 1 else 'MGET cross-slot'
            return [b'MGET'] + [c.key for c in cs], lambda raw, cs=cs: [
                (c, ('v', el[1])) for c, el in zip(cs, resp.decode(raw)[1])], op
        elif r < 0.60:
            c = self.rng.choice(g.hstr + g.hctr)
        elif r < 0.72:
            h = self.rng.randrange(len(g.hstr))
            cs = [g.hstr[h], g.hctr[h]]
            return [b'HMGET', cs[0].key, b'f1', b'f2'], lambda raw, cs=cs: [
                (c, ('v', el[1])) for c, el in zip(cs, resp.decode(raw)[1])], 'HMGET'
        else:
            c = self.rng.choice(g.lists)
        if c.kind in ('str', 'ctr'):
            return [b'GET', c.key], lambda raw, c=c: [(c, ('v', _bulk(raw)))], 'GET'
        if c.kind in ('hstr', 'hctr'):
            return [b'HGET', c.key, c.field], lambda raw, c=c: [(c, ('v', _bulk(raw)))], 'HGET'
        if self.rng.random() < 0.5:
            return [b'LLEN', c.key], lambda raw, c=c: [(c, ('len', resp.decode(raw)[1]))], 'LLEN'
        return [b'LRANGE', c.key, b'-1', b'-1'], lambda raw, c=c: [
            (c, ('last', (resp.decode(raw)[1] or [(None, None)])[0][1]))], 'LRANGE'

    def group(self):
        groups = self.ks.groups
        return groups[0] if len(groups) == 1 else self.rng.choice(groups)

    def check_read(self, op, raw, parse, t_send):
        if raw[:1] == b'-':
            self.error(raw, t_send)
            return
        window = self.faults.window_of(t_send)
        try:
            pairs = parse(raw)
        except Exception:
            self.stats.violation('unparsable reply', window, '%s -> %r' % (op, raw[:100]))
            return
        for cell, sig in pairs:
            with self.stats.lock:
                self.stats.reads[op] += 1
            n = cell.lookup(sig)
            if n is None:
                self.stats.violation('value never written', window, 'client %d %s %s: %r' % (
                    self.idx, op, cell.name(), sig), op)
                continue
            if n < self.own.get(cell, -1):
                self.stats.violation('read-your-writes', window,
                                     'client %d (%s) %s %s: version %d after own write %d' % (
                                         self.idx, self.target, op, cell.name(), n,
                                         self.own[cell]), op)
            # Monotonic reads per cell through one cached command; across two commands (HGET
            # then HMGET, LLEN then LRANGE: two L1 entries, filled at different times) the proxy
            # promises bounded staleness only (docs/invalidation.md), so those are counted apart.
            cmd = op.split(' ', 1)[0]  # 'GET pipelined after SET' reads through GET's entry
            if n < self.seen.get((cell, cmd), -1):
                self.stats.violation('monotonic reads', window,
                                     'client %d (%s) %s %s: version %d after %d' % (
                                         self.idx, self.target, op, cell.name(), n,
                                         self.seen[(cell, cmd)]), op)
            elif n < self.seen.get(cell, -1):
                self.stats.violation(ACROSS_COMMANDS, window,
                                     'client %d (%s) %s %s: version %d after %d' % (
                                         self.idx, self.target, op, cell.name(), n,
                                         self.seen[cell]), op)
            self.seen[cell] = max(self.seen.get(cell, -1), n)
            self.seen[(cell, cmd)] = max(self.seen.get((cell, cmd), -1), n)
            over = cell.overwritten_at(n)
            stale = max(0.0, (t_send - over) * 1000) if over is not None else 0.0
            with self.stats.lock:
                self.stats.staleness[(self.target, window)].append(stale)

    def error(self, raw, t_send):
        window = self.faults.window_of(t_send)
        msg = resp.show_raw(raw, 60) if raw else 'connection lost'
        with self.stats.lock:
            self.stats.errors[(window, msg[:60])] += 1
            self.stats.error_targets[msg[:60]].add(self.target)

    # -- operations -----------------------------------------------------------------------------
    def run(self):
        while not self.stop and now() < self.deadline:
            try:
                self.one_op()
            except socket.timeout:
                self.conn.close()
                self.error(b'', now())
                with self.stats.lock:
                    self.stats.timeouts[self.faults.window_of(now())] += 1
            except (OSError, ConnectionError, resp.ProtocolError):
                self.conn.close()
                self.error(b'', now())
                with self.stats.lock:
                    self.stats.reconnects += 1
                time.sleep(0.02)  # pacing: the server may be restarting
            except Exception as e:  # a bug in this tool: say so, and keep the client going
                with self.stats.lock:
                    self.stats.tool_errors[repr(e)[:120]] += 1
                self.conn.close()

    def one_op(self):
        r = self.rng.random()
        if r < 0.55:
            cmd, parse, op = self.plan_read()
            t = now()
            raw = self.conn.call([cmd])[0]
            self.check_read(op, raw, parse, t)
        elif r < 0.75:
            self.write_op(self.rng.choice(self.ks.all), read_after=self.rng.random() < 0.5)
        elif r < 0.85:
            self.pipelined_write_read()
        elif r < 0.93:
            self.transaction()
        else:
            g = self.group()
            cell = self.rng.choice(g.strings + g.counters)
            self.write_op(cell, declared=self.rng.random() < 0.5 if cell.kind == 'str' else
                          False, read_after=True)

    def write_op(self, cell, declared=None, read_after=False):
        with cell.lock:
            cmd, v = self.plan_write(cell, declared)
            raw = self.conn_call_guarded([cmd], [(cell, v)])
            if raw is None:
                return
            self.acked(cell, v, self.write_ok(raw[0]))
            label = _label(cmd, declared)
            with self.stats.lock:
                self.stats.writes[label] += 1
        if read_after:
            cmd, parse, op = self.plan_read(cell)
            t = now()
            self.check_read('%s after %s' % (op, label), self.conn.call([cmd])[0], parse, t)

    def conn_call_guarded(self, cmds, writes):
        """Send a pipeline holding writes; on a connection failure mark them failed (and
        resync them) instead of leaving the cells unknown."""
        try:
            return self.conn.call(cmds)
        except (OSError, ConnectionError, resp.ProtocolError) as e:
            self.conn.close()
            self.error(b'', now())
            if isinstance(e, socket.timeout):
                with self.stats.lock:
                    self.stats.timeouts[self.faults.window_of(now())] += 1
            for cell, v in writes:
                v.failed = True
                self.resync(cell)
            return None

    def pipelined_write_read(self):
        cell = self.rng.choice(self.ks.all)
        declared = self.rng.choice([None, None, True, False])
        with cell.lock:
            wcmd, v = self.plan_write(cell, declared)
            rcmd, parse, op = self.plan_read(cell)
            t = now()
            raws = self.conn_call_guarded([wcmd, rcmd], [(cell, v)])
            if raws is None:
                return
            self.acked(cell, v, self.write_ok(raws[0]))
            label = _label(wcmd, None)
            with self.stats.lock:
                self.stats.writes[label + ' (pipelined)'] += 1
        self.check_read('%s pipelined after %s' % (op, label), raws[1], parse, t)

    def transaction(self):
        cells = sorted(set(self.rng.sample(self.group().all, self.rng.randint(1, 3))),
                       key=lambda c: c.name())
        for c in cells:
            c.lock.acquire()
        try:
            planned = [(c,) + self.plan_write(c, None) for c in cells]
            cmds = [[b'MULTI']] + [cmd for _, cmd, _ in planned] + [[b'EXEC']]
            rcmd, parse, op = self.plan_read(self.rng.choice(cells))
            pipelined = self.rng.random() < 0.5
            if pipelined:
                cmds.append(rcmd)
            t = now()
            raws = self.conn_call_guarded(cmds, [(c, v) for c, _, v in planned])
            if raws is None:
                return
            ok = self.write_ok(raws[-2 if pipelined else -1], exec_reply=True)
            if not ok:
                with self.stats.lock:
                    self.stats.failed_transactions.setdefault(
                        resp.show_raw(raws[-2 if pipelined else -1], 60)[:60],
                        (self.target, [resp.show_raw(r, 60) for r in raws]))
                # A queued write answers +QUEUED or an error; anything else means it ran on its
                # own, outside the transaction that then failed.
                queued = raws[1:1 + len(planned)]
                if any(r != b'+QUEUED\r\n' and r[:1] != b'-' for r in queued):
                    self.stats.violation(
                        'write outside its transaction', self.faults.window_of(t),
                        'client %d (%s): %s' % (self.idx, self.target, ' | '.join(
                            resp.show_raw(r, 40) for r in raws)), 'MULTI/EXEC')
            for c, _, v in planned:
                self.acked(c, v, ok)
            with self.stats.lock:
                self.stats.writes['MULTI/EXEC'] += 1
        finally:
            for c in cells:
                c.lock.release()
        if pipelined:
            self.check_read(op + ' pipelined after EXEC', raws[-1], parse, t)
        else:
            t = now()
            self.check_read(op + ' after EXEC', self.conn.call([rcmd])[0], parse, t)


def percentile(sorted_vals, q):
    if not sorted_vals:
        return 0.0
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def l1_counts(world):
    """{proxy: (l1_hits, l1_misses)} from INFO frontcache: that the L1 served reads at all."""
    out = {}
    for p in world.proxies:
        try:
            text = resp.decode(Conn(p.port).call([[b'INFO', b'frontcache']], 5.0)[0])[1]
        except (OSError, ConnectionError, resp.ProtocolError):
            continue
        fields = dict(line.split(b':', 1) for line in text.splitlines() if b':' in line)
        out[p.name] = (int(fields.get(b'l1_hits', 0)), int(fields.get(b'l1_misses', 0)))
    return out


def summarise(stats, log, opts, seconds, world):
    print('\n==== multi-client summary (%d clients, %.0f s%s) ====' % (
        opts.clients, seconds, ', faults' if opts.faults else ''))
    total_reads = sum(stats.reads.values())
    print('reads checked: %d   writes: %d   reconnects: %d' % (
        total_reads, sum(stats.writes.values()), stats.reconnects))
    if stats.timeouts:
        print('requests without a reply in 10 s (hangs): ' + '  '.join(
            '%s=%d' % kv for kv in sorted(stats.timeouts.items())))
    print('reads per op:  ' + '  '.join('%s=%d' % kv for kv in sorted(stats.reads.items())))
    print('writes per op: ' + '  '.join('%s=%d' % kv for kv in sorted(stats.writes.items())))
    l1 = l1_counts(world)
    print('L1 hits / misses: ' + '  '.join('%s %d / %d' % (name, h, m)
                                           for name, (h, m) in sorted(l1.items())))
    if log.counts:
        print('faults injected: ' + '  '.join('%s=%d' % kv for kv in sorted(log.counts.items())))
    print('staleness (ms) by target and window:  reads  max  p99  p99.9')
    by_target = collections.defaultdict(list)
    for (target, window), vals in sorted(stats.staleness.items()):
        vals.sort()
        by_target[target] += vals
        print('  %-8s %-28s %8d %8.1f %6.1f %6.1f' % (target, window, len(vals), vals[-1],
                                                      percentile(vals, 0.99),
                                                      percentile(vals, 0.999)))
    allv = sorted(v for vals in by_target.values() for v in vals)
    print('  all reads: max %.1f  p99 %.1f  p99.9 %.1f' % (
        allv[-1] if allv else 0, percentile(allv, 0.99), percentile(allv, 0.999)))
    over = [v for v in allv if v > 100]
    print('  reads stale by more than 100 ms: %d' % len(over))
    if stats.errors:
        print('error replies / connection losses by window:')
        for (window, msg), n in sorted(stats.errors.items()):
            print('  %-28s %6d  %s  [%s]' % (window, n, msg, ','.join(
                sorted(stats.error_targets[msg]))))
    for exec_reply, (target, replies) in sorted(stats.failed_transactions.items()):
        print('failed transaction (first with this EXEC reply), %s: %s' % (
            target, ' | '.join(replies)))
    for err, n in stats.tool_errors.items():
        print('TOOL ERROR (%d): %s' % (n, err))
    print('violations: %d' % sum(n for (kind, _), n in stats.violations.items()
                                 if kind != ACROSS_COMMANDS))
    for (kind, window), n in sorted(stats.violations.items()):
        print('  %-24s %-28s %d' % (kind, window, n))
    if stats.by_op:
        print('violations by read (and the write before it):')
        for (kind, op), n in sorted(stats.by_op.items(), key=lambda kv: -kv[1]):
            print('  %-24s %-44s %d' % (kind, op, n))
    for kind, ex in stats.examples.items():
        for e in ex:
            print('    e.g. %s: %s' % (kind, e))
    sanitizer = []
    for p in world.proxies:
        sanitizer += procs.sanitizer_reports(p.log())
    for line in sanitizer[:10]:
        print('SANITIZER: ' + line)
    return total_reads, allv, sanitizer, l1


def main(opts):
    seed = opts.seed[0] if opts.seed else random.SystemRandom().randrange(1, 2**31)
    duration = opts.duration or 60.0
    print('== multi-client: seed %d, %d clients, %.0f s%s%s, proxy %s' % (
        seed, opts.clients, duration, ', cluster' if opts.cluster else '',
        ', faults every ~%.1f s' % opts.fault_interval if opts.faults else '',
        opts.frontcache), flush=True)
    world = ClusterWorld(opts) if opts.cluster else World(opts)
    opts.direct_conn = world.direct_conn
    try:
        ks = Keyspace('mc%d:' % seed, cluster_tags('mc%d:' % seed) if opts.cluster else None)
        conn = world.direct_conn()
        ks.populate(conn, 0)
        conn.close()
        stats, log = Stats(), FaultLog()
        start = now()
        deadline = start + duration
        clients = []
        for i in range(opts.clients):
            target, port = world.targets[i % len(world.targets)]
            clients.append(Client(i, target, world.conn_for(port), ks, stats, log, opts,
                                  seed * 1000 + i, deadline))
        threads = list(clients)
        injector = None
        if opts.faults:
            injector = failover.FailoverInjector(world, ks, log, opts, deadline, seed) \
                if opts.cluster else FaultInjector(world, ks, log, opts, deadline, seed, Conn)
            threads.append(injector)
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=duration + 120 + (opts.recovery_limit * 2 if opts.cluster else 0))
        alive = [p.name for p in world.proxies if not p.alive()]
        if injector and injector.failures:
            print('faults that could not be injected: ' + '  '.join(
                '%s (%d)' % kv for kv in injector.failures.items()))
        total_reads, allv, sanitizer, l1 = summarise(stats, log, opts, now() - start, world)
        figures, failover_failed = {}, False
        if opts.cluster and opts.faults:
            figures, failover_failed = failover.summarise(injector, world.targets)
        for name in alive:
            print('PROXY %s DIED' % name)
        failing = {k: n for k, n in stats.violations.items()
                   if k[0] != ACROSS_COMMANDS
                   and not (opts.no_fail_monotonic and k[0] == 'monotonic reads')}
        fail = bool(failing) or bool(sanitizer) or bool(alive) or failover_failed
        if not opts.faults and stats.errors:
            fail = True
        if opts.cluster and stats.timeouts:
            fail = True  # errors are allowed while failing over, hangs are not
        if opts.max_staleness_ms is not None and allv and allv[-1] > opts.max_staleness_ms:
            print('max staleness %.1f ms exceeds --max-staleness-ms %.1f' % (
                allv[-1], opts.max_staleness_ms))
            fail = True
        if opts.summary_json:
            import json
            with open(opts.summary_json, 'w') as f:
                json.dump({'reads': total_reads, 'writes': sum(stats.writes.values()),
                           'violations': sum(stats.violations.values()),
                           'staleness_max_ms': allv[-1] if allv else 0,
                           'staleness_p99_ms': percentile(allv, 0.99),
                           'staleness_p999_ms': percentile(allv, 0.999),
                           'faults': dict(log.counts), 'sanitizer_reports': len(sanitizer),
                           'errors': sum(stats.errors.values()),
                           'timeouts': sum(stats.timeouts.values()), 'l1_hits_misses': l1,
                           **figures},
                          f, indent=1)
        print('RESULT: %s' % ('FAIL' if fail else 'TOOL ERROR' if stats.tool_errors else 'ok'))
        return 1 if fail else 2 if stats.tool_errors else 0
    finally:
        world.close()
