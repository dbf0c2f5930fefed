'use strict';
// A RESP3 client-side cache reading through the target: node-redis (npm `redis`) with
// `RESP: 3` and `clientSideCache` (HELLO 3, CLIENT TRACKING on in default mode, a local cache
// dropped on `invalidate` pushes). Each writer (another frontcache instance, Redis directly, ...)
// writes keys the cache holds; after each write is acknowledged the cache must be told (its
// `invalidate` event is awaited, never a fixed sleep) and the next read must return the new
// value. Stale data or a missing invalidation fails. Prints "OK <summary>" with the
// invalidation latency per writer: write acknowledged -> local entry invalidated (0 when the
// invalidation came first), and write sent -> invalidated, p50/p99 in microseconds.
// Informational only: nothing here depends on the machine's speed.
//
//   node csc.js <host> <port> <name>=<host>:<port> [<name>=<host>:<port> ...]
//   CSC_ROUNDS (300): SET/GET rounds per writer
const { createClient, BasicClientSideCache } = require('redis');
const { check, fail, run } = require('./common');

const INVALIDATION_DEADLINE_MS = 10000; // turns a missing invalidation into a failure, not a hang

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

async function connect(host, port, options = {}) {
  const c = createClient({ socket: { host, port, reconnectStrategy: false }, ...options });
  c.on('error', (err) => fail(`${host}:${port}: ${err && err.message}`));
  await c.connect();
  return c;
}

// Resolves with the time of the next invalidation of `key` (or of everything).
function invalidationOf(cache, key) {
  let done;
  const promise = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cache.off('invalidate', listener);
      reject(new Error(`no invalidation of ${key} within ${INVALIDATION_DEADLINE_MS} ms of the write`));
    }, INVALIDATION_DEADLINE_MS);
    function listener(k) {
      if (k !== null && String(k) !== key) return;
      const at = performance.now();
      clearTimeout(timer);
      cache.off('invalidate', listener);
      resolve(at);
    }
    done = listener;
    cache.on('invalidate', listener);
  });
  promise.listener = done;
  return promise;
}

// Reads `read()` twice: the first fills the local cache, the second must be a local hit.
async function readCached(cache, read, what) {
  const first = await read();
  const hits = cache.stats().hitCount;
  const second = await read();
  check(cache.stats().hitCount === hits + 1, `${what}: second read was not a local cache hit`);
  check(JSON.stringify(first) === JSON.stringify(second), `${what}: ${JSON.stringify(first)} then ${JSON.stringify(second)}`);
  return first;
}

