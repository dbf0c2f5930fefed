#!/usr/bin/env python3
"""Unit tests of the tester's own parts that need no server: the reply framer fed split at
every offset, encode/decode round trips, transcript argument splitting, the client-state
model's reply counts, program JSON round trips, the cluster key slots and redirect rules.
(`--self-check` tests the rest against Redis.)"""

import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import generator  # noqa: E402
import model  # noqa: E402
import multi  # noqa: E402
from program import Program, split_args  # noqa: E402
import resp  # noqa: E402

REPLIES = [
    b'+OK\r\n', b'-ERR x\r\n', b':-42\r\n', b'$-1\r\n', b'$0\r\n\r\n', b'$5\r\na\r\nbc\r\n',
    b'*-1\r\n', b'*0\r\n', b'*2\r\n$1\r\na\r\n*1\r\n:1\r\n', b'_\r\n', b',1.5\r\n', b'#t\r\n',
    b'(123456789012345678901\r\n', b'=8\r\ntxt:abcd\r\n', b'!3\r\nerr\r\n',
    b'%1\r\n+k\r\n*1\r\n$1\r\nv\r\n', b'~2\r\n:1\r\n:2\r\n', b'>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n',
    b'|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n',
]


class FramerTest(unittest.TestCase):
    def test_every_split_offset(self):
        blob = b''.join(REPLIES)
        for cut in range(len(blob) + 1):
            f = resp.ReplyFramer()
            out = []
            for part in (blob[:cut], blob[cut:]):
                f.feed(part)
                while (r := f.pop()) is not None:
                    out.append(r)
            self.assertEqual(out, REPLIES, 'split at %d' % cut)

    def test_byte_at_a_time(self):
        f = resp.ReplyFramer()
        out = []
        for b in b''.join(REPLIES * 50):
            f.feed(bytes([b]))
            while (r := f.pop()) is not None:
                out.append(r)
        self.assertEqual(out, REPLIES * 50)

    def test_round_trip(self):
        for r in REPLIES:
            self.assertEqual(resp.encode(resp.decode(r)), r)

    def test_not_resp(self):
        f = resp.ReplyFramer()
        f.feed(b'hello\r\n')
        with self.assertRaises(resp.ProtocolError):
            f.pop()


class InlineTest(unittest.TestCase):
    def test_quoted_round_trip(self):
        rng = random.Random(1)
        for _ in range(500):
            args = [bytes(rng.randrange(256) for _ in range(rng.randint(0, 8)))
                    for _ in range(rng.randint(1, 4))]
            line = resp.encode_inline(args, quoted=True).decode('latin-1').rstrip('\r\n')
            self.assertEqual(split_args(line), args)

    def test_bare(self):
        self.assertTrue(resp.inline_bare_ok([b'GET', b'k']))
        self.assertFalse(resp.inline_bare_ok([b'GET', b'']))
        self.assertFalse(resp.inline_bare_ok([b'GET', b'a b']))
        self.assertFalse(resp.inline_bare_ok([b'*1']))


class ModelTest(unittest.TestCase):
    def counts(self, commands):
        m = model.ClientModel(1)
        out = []
        for args, reply in commands:
            out.append(m.expected(0, args))
            m.apply(0, args, reply)
        return out

    def test_client_reply_skip_silences_one(self):
        self.assertEqual(self.counts([
            ([b'CLIENT', b'REPLY', b'SKIP'], []),
            ([b'GET', b'k'], []),
            ([b'GET', b'k'], [b'$-1\r\n']),
        ]), [0, 0, 1])

    def test_empty_request_consumes_skip(self):
        self.assertEqual(self.counts([
            ([b'CLIENT', b'REPLY', b'SKIP'], []), ([], []), ([b'PING'], [b'+PONG\r\n']),
        ]), [0, 0, 1])

    def test_subscribe_counts(self):
        sub = [b'*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n',
               b'*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n']
        self.assertEqual(self.counts([
            ([b'SUBSCRIBE', b'a', b'b'], sub),
            ([b'UNSUBSCRIBE'], [b'x', b'y']),
        ]), [2, 2])

    def test_queued_select_applies_at_exec_only(self):
        m = model.ClientModel(1)
        m.apply(0, [b'MULTI'], [b'+OK\r\n'])
        m.apply(0, [b'SELECT', b'2'], [b'+QUEUED\r\n'])
        self.assertEqual(m.states[0].db, 0)
        m.apply(0, [b'EXEC'], [b'*1\r\n+OK\r\n'])
        self.assertEqual(m.states[0].db, 2)

    def test_monitoring_resp3_subscriber_cannot_publish_to_itself(self):
        m = model.ClientModel(1)
        m.apply(0, [b'HELLO', b'3'], [b'%1\r\n+proto\r\n:3\r\n'])
        m.apply(0, [b'SUBSCRIBE', b'ch'], [b'>3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n'])
        self.assertEqual(m.expected(0, [b'PUBLISH', b'ch', b'x']), 2)  # message + count
        m.apply(0, [b'MONITOR'], [b'+OK\r\n'])
        self.assertEqual(m.expected(0, [b'PUBLISH', b'ch', b'x']), 1)  # refused

    def test_second_monitor_is_silent(self):
        self.assertEqual(self.counts([([b'MONITOR'], [b'+OK\r\n']), ([b'MONITOR'], [])]),
                         [1, 0])


