'use strict';
// A pipeline of 10,000 mixed SET/GET/INCR on overlapping keys through the target must return
// exactly what Redis returns for the same pipeline (run against the reference Redis too), in
// order. A model of the three commands checks the reference itself.
const { parseArgs, connect, check, run } = require('./common');

function commands(n, seed) {
  let state = seed >>> 0;
  const rand = (k) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state >>> 8) % k;
  };
  const out = [];
  for (let i = 0; i < n; i++) {
    const key = `pk:${rand(25)}`;
    const r = rand(10);
    if (r < 3) out.push(['set', key, rand(3) === 0 ? `text${rand(100)}` : String(rand(1000))]);
    else if (r < 7) out.push(['get', key]);
    else out.push(['incr', key]);
  }
  return out;
}

function model(cmds) {
  const db = new Map();
  return cmds.map(([op, key, value]) => {
    if (op === 'set') { db.set(key, value); return [null, 'OK']; }
    if (op === 'get') return [null, db.has(key) ? db.get(key) : null];
    const cur = db.has(key) ? db.get(key) : '0';
    if (!/^-?\d+$/.test(cur)) return ['ERR value is not an integer or out of range', null];
    const next = String(BigInt(cur) + 1n);
    db.set(key, next);
    return [null, Number(next)];
  });
}

async function execute(host, port, cmds) {
  const redis = connect(host, port);
  const results = await redis.pipeline(cmds).exec();
  await redis.quit();
  return results.map(([err, value]) => [err ? err.message : null, value]);
}

run(async () => {
  const { host, port, refHost, refPort } = parseArgs();
  const cmds = commands(10000, 12345);
  const want = model(cmds);
  const got = await execute(host, port, cmds);
  const sources = [['model', want]];
  if (refPort) sources.push(['reference redis', await execute(refHost, refPort, cmds)]);
  let errors = 0;
  for (const [name, expected] of sources) {
    check(got.length === expected.length, `${got.length} replies, ${name} has ${expected.length}`);
    for (let i = 0; i < expected.length; i++) {
      const a = JSON.stringify(got[i]);
      const b = JSON.stringify(expected[i]);
      check(a === b, `reply ${i} to ${JSON.stringify(cmds[i])}: got ${a}, ${name} says ${b}`);
    }
  }
  for (const [err] of got) errors += err ? 1 : 0;
  check(errors > 0, 'the pipeline should contain error replies');
  return { commands: cmds.length, errors, compared: sources.map(([n]) => n) };
});
