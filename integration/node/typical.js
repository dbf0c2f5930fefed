'use strict';
// Typical ioredis usage with default options: pipelines, multi(), pub/sub, scanStream, blocking
// pops, Lua (eval + defineCommand), many connections. Prints "OK <json of every result>"; the
// test runs it through frontcache and directly against Redis and compares the JSON.
const { connect, check, run, parseArgs } = require('./common');

run(async () => {
  const { host, port } = parseArgs();
  const r = connect(host, port);
  const out = {};
  const keys = await r.keys('typ:*');
  if (keys.length) await r.del(...keys);

  out.pipeline = await r.pipeline().set('typ:a', '1').incr('typ:a').get('typ:a').hset('typ:h', 'f', 'v')
    .hgetall('typ:h').lpush('typ:l', 'x').exec();
  out.multi = await r.multi().set('typ:m', 'v').get('typ:m').incr('typ:m').exec().catch((e) => String(e));
  out.multiOk = await r.multi().set('typ:m2', '1').incr('typ:m2').exec();
  // WATCH abort from another connection.
  const other = connect(host, port);
  await r.watch('typ:w');
  await other.set('typ:w', 'changed');
  out.watchAbort = await r.multi().set('typ:w', 'mine').exec();

  const sub = connect(host, port);
  const got = [];
  sub.on('message', (ch, msg) => got.push([ch, msg]));
  sub.on('pmessage', (p, ch, msg) => got.push([p, ch, msg]));
  out.subscribe = await sub.subscribe('typ:c1', 'typ:c2');
  out.psubscribe = await sub.psubscribe('typ:p*');
  out.publish = [await r.publish('typ:c1', 'hello'), await r.publish('typ:p1', 'pat')];
  await new Promise((res) => setTimeout(res, 200));
  out.messages = got;
  out.unsubscribe = [await sub.unsubscribe('typ:c1', 'typ:c2'), await sub.punsubscribe('typ:p*')];
  sub.disconnect();

  for (let i = 0; i < 300; ++i) await r.set(`typ:scan:${i}`, i);
  const seen = new Set();
  await new Promise((res, rej) => {
    const s = r.scanStream({ match: 'typ:scan:*', count: 50 });
    s.on('data', (ks) => ks.forEach((k) => seen.add(k)));
    s.on('end', res);
    s.on('error', rej);
  });
  out.scanned = seen.size;

  const blocker = connect(host, port);
  const pending = blocker.blpop('typ:q', 5);
  await new Promise((res) => setTimeout(res, 100));
  const t0 = Date.now();
  out.pingWhileBlocked = await r.ping();
  check(Date.now() - t0 < 100, 'PING delayed by a blocked client');
  await r.rpush('typ:q', 'job');
  out.blpop = await pending;
  out.brpopTimeout = await blocker.brpop('typ:empty', 0.1);
  out.bzpopmin = await (async () => { await r.zadd('typ:z', 1, 'a'); return blocker.bzpopmin('typ:z', 1); })();
  await blocker.quit();

  out.eval = await r.eval("redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])", 1, 'typ:lua', 'x');
  r.defineCommand('typIncrBy', { numberOfKeys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" });
  out.defined = [await r.typIncrBy('typ:n', 5), await r.typIncrBy('typ:n', 5)];
  out.evalError = await r.eval("return redis.call('NOSUCH')", 0).catch((e) => e.message.split('\n')[0].replace(/script: \w+/, 'script'));

  const many = Array.from({ length: 50 }, () => connect(host, port));
  out.many = (await Promise.all(many.map((c, i) => c.incr('typ:count').then(() => c.get(`typ:scan:${i}`))))).length;
  out.count = await r.get('typ:count');
  await Promise.all(many.map((c) => c.quit()));
  await other.quit();
  await r.quit();
  return out;
});
