'use strict';
// ioredis with its `tls` option (CA, client certificate): SET/GET, a pipeline, a 2 MB value
// spanning many TLS records, a transaction and a pub/sub message, on a TLS port.
//   node tls.js <host> <port> <ca.pem> <client-cert.pem> <client-key.pem>
const fs = require('fs');
const crypto = require('crypto');
const { connect, check, run } = require('./common');

run(async () => {
  const [host, portText, ca, cert, key] = process.argv.slice(2);
  if (!key) {
    console.error(`usage: node ${process.argv[1]} <host> <port> <ca> <cert> <key>`);
    process.exit(64);
  }
  const tls = { ca: fs.readFileSync(ca), cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
  const port = Number(portText);
  const redis = connect(host, port, { tls });
  await redis.ping();

  const prefix = `tls:${port}:`;
  check((await redis.set(`${prefix}greeting`, 'hello')) === 'OK', 'SET');
  check((await redis.get(`${prefix}greeting`)) === 'hello', 'GET');
  check((await redis.get(`${prefix}greeting`)) === 'hello', 'GET again');

  const pipe = redis.pipeline();
  for (let i = 0; i < 1000; i++) pipe.set(`${prefix}p:${i}`, String(i));
  for (let i = 0; i < 1000; i++) pipe.get(`${prefix}p:${i}`);
  const results = await pipe.exec();
  for (let i = 0; i < 1000; i++) {
    const [err, value] = results[1000 + i];
    check(!err && value === String(i), `pipelined GET ${i}: ${err || value}`);
  }

  const big = crypto.randomBytes(2 * 1024 * 1024);
  await redis.set(`${prefix}big`, big);
  const back = await redis.getBuffer(`${prefix}big`);
  check(back && Buffer.compare(back, big) === 0, '2 MB value differs');

  const tx = await redis.multi().set(`${prefix}n`, '1').incr(`${prefix}n`).exec();
  check(tx[1][1] === 2, `MULTI/EXEC: ${JSON.stringify(tx)}`);

  const sub = connect(host, port, { tls });
  const message = new Promise((resolve) => sub.on('message', (ch, m) => resolve(m)));
  await sub.subscribe(`${prefix}news`);
  await redis.publish(`${prefix}news`, 'over tls');
  check((await message) === 'over tls', 'pub/sub message');

  await sub.quit();
  await redis.quit();
  return { port };
});
