"""Faults of the multi-client mode against a cluster (--cluster --faults), each followed until
every target serves the master's slots again:

- kill -9 of a master chosen at random; the cluster promotes its replica by itself. Redis
  replicates asynchronously, so a write acknowledged just before the kill may be missing on the
  replica: that is Redis losing a write, not the proxy serving a stale value. The kill therefore
  happens while the writers of the master's cells are held (their locks), once the replica has
  the master's whole replication stream. Afterwards the node starts again on its ports with its
  nodes.conf (no data: no persistence) and rejoins as the new master's replica, so that the
  next kill finds a replica again.
- CLUSTER FAILOVER on a replica: a clean handover (the master pauses its writers until the
  replica has caught up), writers not held.

Recovery: one probe per target (each proxy, and a cluster-aware direct client) reads the
master's probe keys (one per group of cells in its slots, never cached: a `probe*` rule) with
GET until each answers its value. Recovery time is from the kill to the reply of the last
probe key's first good read, and from the promotion (the replica's ROLE says master) to it.
After CLUSTER FAILOVER only reads sent after the promotion count (the old master served until
then). A probe reply that is neither the value nor an error fails the run; so does a probe
without a reply in 10 s, or a target that does not serve the slots within --recovery-limit.
"""

import collections
import random
import socket
import statistics
import threading
import time

import cluster as cluster_mod
import resp

KILL = 'kill -9 master'
MANUAL = 'cluster failover'
PROBE_TIMEOUT_S = 10.0
POLL_S = 0.01  # polling interval of the probes and the promotion watch, not a synchronisation


def now():
    return time.monotonic()


class Record:
    """One failover as measured."""

    def __init__(self, kind, victim, successor, t0):
        self.kind = kind
        self.victim = victim          # node names
        self.successor = successor
        self.t0 = t0                  # the kill, or CLUSTER FAILOVER sent
        self.promoted = None          # seconds from t0 to the successor's ROLE master
        self.served = {}              # target -> seconds from t0 to every probe key read back
        self.errors = collections.Counter()  # target -> error replies / lost connections
        self.wrong = []               # probe replies that were neither the value nor an error
        self.hangs = collections.Counter()
        self.rejoined = None          # seconds from t0 to the old master replicating again

    def recovered(self, targets):
        return self.promoted is not None and all(t in self.served for t in targets)

    def as_json(self):
        return {'kind': self.kind, 'victim': self.victim, 'successor': self.successor,
                'promoted_s': self.promoted, 'served_s': dict(self.served),
                'served_after_promotion_s': {
                    t: s - self.promoted for t, s in self.served.items()
                    if self.promoted is not None},
                'probe_errors': dict(self.errors), 'wrong': self.wrong[:5],
                'hangs': dict(self.hangs), 'rejoined_s': self.rejoined}


