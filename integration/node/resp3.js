'use strict';
// ioredis 6 in RESP3 mode, as applications get it: ioredis 6 sends `HELLO 3` on connect by
// default (protocol: 3) and maps the replies with `replyMapping` "legacy" (its default: RESP2
// shapes, maps as flat arrays, doubles as strings) or "resp3" (maps as objects, doubles as
// numbers). The same script runs against the target and against a reference Redis, with three
// clients each (legacy, resp3, protocol: 2): maps (HGETALL, CONFIG GET, XINFO), doubles (ZSCORE,
// ZMSCORE, ZINCRBY, ZRANGE WITHSCORES), sets, XREAD, Lua's RESP3 types, CLIENT INFO (resp=3),
// HELLO, every read twice (the second one an L1 hit through frontcache), a pipeline, MULTI, and
// pub/sub in RESP3 subscriber mode with commands and messages mixed on one connection. Any
// difference fails; prints "OK <summary>".
//
//   node resp3.js <host> <port> <ref-host> <ref-port>
const Redis = require('ioredis6');
const { check, fail, run } = require('./common');

const PREFIX = 'r3:';
const trace = process.env.RESP3_TRACE ? (...a) => console.error(...a) : () => {};

function connect(host, port, extra) {
  return new Redis({ host, port, maxRetriesPerRequest: 1, ...extra });
}

// A reply or an error, as comparable data.
async function settle(promise) {
  try {
    return await promise;
  } catch (err) {
    return { error: String(err && err.message ? err.message : err).split('\n')[0] };
  }
}

// CLIENT INFO without what differs between two servers (id, address, fd, ages, memory).
function clientInfo(line) {
  const keep = ['db', 'flags', 'sub', 'psub', 'multi', 'resp', 'cmd', 'name'];
  const out = {};
  for (const field of String(line).trim().split(' ')) {
    const eq = field.indexOf('=');
    const k = field.slice(0, eq);
    if (keep.includes(k)) out[k] = field.slice(eq + 1);
  }
  return out;
}

// HELLO's reply without the connection id (a flat array in legacy shapes, an object in resp3).
function hello(reply) {
  if (reply && reply.error) return reply;
  const pairs = Array.isArray(reply) ? reply : Object.entries(reply).flat();
  const out = {};
  for (let i = 0; i < pairs.length; i += 2) {
    if (String(pairs[i]) !== 'id') out[String(pairs[i])] = pairs[i + 1];
  }
  return out;
}

// A map reply (flat array or object) as its shape and its pairs in key order.
function sortedPairs(reply) {
  const flat = Array.isArray(reply) ? reply : Object.entries(reply).flat();
  const pairs = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], flat[i + 1]]);
  pairs.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  return { shape: Array.isArray(reply) ? 'array' : typeof reply, pairs };
}

async function fill(c) {
  const keys = await c.keys(`${PREFIX}*`);
  if (keys.length) await c.del(...keys);
  await c.set(`${PREFIX}str`, 'hello');
  await c.set(`${PREFIX}n`, '10');
  await c.hset(`${PREFIX}h`, 'f1', 'v1', 'f2', 'v2', 'num', '3');
  await c.zadd(`${PREFIX}z`, 1.5, 'a', 2, 'b', -0.25, 'c', 1e20, 'd', '+inf', 'top');
  await c.zadd(`${PREFIX}z2`, 3, 'a', 4, 'x');
  await c.sadd(`${PREFIX}s`, 'x', 'y', 'z');
  await c.rpush(`${PREFIX}l`, 'a', 'b', 'c');
  await c.xadd(`${PREFIX}x`, '1-1', 'f', 'v', 'g', 'w');
  await c.xadd(`${PREFIX}x`, '2-1', 'f', 'v2');
  await c.geoadd(`${PREFIX}g`, 13.361389, 38.115556, 'Palermo', 15.087269, 37.502669, 'Catania');
}