// One write by `writer` to a key the cache holds: the invalidation must come, and the next
// read must see the write. Returns [ack -> invalidated, sent -> invalidated] in microseconds.
async function writeAndCheck(cache, key, read, write, want, what) {
  const seen = invalidationOf(cache, key);
  const sent = performance.now();
  await write();
  const acked = performance.now();
  let invalidated;
  try {
    invalidated = await seen;
  } catch (err) {
    fail(`${what}: ${err.message} (stale read now: ${JSON.stringify(await read())})`);
  }
  const got = await read();
  check(JSON.stringify(got) === JSON.stringify(want),
    `${what}: stale read after the invalidation: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  return [Math.max(0, invalidated - acked) * 1000, (invalidated - sent) * 1000];
}

// Waits until every write `writer` made so far has reached the target's tracking: the client
// reads a barrier key, the writer writes it, and its invalidation comes after every earlier
// one (Redis reports writes in order). Reports of writes made before a read can reach the
// client after the read through a proxy (an extra invalidation, harmless); the measured
// rounds below must not see those.
async function barrier(cache, csc, writer, name) {
  const key = `csc:${name}:barrier`;
  await csc.get(key);
  const seen = invalidationOf(cache, key);
  await writer.incr(key);
  await seen.catch((err) => fail(`barrier: ${err.message}`));
}

async function exercise(cache, csc, name, writer, rounds) {
  const k = (s) => `csc:${name}:${s}`;
  // Every key is written once before it is read, then the writes are let through.
  const setup = [];
  for (let i = 0; i < rounds; ++i) setup.push(writer.set(k(i), `old${i}`));
  setup.push(writer.hSet(k('h'), { f: '1', g: '2' }));
  setup.push(writer.zAdd(k('z'), [{ score: 1.5, value: 'a' }, { score: 2, value: 'b' }]));
  setup.push(writer.set(k('m1'), 'x'), writer.set(k('m2'), 'y'), writer.set(k('f'), 'before'));
  await Promise.all(setup);
  await barrier(cache, csc, writer, name);

  const ackToInvalidated = [];
  const sentToInvalidated = [];
  let invalidatedBeforeAck = 0;
  for (let i = 0; i < rounds; ++i) {
    const key = k(i);
    const read = () => csc.get(key);
    check((await readCached(cache, read, key)) === `old${i}`, `${key}: first read`);
    const [fromAck, fromSend] = await writeAndCheck(cache, key, read, () => writer.set(key, `new${i}`), `new${i}`, `${name} SET ${key}`);
    if (fromAck === 0) ++invalidatedBeforeAck;
    ackToInvalidated.push(fromAck);
    sentToInvalidated.push(fromSend);
  }
  // Other families, each a write the cached reply depends on.
  await readCached(cache, () => csc.hGetAll(k('h')), 'HGETALL');
  await writeAndCheck(cache, k('h'), () => csc.hGetAll(k('h')), () => writer.hSet(k('h'), 'f', 'changed'), { f: 'changed', g: '2' }, `${name} HSET`);
  await readCached(cache, () => csc.zRangeWithScores(k('z'), 0, -1), 'ZRANGE WITHSCORES');
  await writeAndCheck(cache, k('z'), () => csc.zRangeWithScores(k('z'), 0, -1), () => writer.zIncrBy(k('z'), 1, 'a'),
    [{ value: 'b', score: 2 }, { value: 'a', score: 2.5 }], `${name} ZINCRBY`);
  await readCached(cache, () => csc.mGet([k('m1'), k('m2')]), 'MGET');
  await writeAndCheck(cache, k('m2'), () => csc.mGet([k('m1'), k('m2')]), () => writer.del(k('m2')), ['x', null], `${name} DEL`);
  // FLUSHALL: a null invalidation, everything dropped.
  await readCached(cache, () => csc.get(k('f')), 'GET before FLUSHALL');
  await writeAndCheck(cache, '(everything)', () => csc.get(k('f')), () => writer.flushAll(), null, `${name} FLUSHALL`);
  check(cache.size() <= 1, `FLUSHALL left ${cache.size()} entries`);

  ackToInvalidated.sort((a, b) => a - b);
  sentToInvalidated.sort((a, b) => a - b);
  const us = (v) => Math.round(v);
  return {
    rounds,
    ack_to_invalidated_us: { p50: us(percentile(ackToInvalidated, 50)), p99: us(percentile(ackToInvalidated, 99)), max: us(ackToInvalidated[ackToInvalidated.length - 1]) },
    sent_to_invalidated_us: { p50: us(percentile(sentToInvalidated, 50)), p99: us(percentile(sentToInvalidated, 99)) },
    invalidated_before_ack: invalidatedBeforeAck,
  };
}

run(async () => {
  const [host, port, ...writerArgs] = process.argv.slice(2);
  if (!host || !port || writerArgs.length === 0) {
    console.error(`usage: node ${process.argv[1]} <host> <port> <name>=<host>:<port> ...`);
    process.exit(64);
  }
  const rounds = Number(process.env.CSC_ROUNDS || 300);
  const cache = new BasicClientSideCache({ ttl: 0, maxEntries: 0 });
  const csc = await connect(host, Number(port), { RESP: 3, clientSideCache: cache });
  // What the target says about this connection: RESP3 and tracking on.
  const info = String(await csc.sendCommand(['CLIENT', 'INFO']));
  check(/ resp=3\b/.test(info), `not RESP3: ${info}`);
  check(/ flags=\S*t/.test(info), `tracking is not on: ${info}`);
  const summary = {};
  for (const spec of writerArgs) {
    const [name, address] = spec.split('=');
    const colon = address.lastIndexOf(':');
    const writer = await connect(address.slice(0, colon), Number(address.slice(colon + 1)));
    summary[name] = await exercise(cache, csc, name, writer, rounds);
    await writer.close();
    const s = summary[name];
    console.error(`[latency] ${name}: write acknowledged -> client-side cache invalidated: p50 ${s.ack_to_invalidated_us.p50} us, ` +
      `p99 ${s.ack_to_invalidated_us.p99} us (write sent -> invalidated: p50 ${s.sent_to_invalidated_us.p50} us, ` +
      `p99 ${s.sent_to_invalidated_us.p99} us; invalidated before the ack: ${s.invalidated_before_ack} of ${rounds})`);
  }
  summary.cache = cache.stats();
  await csc.close();
  return summary;
});