class FailoverInjector(threading.Thread):
    def __init__(self, world, ks, log, opts, deadline, seed):
        super().__init__(daemon=True)
        self.world = world
        self.cluster = world.cluster
        self.ks = ks
        self.log = log
        self.opts = opts
        self.deadline = deadline
        self.rng = random.Random(seed)
        self.records = []
        self.failures = collections.Counter()

    def run(self):
        time.sleep(min(self.opts.fault_interval, 5.0))
        first = True
        # Room for one more failover inside the run: the clients must see it.
        while now() + 10.0 < self.deadline:
            kind = KILL if first or self.rng.random() < 2.0 / 3 else MANUAL
            first = False
            handle = self.log.begin(kind, now())
            try:
                self._failover(kind)
            except (OSError, ConnectionError, RuntimeError, resp.ProtocolError) as e:
                self.failures['%s: %s' % (kind, str(e)[:200])] += 1
            self.log.end(handle, now())
            time.sleep(self.opts.fault_interval * self.rng.uniform(0.5, 1.5))

    # -- choosing and injecting ----------------------------------------------------------------
    def _pairs(self):
        """[(master, replica, spans)]: live masters with slots and a replica whose link is up."""
        pairs = []
        for m in self.cluster.nodes:
            if not m.alive() or m.role() != 'master':
                continue
            spans = self._own_spans(m)
            if not spans:
                continue
            for r in self.cluster.nodes:
                if r is m or not r.alive():
                    continue
                info = r.replication()
                if cluster_mod.info_field(info, b'role') == b'slave' and \
                        cluster_mod.info_field(info, b'master_port') == b'%d' % m.port and \
                        cluster_mod.info_field(info, b'master_link_status') == b'up':
                    pairs.append((m, r, spans))
                    break
        return pairs

    @staticmethod
    def _own_spans(node):
        text = resp.decode(node.call([[b'CLUSTER', b'NODES']])[0])[1]
        for line in text.splitlines():
            f = line.split()
            if b'myself' in f[2].split(b','):
                spans = []
                for s in f[8:]:
                    if not s.startswith(b'['):
                        a, _, b = s.partition(b'-')
                        spans.append((int(a), int(b or a)))
                return spans
        return []

    def _failover(self, kind):
        pairs = self._pairs()
        if not pairs:
            raise RuntimeError('no master with a replica in sync')
        master, replica, spans = self.rng.choice(pairs)

        def mine(slot):
            return any(a <= slot <= b for a, b in spans)

        probes = [(g.probe, g.probe_value) for g in self.ks.groups if mine(g.slot)]
        if kind == KILL:
            cells = sorted((c for c in self.ks.all if mine(c.slot)), key=lambda c: c.name())
            for c in cells:
                c.lock.acquire()
            try:
                self._wait_in_sync(master, replica)
                t0 = now()
                master.kill()
            finally:
                for c in reversed(cells):
                    c.lock.release()
        else:
            t0 = now()
            ok = replica.call([[b'CLUSTER', b'FAILOVER']])[0]
            if ok != b'+OK\r\n':
                raise RuntimeError('CLUSTER FAILOVER: %r' % ok)
        rec = Record(kind, master.name, replica.name, t0)
        self.records.append(rec)
        self._follow(rec, replica, probes)
        if kind == KILL:
            master.start_again()
        self._wait_replicating(rec, master, replica)

    def _wait_in_sync(self, master, replica):
        """Until the replica has every byte of the master's replication stream."""
        target = int(cluster_mod.info_field(master.replication(), b'master_repl_offset'))
        limit = now() + self.opts.recovery_limit
        while int(cluster_mod.info_field(replica.replication(), b'slave_repl_offset') or
                  b'0') < target:
            if now() > limit:
                raise RuntimeError('replica %s never caught up' % replica.name)
            time.sleep(POLL_S)

    def _wait_replicating(self, rec, old, new):
        limit = now() + self.opts.recovery_limit
        while True:
            try:
                info = old.replication()
                if cluster_mod.info_field(info, b'master_port') == b'%d' % new.port and \
                        cluster_mod.info_field(info, b'master_link_status') == b'up':
                    rec.rejoined = now() - rec.t0
                    return
            except (OSError, ConnectionError, resp.ProtocolError):
                pass
            if now() > limit:
                raise RuntimeError('%s never replicated from %s' % (old.name, new.name))
            time.sleep(POLL_S)

    # -- following the failover ----------------------------------------------------------------
    def _follow(self, rec, successor, probes):
        limit = rec.t0 + self.opts.recovery_limit
        promoted = threading.Event()

        def watch():
            while now() < limit:
                if successor.role() == 'master':
                    rec.promoted = now() - rec.t0
                    promoted.set()
                    return
                time.sleep(POLL_S)

        threads = [threading.Thread(target=watch, daemon=True)]
        for name, port in self.world.targets:
            threads.append(threading.Thread(target=self._probe, daemon=True, args=(
                rec, name, port, probes, promoted, limit)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _probe(self, rec, target, port, probes, promoted, limit):
        conn = self.world.conn_for(port)
        pending = dict(probes)
        after_promotion = rec.kind == MANUAL
        try:
            while pending and now() < limit:
                for key, value in list(pending.items()):
                    sent_promoted = promoted.is_set()
                    try:
                        raw = conn.call([[b'GET', key]], PROBE_TIMEOUT_S)[0]
                    except socket.timeout:
                        rec.hangs[target] += 1
                        conn.close()
                        continue
                    except (OSError, ConnectionError, resp.ProtocolError):
                        rec.errors[target] += 1
                        conn.close()
                        continue
                    if raw[:1] == b'-':
                        rec.errors[target] += 1
                    elif raw != b'$%d\r\n%s\r\n' % (len(value), value):
                        rec.wrong.append('%s %s: %r' % (target, key.decode(), raw[:80]))
                    elif sent_promoted or not after_promotion:
                        del pending[key]
                        served = now()
                if pending:
                    time.sleep(POLL_S)
                else:
                    rec.served[target] = served - rec.t0
        finally:
            conn.close()


def median(vals):
    return statistics.median(vals) if vals else None


def summarise(injector, targets):
    """Print the failovers; returns (figures for --summary-json, failed: bool)."""
    recs = injector.records
    names = [t for t, _ in targets]
    print('failovers (seconds from the kill / CLUSTER FAILOVER; "+p" from the promotion):')
    for r in recs:
        served = '  '.join('%s %s' % (t, '%.2f (+p %.2f)' % (
            r.served[t], r.served[t] - r.promoted) if t in r.served and r.promoted is not None
            else 'NEVER') for t in names)
        print('  %-16s %s -> %s  promoted %s  served: %s  rejoined %s' % (
            r.kind, r.victim, r.successor,
            '%.2f' % r.promoted if r.promoted is not None else 'NEVER', served,
            '%.2f' % r.rejoined if r.rejoined is not None else '-'))
        if r.errors:
            print('    probe errors: ' + '  '.join('%s=%d' % kv for kv in sorted(r.errors.items())))
        for w in r.wrong[:5]:
            print('    WRONG probe reply: ' + w)
        if r.hangs:
            print('    probe reads without a reply in %.0f s: %s' % (
                PROBE_TIMEOUT_S, dict(r.hangs)))
    figures = {'failovers': [r.as_json() for r in recs]}
    for kind in (KILL, MANUAL):
        mine = [r for r in recs if r.kind == kind and r.recovered(names)]
        proxy_times = [r.served[t] for r in mine for t in names if t != 'direct']
        after = [r.served[t] - r.promoted for r in mine for t in names if t != 'direct']
        direct = [r.served['direct'] for r in mine if 'direct' in r.served]
        promoted = [r.promoted for r in mine]
        if not mine:
            continue
        key = kind.replace(' ', '_').replace('-', '')
        figures[key] = {
            'count': len(mine), 'promoted_max_s': max(promoted),
            'promoted_median_s': median(promoted),
            'proxy_recovery_max_s': max(proxy_times), 'proxy_recovery_median_s':
            median(proxy_times), 'proxy_after_promotion_max_s': max(after),
            'proxy_after_promotion_median_s': median(after),
            'direct_recovery_max_s': max(direct) if direct else None,
            'direct_recovery_median_s': median(direct)}
        print('  %s x%d: promotion max %.2f median %.2f s; served through the proxies max %.2f '
              'median %.2f s (after the promotion max %.2f median %.2f s); direct max %.2f '
              'median %.2f s' % (kind, len(mine), max(promoted), median(promoted),
                                 max(proxy_times), median(proxy_times), max(after),
                                 median(after), max(direct) if direct else -1,
                                 median(direct) if direct else -1))
    failed = False
    never = [r for r in recs if not r.recovered(names)]
    if never:
        print('FAILOVERS NOT RECOVERED within %.0f s: %d' % (injector.opts.recovery_limit,
                                                            len(never)))
        failed = True
    if any(r.wrong for r in recs) or any(r.hangs for r in recs):
        failed = True
    if not any(r.kind == KILL and r.recovered(names) for r in recs):
        print('no kill -9 failover completed in the run')
        failed = True
    return figures, failed