// Read-only commands whose RESP3 replies differ from RESP2's: each is run twice (through the
// proxy the second one is answered from L1, from the cached bytes of the client's protocol).
function reads(c) {
  const k = (s) => `${PREFIX}${s}`;
  return {
    get: () => c.get(k('str')),
    hgetall: () => c.hgetall(k('h')),
    hmget: () => c.hmget(k('h'), 'f1', 'nope'),
    hgetallMissing: () => c.hgetall(k('nope')),
    zscore: () => c.zscore(k('z'), 'a'),
    zscoreBig: () => c.zscore(k('z'), 'd'),
    zscoreInf: () => c.zscore(k('z'), 'top'),
    zscoreMissing: () => c.zscore(k('z'), 'nope'),
    zmscore: () => c.zmscore(k('z'), 'a', 'nope', 'c'),
    zrangeWithScores: () => c.zrange(k('z'), 0, -1, 'WITHSCORES'),
    zrangebyscore: () => c.zrangebyscore(k('z'), '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, 3),
    zrevrangeWithScores: () => c.zrevrange(k('z'), 0, 1, 'WITHSCORES'),
    zunionWithScores: () => c.zunion(2, k('z'), k('z2'), 'WITHSCORES'),
    zrank: () => c.zrank(k('z'), 'b'),
    smembers: async () => (await c.smembers(k('s'))).sort(),
    sismember: () => c.sismember(k('s'), 'x'),
    smismember: () => c.smismember(k('s'), 'x', 'nope'),
    lrange: () => c.lrange(k('l'), 0, -1),
    xrange: () => c.xrange(k('x'), '-', '+'),
    xread: () => c.xread('COUNT', 5, 'STREAMS', k('x'), '0'),
    xreadNone: () => c.xread('STREAMS', k('x'), '$'),
    xinfo: () => c.xinfo('STREAM', k('x')),
    geopos: () => c.geopos(k('g'), 'Palermo', 'nope'),
    geodist: () => c.geodist(k('g'), 'Palermo', 'Catania', 'km'),
    geosearch: () => c.geosearch(k('g'), 'FROMLONLAT', 15, 37, 'BYRADIUS', 200, 'km', 'ASC', 'WITHDIST'),
    exists: () => c.exists(k('str'), k('nope')),
    type: () => c.type(k('z')),
    strlen: () => c.strlen(k('str')),
    // What frontcache allows by default; Redis orders the pairs by a per-process hash seed.
    configGet: async () => sortedPairs(await c.config('GET', 'save', 'appendonly')),
    evalDouble: () => c.eval('redis.setresp(3); return redis.call("ZSCORE", KEYS[1], "a")', 1, k('z')),
    evalMap: () => c.eval('redis.setresp(3); return redis.call("HGETALL", KEYS[1])', 1, k('h')),
    evalTypes: () => c.eval("return {{double=3.5}, {map={a=1}}, {set={b=true}}, true, false, {big_number='123456789012345678901234567890'}}", 0),
  };
}

async function writes(c) {
  const k = (s) => `${PREFIX}${s}`;
  const out = {};
  out.zincrby = await settle(c.zincrby(k('z'), 0.5, 'a'));
  out.zaddIncr = await settle(c.zadd(k('z'), 'INCR', 2.25, 'b'));
  out.zpopmin = await settle(c.zpopmin(k('z2'), 1));
  out.incrbyfloat = await settle(c.incrbyfloat(k('n'), 1.5));
  out.hincrbyfloat = await settle(c.hincrbyfloat(k('h'), 'num', 0.25));
  out.afterWrites = await settle(c.zrange(k('z'), 0, -1, 'WITHSCORES'));
  out.hgetallAfter = await settle(c.hgetall(k('h')));
  return out;
}

async function pipelineAndMulti(c) {
  const k = (s) => `${PREFIX}${s}`;
  const out = {};
  out.pipeline = await settle(c.pipeline()
    .hgetall(k('h')).zscore(k('z'), 'a').zrange(k('z'), 0, 1, 'WITHSCORES').smembers(k('nope'))
    .xread('STREAMS', k('x'), '1-1').hset(k('h'), 'p', '1').hgetall(k('h')).exec());
  out.multi = await settle(c.multi()
    .hset(k('hm'), 'a', '1').hgetall(k('hm')).zincrby(k('zm'), 1.5, 'm').zscore(k('zm'), 'm')
    .zrange(k('zm'), 0, -1, 'WITHSCORES').exec());
  out.multiError = await settle(c.multi().set(k('me'), 'x').hgetall(k('me')).exec());
  return out;
}

// Pub/sub on a RESP3 connection: messages are push frames, and other commands keep working on
// the subscribed connection. Each message is published before a command on the subscriber, so
// with Redis it arrives before that command's reply: the event log has one order.
async function pubsub(host, port, extra) {
  const k = (s) => `${PREFIX}${s}`;
  const sub = connect(host, port, extra);
  const pub = connect(host, port, extra);
  const events = [];
  sub.on('message', (ch, msg) => events.push(['message', ch, msg]));
  sub.on('pmessage', (p, ch, msg) => events.push(['pmessage', p, ch, msg]));
  const published = [];
  const step = async (name, promise) => {
    trace('pubsub', name);
    // PUBLISH's reply comes on the other connection: in its own list, not in the ordered log.
    const reply = await settle(promise);
    if (name === 'publish') published.push(reply);
    else events.push([name, reply]);
  };
  await step('subscribe', sub.subscribe(k('c1'), k('c2')));
  await step('get', sub.get(k('str')));
  await step('publish', pub.publish(k('c1'), 'm1'));
  await step('hgetall', sub.hgetall(k('h')));
  await step('psubscribe', sub.psubscribe(k('p*')));
  await step('publish', pub.publish(k('p1'), 'pm1'));
  await step('zscore', sub.zscore(k('z'), 'a'));
  await step('publish', pub.publish(k('c2'), 'm2'));
  await step('set', sub.set(k('fromsub'), 'v'));
  await step('clientInfo', sub.client('INFO').then(clientInfo));
  await step('ping', sub.ping());
  await step('unsubscribe', sub.unsubscribe(k('c1')));
  await step('publish', pub.publish(k('c1'), 'not delivered'));
  await step('publish', pub.publish(k('c2'), 'm3'));
  await step('pipeline', sub.pipeline().get(k('fromsub')).zscore(k('z'), 'b').exec());
  await step('punsubscribe', sub.punsubscribe(k('p*')));
  await step('unsubscribe', sub.unsubscribe(k('c2')));
  await step('getAfter', sub.get(k('fromsub')));
  sub.disconnect();
  await pub.quit();
  return { events, published };
}

async function scenario(host, port) {
  const modes = {
    legacy: {},                      // ioredis 6's defaults: HELLO 3, RESP2 shapes
    resp3: { replyMapping: 'resp3' }, // objects and numbers
    resp2: { protocol: 2 },
  };
  const setup = connect(host, port, { protocol: 2 });
  const out = {};
  for (const [mode, extra] of Object.entries(modes)) {
    await fill(setup);
    const c = connect(host, port, extra);
    const m = {};
    m.clientInfo = clientInfo(await c.client('INFO'));
    m.hello = hello(await settle(c.hello()));
    m.reads = {};
    for (const [name, read] of Object.entries(reads(c))) {
      trace(mode, name);
      m.reads[name] = [await settle(read()), await settle(read())];
    }
    Object.assign(m, await pipelineAndMulti(c));
    out[mode] = m;
    await c.quit();
  }
  // Writes once per mode, in order, on fresh data each time.
  for (const [mode, extra] of Object.entries(modes)) {
    await fill(setup);
    const c = connect(host, port, extra);
    out[mode].writes = await writes(c);
    out[mode].pubsub = mode === 'resp2' ? 'n/a' : await pubsub(host, port, extra);
    await c.quit();
  }
  await setup.quit();
  return out;
}

// JSON with Buffers as strings and non-finite numbers spelled out, for comparison and printing.
function canonical(value) {
  return JSON.stringify(value, (key, v) => {
    if (v instanceof Error) return { error: v.message.split('\n')[0] };
    if (typeof v === 'number' && !Number.isFinite(v)) return `number:${v}`;
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return `buffer:${Buffer.from(v.data).toString()}`;
    return v;
  });
}

function firstDifference(a, b, path = '') {
  if (canonical(a) === canonical(b)) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference(a[key], b[key], `${path}.${key}`);
      if (d) return d;
    }
  }
  return `${path || '(root)'}: reference ${canonical(a)}, target ${canonical(b)}`;
}

