"""Single-client differential run: the same program on a reference redis-server and on the
system under test (frontcache in front of an identical redis-server, or, with --self-check, a
second plain redis-server), every reply compared after the normalisations of normalize.py.

Flow of one step: the pipeline's bytes go to both sides (split at the step's offsets), the
reference's replies are read command by command with the model telling how many items each
command produces, the system under test's replies are then read in the same numbers, and the
two are compared unless the command raced a key's expiry deadline.
"""

import collections
import socket
import time

from expiry import Windows
import generator
import model as model_mod
import normalize
import procs
import report
import resp
from wire import IO, serialize, split_chunks

_UNSUBSCRIBE_ALL = (b'UNSUBSCRIBE', b'PUNSUBSCRIBE', b'SUNSUBSCRIBE')
DBSIZE_EXPIRED_MS = 3000


class ModelError(Exception):
    """The reference did something the model did not predict: a bug in this tool."""


class Side:
    def __init__(self, name, port, direct_port, nconns):
        self.name = name
        self.port = port                # where program connections go
        self.direct_port = direct_port  # the redis-server itself
        self.conns = [None] * nconns
        self.sync = None                # a blocking connection through `port` for resyncs


def blocking_call(port_or_sock, commands, timeout=10):
    """Send commands (lists of args) on a blocking socket and return their raw replies."""
    sock = port_or_sock
    if isinstance(port_or_sock, int):
        sock = socket.create_connection(('127.0.0.1', port_or_sock), timeout=timeout)
    sock.settimeout(timeout)
    sock.sendall(b''.join(resp.encode_multibulk(c) for c in commands))
    fr = resp.ReplyFramer()
    out = []
    while len(out) < len(commands):
        data = sock.recv(65536)
        if not data:
            raise ConnectionError('closed while waiting for %d replies' % len(commands))
        fr.feed(data)
        while (raw := fr.pop()) is not None:
            out.append(raw)
    if isinstance(port_or_sock, int):
        sock.close()
    return out


class World:
    """The processes of a single-client run."""

    def __init__(self, opts):
        self.opts = opts
        self.workdir = procs.Workdir()
        self.ref = procs.RedisServer(self.workdir, 'ref')
        self.sut_redis = procs.RedisServer(self.workdir, 'sut')
        self.proxy = None
        self.proxy_starts = 0
        self.start_proxy()

    def start_proxy(self):
        if self.opts.self_check:
            return
        if self.proxy:
            self.proxy.child.kill()  # between programs: no need to wait for a graceful drain
        self.proxy_starts += 1
        self.proxy = procs.Frontcache(self.opts.frontcache, self.workdir,
                                      'p%d' % self.proxy_starts, self.sut_redis.port,
                                      workers=self.opts.workers, ttl=self.opts.cache_ttl,
                                      negative_ttl=self.opts.negative_ttl,
                                      extra_yaml=self.opts.extra_yaml,
                                      tracking=self.opts.tracking,
                                      # MONITOR is @admin: the programs compare it with Redis
                                      admin_commands='forward')

    def sut_port(self):
        return self.sut_redis.port if self.opts.self_check else self.proxy.port

    def clean(self, restart_proxy=True):
        """Empty both servers (data, scripts, functions) and give the proxy a fresh L1."""
        for port in (self.ref.port, self.sut_redis.port):
            blocking_call(port, [[b'FLUSHALL'], [b'SCRIPT', b'FLUSH'], [b'FUNCTION', b'FLUSH'],
                                 [b'CLIENT', b'KILL', b'TYPE', b'pubsub'],
                                 [b'CLIENT', b'KILL', b'TYPE', b'normal', b'SKIPME', b'yes']])
        if restart_proxy and not self.opts.self_check:
            crashed = not self.proxy.alive()
            self.start_proxy()
            return crashed
        return False

    def proxy_logs(self):
        if self.opts.self_check:
            return ''
        out = []
        for i in range(1, self.proxy_starts + 1):
            try:
                with open(self.workdir.file('frontcache-p%d.log' % i), 'rb') as f:
                    out.append(f.read().decode('utf-8', 'replace'))
            except OSError:
                pass
        return '\n'.join(out)

    def close(self):
        if self.proxy:
            self.proxy.stop()
        self.ref.stop()
        self.sut_redis.stop()
        self.workdir.close()


