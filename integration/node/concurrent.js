'use strict';
// 200 ioredis connections at once, each doing round trips on its own keys and on one shared
// counter; every reply must be right and the counter exact.
const { parseArgs, connect, check, run } = require('./common');

const CONNECTIONS = Number(process.env.CONNECTIONS || 200);
const ROUNDS = 50;

run(async () => {
  const { host, port } = parseArgs();
  const clients = Array.from({ length: CONNECTIONS }, () => connect(host, port));
  await Promise.all(clients.map((c) => c.ping()));
  await Promise.all(clients.map(async (c, id) => {
    for (let i = 0; i < ROUNDS; i++) {
      const value = `c${id}-r${i}`;
      check((await c.set(`own:${id}`, value)) === 'OK', `client ${id} SET`);
      const got = await c.get(`own:${id}`);
      check(got === value, `client ${id} round ${i}: GET returned ${got}, wanted ${value}`);
      await c.incr('shared');
    }
  }));
  const total = Number(await clients[0].get('shared'));
  check(total === CONNECTIONS * ROUNDS, `shared counter ${total}, wanted ${CONNECTIONS * ROUNDS}`);
  await Promise.all(clients.map((c) => c.quit()));
  return { connections: CONNECTIONS, total };
});