run(async () => {
  const [host, port, refHost, refPort] = process.argv.slice(2);
  if (!host || !port || !refHost || !refPort) {
    console.error(`usage: node ${process.argv[1]} <host> <port> <ref-host> <ref-port>`);
    process.exit(64);
  }
  const reference = await scenario(refHost, Number(refPort));
  const target = await scenario(host, Number(port));
  // The reference must really have been RESP3 (and the script meaningful).
  check(reference.legacy.clientInfo.resp === '3', `reference legacy client not RESP3: ${canonical(reference.legacy.clientInfo)}`);
  check(reference.resp3.clientInfo.resp === '3', 'reference resp3 client not RESP3');
  check(reference.resp2.clientInfo.resp === '2', 'reference protocol 2 client not RESP2');
  check(typeof reference.resp3.reads.zscore[0] === 'number', `resp3 ZSCORE is not a number: ${canonical(reference.resp3.reads.zscore)}`);
  check(!Array.isArray(reference.resp3.reads.hgetall[0]), 'resp3 HGETALL is not an object');
  check(reference.legacy.pubsub.events.filter((e) => e[0] === 'message').length === 3, `messages missing in the reference: ${canonical(reference.legacy.pubsub)}`);
  if (process.env.RESP3_DUMP) console.error(JSON.stringify(JSON.parse(canonical(reference)), null, 1));
  const difference = firstDifference(reference, target);
  if (difference) fail(`target differs from Redis at ${difference}`);
  const count = (v) => (v && typeof v === 'object' ? Object.values(v).reduce((n, x) => n + count(x), 0) : 1);
  return { compared: count(reference), resp: target.legacy.clientInfo.resp };
});