class Mismatch:
    def __init__(self, step, index, family, args, r_items, p_items, note=''):
        self.epoch = 0  # first step after the last reset of the world (replays start there)
        self.step = step
        self.index = index
        self.family = family
        self.args = args
        self.r_items = r_items
        self.p_items = p_items
        self.note = note

    def kind(self):
        return '%s%s' % (self.family, ' (%s)' % self.note if self.note else '')


class Record:
    """One command as replayed: what each side answered, for reproducers."""
    __slots__ = ('step', 'index', 'cmd', 'args', 'r_items', 'p_items', 'verdict', 'watch',
                 'exec_q')

    def __init__(self, step, index, cmd, args):
        self.step, self.index, self.cmd, self.args = step, index, cmd, args
        self.r_items, self.p_items, self.verdict = [], [], ''
        self.watch = set()  # keys the connection WATCHed before this command
        self.exec_q = []    # for EXEC: (args, Cmd) of the commands it ran


class Result:
    def __init__(self):
        self.compared = collections.Counter()
        self.skipped = collections.Counter()        # reason -> count
        self.skipped_family = collections.Counter()
        self.mismatches = []
        self.model_errors = []
        self.records = []                           # filled when recording (reproducers)
        self.monitor_lines = 0
        self.steps = 0
        self.seconds = 0.0
        self.proxy_crashes = 0

    def total_compared(self):
        return sum(self.compared.values())