class ProgramTest(unittest.TestCase):
    def test_json_round_trip(self):
        p = generator.generate(5, 2000)
        path = os.path.join(os.environ.get('TMPDIR', '/tmp'), 'difftest-tool-test.json')
        p.save(path)
        q = Program.load(path)
        os.remove(path)
        self.assertEqual([[c.to_json() for c in s.cmds] for s in p.steps],
                         [[c.to_json() for c in s.cmds] for s in q.steps])

    def test_seeded(self):
        a = generator.generate(9, 3000)
        b = generator.generate(9, 3000)
        self.assertEqual([[c.to_json() for c in s.cmds] for s in a.steps],
                         [[c.to_json() for c in s.cmds] for s in b.steps])


class ClusterTest(unittest.TestCase):
    def test_key_slot_as_redis_computes_it(self):
        # CLUSTER KEYSLOT of redis-server 7.0.15.
        known = {b'foo': 12182, b'somekey': 11058, b'foo{hash_tag}': 2515, b'user1000': 3443,
                 b'{user1000}.following': 3443, b'{}x': 10595, b'{}': 15257, b'a{b}c{d}': 3300,
                 b'{{a}}': 10276, b'a{}{b}': 15033, b'': 0}
        for key, slot in known.items():
            self.assertEqual(cluster.key_slot(key), slot, key)
        self.assertEqual(cluster.crc16(b'123456789'), 0x31c3)  # the XMODEM check value

    def test_command_key(self):
        self.assertEqual(cluster.command_key([b'GET', b'k']), b'k')
        self.assertEqual(cluster.command_key([b'MULTI']), None)
        self.assertEqual(cluster.command_key([b'EVAL', b's', b'0', b'k']), None)
        self.assertEqual(cluster.command_key([b'EVAL', b's', b'1', b'a', b'k']), b'a')

    def test_ranges_cover_every_slot_once(self):
        r = cluster.ranges(3)
        self.assertEqual(r, [(0, 5460), (5461, 10921), (10922, 16383)])  # as cluster.cpp splits

    def test_tags_spread_over_every_master(self):
        tags = multi.cluster_tags('mc7:')
        slots = [cluster.key_slot(t.encode()) for t in tags]
        self.assertEqual(len(set(slots)), 6)
        for first, last in cluster.ranges(3):
            self.assertEqual(sum(first <= s <= last for s in slots), 2)
        ks = multi.Keyspace('mc7:', tags)
        for g in ks.groups:  # a group is one slot, its anchor and probe too
            self.assertEqual({c.slot for c in g.all} | {cluster.key_slot(g.probe),
                                                        cluster.key_slot(g.all[0].anchor)},
                             {g.slot})

    def test_redirect_followed_only_when_nothing_ran(self):
        moved = b'-MOVED 3999 127.0.0.1:6381\r\n'
        follow = cluster.ClusterConn._redirect_of
        self.assertEqual(follow([[b'GET', b'k']], [moved]), (b'MOVED', 3999, 6381))
        self.assertEqual(follow([[b'SET', b'k', b'v'], [b'GET', b'k']], [moved, moved]),
                         (b'MOVED', 3999, 6381))
        self.assertIsNone(follow([[b'SET', b'k', b'v'], [b'GET', b'k']], [b'+OK\r\n', moved]))
        multi_ = [[b'MULTI'], [b'SET', b'k', b'v'], [b'EXEC'], [b'GET', b'k']]
        self.assertEqual(follow(multi_, [b'+OK\r\n', moved, b'-EXECABORT x\r\n', moved]),
                         (b'MOVED', 3999, 6381))
        self.assertEqual(follow(multi_, [b'+OK\r\n', b'+QUEUED\r\n', moved, moved]),
                         (b'MOVED', 3999, 6381))
        self.assertIsNone(follow(multi_, [b'+OK\r\n', b'+QUEUED\r\n', b'*1\r\n+OK\r\n',
                                          moved]))
        self.assertEqual(follow([[b'GET', b'k']], [b'-ASK 5 127.0.0.1:7000\r\n']),
                         (b'ASK', 5, 7000))


if __name__ == '__main__':
    unittest.main()