class Runner:
    def __init__(self, world, opts, record=False):
        self.world = world
        self.opts = opts
        self.record = record
        self.io = IO()

    # -- connections -----------------------------------------------------------------------
    def _connect_world(self, nconns):
        self.ref = Side('redis', self.world.ref.port, self.world.ref.port, nconns)
        self.sut = Side('proxy', self.world.sut_port(), self.world.sut_redis.port, nconns)
        self.sides = (self.ref, self.sut)
        self.model = model_mod.ClientModel(nconns)
        self.ids = normalize.IdMap()
        self.windows = Windows()
        self.pending_settle = []  # (writer conn, keys)
        self.tainted = set()      # conns whose next EXEC a resync may have changed
        self.resync_keys = set()  # keys a skipped write may have left different
        for side in self.sides:
            side.sync = socket.create_connection(('127.0.0.1', side.port), timeout=10)

    def _close(self, side, i):
        c = side.conns[i]
        if c is not None:
            self.result.monitor_lines += c.monitor_lines
            self.io.close(c)
            side.conns[i] = None

    def _disconnect_world(self):
        for side in self.sides:
            for i in range(len(side.conns)):
                self._close(side, i)
            if side.sync:
                side.sync.close()
                side.sync = None

    def _reset_world(self):
        """After a mismatch: fresh servers' data, a fresh proxy, fresh connections."""
        n = len(self.ref.conns)
        self._disconnect_world()
        if self.world.clean():
            self.result.proxy_crashes += 1
        self._connect_world(n)

    def _ensure_open(self, conn):
        if self.model.states[conn].closed or any(s.conns[conn] is None for s in self.sides):
            for side in self.sides:
                self._close(side, conn)
                side.conns[conn] = self.io.open(side.port)
            self.model.reconnect(conn)

    # -- the run ---------------------------------------------------------------------------
    def run(self, program, max_mismatches=20, stop_at_first=False, deadline=None):
        self.result = Result()
        self.program = program
        self._connect_world(program.nconns)
        start = time.monotonic()
        epoch, n_before = 0, 0
        try:
            for si, step in enumerate(program.steps):
                if deadline and time.monotonic() > deadline:
                    break
                bad = self._run_step(si, step)
                self.result.steps += 1
                for m in self.result.mismatches[n_before:]:
                    m.epoch = epoch
                n_before = len(self.result.mismatches)
                if bad:
                    if stop_at_first or len(self.result.mismatches) >= max_mismatches:
                        break
                    if not getattr(self.opts, 'no_reset', False):
                        self._reset_world()
                        epoch = si + 1
                if si % 200 == 0:
                    self.windows.prune(time.time() * 1000)
            self._check_idle_connections()
            for m in self.result.mismatches[n_before:]:
                m.epoch = epoch
        except ModelError as e:
            self.result.model_errors.append(str(e))
        finally:
            self._disconnect_world()
        self.result.seconds = time.monotonic() - start
        return self.result

    def _run_step(self, si, step):
        if not self._sync_call(si, self._settle_before, step.conn):
            return True
        self._ensure_open(step.conn)
        now_ms = int(time.time() * 1000)
        args_list = [cmd.resolved(now_ms) for cmd in step.cmds]
        payloads = [serialize(cmd, a) for cmd, a in zip(step.cmds, args_list)]
        for side in self.sides:
            c = side.conns[step.conn]
            c.t_lo = {}
            self.io.write(c, split_chunks(payloads, step.split))
        recs, deliveries = self._read_reference(si, step, args_list)
        self._read_sut(step.conn, recs)
        send_times = [side.conns[step.conn].t_lo for side in self.sides]
        bad = self._check_quit(si, step.conn, recs)
        bad = self._compare_step(si, step.conn, recs, *send_times) or bad
        bad = self._read_deliveries(si, deliveries) or bad
        bad = not self._sync_call(si, self._resync_after, step.conn, recs) or bad
        if self.opts.check_data and not bad:
            self._check_data(si)
        return bad

    def _sync_call(self, si, f, *args):
        """Run a resync or settle; when the proxy cannot even answer those, that is a
        mismatch too (and the world is reset) rather than a crash of the tool."""
        try:
            f(*args)
            return True
        except (OSError, ConnectionError, resp.ProtocolError) as e:
            self.result.mismatches.append(Mismatch(si, -1, 'resync', [b'<resync>'], [], [],
                                                   'through the proxy: %s' % e))
            return False

    def _check_data(self, si):
        """Debugging aid (--check-data): both servers' whole data set must be equal after each
        step, apart from keys inside an expiry window."""
        now = time.time() * 1000
        dumps = []
        for side in self.sides:
            cmds = []
            for db in range(generator.DATABASES):
                cmds.append([b'SELECT', str(db).encode()])
                for k in generator.ALL_KEYS:
                    cmds += [[b'TYPE', k], [b'GET', k], [b'HGETALL', k], [b'LRANGE', k, b'0', b'-1'],
                             [b'SMEMBERS', k], [b'ZRANGE', k, b'0', b'-1', b'WITHSCORES']]
            cmds.append([b'SELECT', b'0'])
            dumps.append(blocking_call(side.direct_port, cmds))
        later = time.time() * 1000  # the dumps take a while on a busy machine
        per_key = 6
        per_db = 1 + per_key * len(generator.ALL_KEYS)
        for i, (a, b) in enumerate(zip(dumps[0], dumps[1])):
            pos = i % per_db
            if pos == 0 or a == b:
                continue
            key = generator.ALL_KEYS[(pos - 1) // per_key]
            if self.windows.races([key], False, now - 10, later + 10):
                continue
            try:
                if sorted(resp.decode(a)[1]) == sorted(resp.decode(b)[1]):
                    continue
            except Exception:
                pass
            raise ModelError('data differs after step %d: db %d key %r: %r vs %r (windows %r, '
                             'now %d)' % (si, i // per_db, key, a, b, self.windows.w.get(key),
                                          now))

    def _take(self, c, n, timeout):
        """n items from c's inbox, waiting for them; fewer if c closed or timeout passed.
        MONITOR lines are dropped (and counted) while c is monitoring."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            while c.inbox and len(out) < n:
                item = c.inbox.popleft()
                if c.monitoring and normalize.MONITOR_LINE.match(item[0]):
                    c.monitor_lines += 1
                else:
                    out.append(item)
            if len(out) >= n or c.eof:
                break
            left = deadline - time.monotonic()
            if left <= 0 or not self.io.pump(lambda: c.inbox or c.eof, left):
                break
        return out

    @staticmethod
    def _track_monitor(c, args, items):
        """c.monitoring from c's own replies to MONITOR and RESET."""
        if not args or not items:
            return
        name = args[0].upper()
        if name == b'MONITOR' and items[-1][0] == b'+OK\r\n':
            c.monitoring = True
        elif name == b'RESET' and items[-1][0] == b'+RESET\r\n':
            c.monitoring = False

    def _read_reference(self, si, step, args_list):
        c = step.conn
        rc = self.ref.conns[c]
        recs, deliveries = [], collections.Counter()
        for i, (cmd, args) in enumerate(zip(step.cmds, args_list)):
            rec = Record(si, i, cmd, args)
            st = self.model.states[c]
            rec_watch = set(st.watching)
            n = self.model.expected(c, args)
            items = self._take(rc, n, self.opts.ref_timeout)
            if len(items) < n:
                raise ModelError('step %d cmd %d %r on conn %d (%s): expected %d replies from '
                                 'the reference, got %d' % (si, i, args[:3], c, st.describe(),
                                                            n, len(items)))
            self.model.last_exec = []
            try:
                applied = self.model.apply(c, args, [r for r, _ in items], tag=cmd)
            except ValueError as e:
                raise ModelError('step %d cmd %d: %s' % (si, i, e))
            for k, v in applied.items():
                deliveries[k] += v
            self._track_monitor(rc, args, items)
            rec.r_items = items
            rec.watch, rec.exec_q = rec_watch, list(self.model.last_exec)
            recs.append(rec)
        return recs, deliveries

    def _read_sut(self, conn, recs):
        """The system under test's items, in the reference's numbers per command; after one
        timeout the rest of the step takes only what is already there."""
        pc = self.sut.conns[conn]
        timeout = self.opts.reply_timeout
        for r in recs:
            r.p_items = self._take(pc, len(r.r_items), timeout)
            if len(r.p_items) < len(r.r_items):
                timeout = 0
            self._track_monitor(pc, r.args, r.p_items)

    def _check_quit(self, si, conn, recs):
        """After QUIT both sides must close the connection."""
        if not self.model.states[conn].closed:
            return False
        rc, pc = self.ref.conns[conn], self.sut.conns[conn]
        self.io.pump(lambda: rc.eof, self.opts.ref_timeout)
        if not rc.eof:
            raise ModelError('reference did not close after QUIT (step %d)' % si)
        self.io.pump(lambda: pc.eof or pc.inbox, self.opts.reply_timeout)
        bad = False
        if not pc.eof or pc.inbox:
            extra = [r for r, _ in pc.inbox]
            self.result.mismatches.append(Mismatch(si, len(recs) - 1, 'QUIT', recs[-1].args, [],
                                                   extra, 'connection not closed after QUIT'))
            bad = True
        for side in self.sides:
            self._close(side, conn)
        return bad

    def _read_deliveries(self, si, deliveries):
        bad = False
        for k, m in sorted(deliveries.items()):
            if self.ref.conns[k] is None:
                continue
            r = self._take(self.ref.conns[k], m, self.opts.ref_timeout)
            if len(r) < m:
                raise ModelError('conn %d: expected %d pub/sub messages, got %d' % (k, m, len(r)))
            p = self._take(self.sut.conns[k], m, self.opts.reply_timeout)
            rec = Record(si, -1, None, [b'<messages to conn %d>' % k])
            rec.r_items, rec.p_items = r, p
            if self.record:
                self.result.records.append(rec)
            # A client matching a message by channel and by patterns gets them in the order of
            # its pattern list (a hash table order): compared as a sorted list.
            if sorted(x for x, _ in r) == sorted(x for x, _ in p):
                self.result.compared['pubsub message'] += m
            else:
                self.result.mismatches.append(Mismatch(si, -1, 'pubsub message', rec.args,
                                                       [x for x, _ in r], [x for x, _ in p],
                                                       'delivered to conn %d' % k))
                bad = True
        return bad

    def _check_idle_connections(self):
        """Nothing may be left over: an extra reply on any connection is a mismatch."""
        self.io.pump(lambda: False, 0.05)  # collect what is already on the wire
        for i, (rc, pc) in enumerate(zip(self.ref.conns, self.sut.conns)):
            if rc is None:
                continue
            for c in (rc, pc):
                c.inbox = collections.deque(
                    x for x in c.inbox
                    if not (c.monitoring and normalize.MONITOR_LINE.match(x[0])))
            if rc.inbox:
                raise ModelError('conn %d: unexpected reference items at the end: %r' %
                                 (i, [r for r, _ in rc.inbox][:3]))
            if pc.inbox:
                self.result.mismatches.append(Mismatch(len(self.program.steps), -1, 'extra reply',
                                                       [b'<end>'], [],
                                                       [r for r, _ in pc.inbox],
                                                       'on conn %d at the end' % i))

    # -- comparison and expiry -------------------------------------------------------------
    def _compare_step(self, si, conn, recs, r_lo, p_lo):
        step_end = time.time() * 1000
        bad = False
        r_hi = p_hi = 0
        for rec in recs:
            i = rec.index
            r_hi = max([t for _, t in rec.r_items] + [r_hi]) if rec.r_items else step_end
            p_hi = max([t for _, t in rec.p_items] + [p_hi]) if rec.p_items else step_end
            lo = min(r_lo.get(i, step_end), p_lo.get(i, step_end))
            hi = max(r_hi, p_hi)
            rec.verdict = self._verdict(conn, rec, rec.watch, rec.exec_q, lo, hi)
            if rec.verdict == 'mismatch' and not bad:
                note = '' if len(rec.p_items) == len(rec.r_items) else \
                    'proxy sent %d of %d replies' % (len(rec.p_items), len(rec.r_items))
                self.result.mismatches.append(Mismatch(
                    si, i, rec.cmd.family, rec.args, [x for x, _ in rec.r_items],
                    [x for x, _ in rec.p_items], note))
                bad = True
            self._note_ttls(rec, rec.exec_q, lo, hi)
            if self.opts.trace is not None and (self.opts.trace < 0 or conn == self.opts.trace):
                print('TRACE s%d c%d %-5s %s -> %s | %s [%s]' % (
                    si, conn, rec.cmd.form, report.show_args(rec.args, 80),
                    ' '.join(resp.show_raw(x, 40).replace('\n', ' ') for x, _ in rec.r_items),
                    ' '.join(resp.show_raw(x, 40).replace('\n', ' ') for x, _ in rec.p_items),
                    rec.verdict))
            if self.record:
                self.result.records.append(rec)
        return bad

    def _touched(self, rec, watch, exec_q):
        """(keys, all keys?, may leave the sides different if raced?)"""
        cmd = rec.cmd
        if rec.args and rec.args[0].upper() == b'EXEC' and exec_q:
            keys, all_keys, write = set(watch), False, False
            for _, q in exec_q:
                if q is not None:
                    keys.update(q.keys)
                    all_keys = all_keys or q.all_keys
                    write = write or (q.write and not q.blind)
            return keys, all_keys, write
        if cmd.family == 'CLIENT INFO':
            return set(watch), False, False  # flags=d: a WATCHed key changed (or expired)
        return set(cmd.keys), cmd.all_keys, cmd.write and not cmd.blind

    def _verdict(self, conn, rec, watch, exec_q, lo, hi):
        keys, all_keys, write = self._touched(rec, watch, exec_q)
        family = rec.cmd.family
        if self.resync_keys and (all_keys or keys & self.resync_keys):
            # a skipped write earlier in this pipeline may have left these keys different
            self._skip('after a skipped write in the same pipeline', family)
            if write:
                self.resync_keys.update(generator.ALL_KEYS if all_keys else keys)
            return 'skipped: after skipped write'
        if family == 'DBSIZE':
            # DBSIZE counts expired keys until the active expire cycle has reclaimed them,
            # which each server does in its own time: keys that expired lately race it too.
            lo -= DBSIZE_EXPIRED_MS
        if self.windows.races(keys, all_keys, lo, hi) or \
                self._ttl_comparison_races(rec, exec_q, lo, hi):
            self._skip('expiry race', family)
            if write:
                self.resync_keys.update(generator.ALL_KEYS if all_keys else keys)
            return 'skipped: expiry race'
        is_exec = rec.args and rec.args[0].upper() == b'EXEC'
        if family == 'CLIENT INFO' and conn in self.tainted and watch:
            self._skip('CLIENT INFO after a resync touched WATCHed keys', family)
            return 'skipped: resync under WATCH'
        if is_exec and conn in self.tainted:
            self.tainted.discard(conn)
            self._skip('EXEC after a resync touched WATCHed keys', family)
            if write:  # it may have run on one side only
                self.resync_keys.update(generator.ALL_KEYS if all_keys else keys)
            return 'skipped: resync under WATCH'
        r = [x for x, _ in rec.r_items]
        p = [x for x, _ in rec.p_items]
        if len(r) != len(p):
            return 'mismatch'
        if family in ('PUBLISH', 'SPUBLISH'):
            # A RESP3 subscriber's own PUBLISH: its messages come before the reply, a channel
            # match and pattern matches in pattern-table order (a hash table order): sorted.
            r = sorted(r[:-1]) + r[-1:]
            p = sorted(p[:-1]) + p[-1:]
        if len(rec.args) == 1 and rec.args[0].upper() in _UNSUBSCRIBE_ALL:
            r = normalize.normalise_unsubscribe_all(r)
            p = normalize.normalise_unsubscribe_all(p)
        for a, b in zip(r, p):
            if is_exec and exec_q:
                a, b = normalize.normalise_exec([q.norm if q else None for _, q in exec_q],
                                                a, b, self.ids)
            else:
                a, b = normalize.normalise_pair(rec.cmd.norm, a, b, self.ids)
            if a != b:
                return 'mismatch'
        self.result.compared[family] += 1
        return 'ok'

    def _skip(self, reason, family):
        self.result.skipped[reason] += 1
        self.result.skipped_family[family] += 1

    @staticmethod
    def _ran(rec, exec_q):
        """(Cmd, resolved args) of what rec ran: itself, or the commands its EXEC ran."""
        if exec_q:
            return [(q, a) for a, q in exec_q if q is not None]
        return [(rec.cmd, rec.args)]

    @staticmethod
    def _deadline_window(cmd, args, lo, hi):
        """Where the deadline cmd sets falls, for a cmd run within [lo, hi]; None if none."""
        if not cmd.ttl or not cmd.keys:
            return None
        if cmd.ttl[0] == 'rel':
            return lo + cmd.ttl[1], hi + cmd.ttl[1]
        for a, orig in zip(args, cmd.args):
            if hasattr(orig, 'resolve'):
                t = int(a) * (1000 if orig.unit == 's' else 1)
                return t, t + (999 if orig.unit == 's' else 0)
        return None

    def _ttl_comparison_races(self, rec, exec_q, lo, hi):
        """EXPIRE ... GT/LT compares the new deadline with the current one: when the two are
        close, the answer depends on when each server ran it."""
        for cmd, args in self._ran(rec, exec_q):
            if any(a.upper() in (b'GT', b'LT') for a in args[3:]):
                w = self._deadline_window(cmd, args, lo, hi)
                if w and self.windows.races(cmd.keys[:1], False, w[0], w[1]):
                    return True
        return False

    def _note_ttls(self, rec, exec_q, lo, hi):
        for cmd, args in self._ran(rec, exec_q):
            if cmd.family in ('RENAME', 'RENAMENX', 'COPY') and len(cmd.keys) == 2:
                self.windows.copy(cmd.keys[0], cmd.keys[1])
            w = self._deadline_window(cmd, args, lo, hi)
            if w:
                self.windows.add(cmd.keys[0], w[0], w[1])

    # -- keeping both sides comparable -------------------------------------------------------
    def _resync_after(self, conn, recs):
        """Keys a skipped write may have left different are deleted on both sides, through the
        same paths (the proxy for the system under test, so that its L1 forgets them too)."""
        for rec in recs:
            for cmd in [rec.cmd] + [q for _, q in rec.exec_q if q is not None]:
                if cmd.undeclared:
                    self.pending_settle.append((conn, cmd.undeclared))
        keys = sorted(self.resync_keys)
        self.resync_keys = set()
        if not keys:
            return
        cmds = []
        for db in range(generator.DATABASES):
            cmds += [[b'SELECT', str(db).encode()], [b'DEL'] + keys]
        cmds.append([b'SELECT', b'0'])
        for side in self.sides:
            blocking_call(side.sync, cmds)
        self.windows.clear(keys)
        for i, st in enumerate(self.model.states):
            if st.watching:
                self.tainted.add(i)
        self.result.skipped['resynchronised keys'] += len(keys)

    def _settle_before(self, conn):
        """Writes the proxy cannot name (scripts, ... STORE, FLUSHDB) reach its L1 through
        Redis's invalidation messages, a little later: before another connection reads, make
        the proxy forget those keys with a write that changes nothing (SETRANGE k 0 "").
        The writing connection itself is not helped: read-your-writes must hold for it."""
        keys = set()
        keep = []
        for writer, ks in self.pending_settle:
            if writer == conn:
                keep.append((writer, ks))
            else:
                keys.update(ks)
        self.pending_settle = keep
        if not keys or self.opts.self_check:
            return
        cmds = []
        for db in range(generator.DATABASES):
            cmds.append([b'SELECT', str(db).encode()])
            cmds += [[b'SETRANGE', k, b'0', b''] for k in sorted(keys)]
        cmds.append([b'SELECT', b'0'])
        blocking_call(self.sut.sync, cmds)
        self.result.skipped['settled keys (undeclared writes, other connection)'] += len(keys)
        # Redis does not count SETRANGE k 0 "" as a change of a WATCHed key; a proxy that
        # models WATCH may (flags=d): the watcher's next EXEC or CLIENT INFO is not compared.
        for i, st in enumerate(self.model.states):
            if st.watching & keys:
                self.tainted.add(i)
