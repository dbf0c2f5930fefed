'use strict';
// SET/GET, every byte value, and a 4 MB value through ioredis with default options.
const crypto = require('crypto');
const { parseArgs, connect, check, run } = require('./common');

run(async () => {
  const { host, port } = parseArgs();
  const redis = connect(host, port);
  await redis.ping();  // resolves after the INFO ready check

  check((await redis.set('greeting', 'hello')) === 'OK', 'SET greeting');
  check((await redis.get('greeting')) === 'hello', 'GET greeting');
  check((await redis.get('missing')) === null, 'GET of a missing key is null');

  // One value holding all 256 byte values, and one key per byte value.
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  await redis.set('bytes:all', all);
  const back = await redis.getBuffer('bytes:all');
  check(Buffer.compare(back, all) === 0, `all-bytes value came back as ${back.toString('hex')}`);
  const pipe = redis.pipeline();
  for (let i = 0; i < 256; i++) pipe.set(Buffer.from([i, 0x0d, 0x0a, i]), Buffer.from([i]));
  for (let i = 0; i < 256; i++) pipe.getBuffer(Buffer.from([i, 0x0d, 0x0a, i]));
  const results = await pipe.exec();
  for (let i = 0; i < 256; i++) {
    const [err, value] = results[256 + i];
    check(!err && value.length === 1 && value[0] === i, `byte key ${i}: ${err || value.toString('hex')}`);
  }

  // A 4 MB value of random bytes, read twice (a proxy may answer the second from its cache).
  const big = crypto.randomBytes(4 * 1024 * 1024);
  check((await redis.set('big', big)) === 'OK', 'SET big');
  for (let i = 0; i < 2; i++) {
    const got = await redis.getBuffer('big');
    check(got && got.length === big.length, `big value length ${got && got.length}`);
    check(Buffer.compare(got, big) === 0, 'big value bytes differ');
  }
  check((await redis.strlen('big')) === big.length, 'STRLEN big');

  await redis.quit();
  return { bigBytes: big.length };
});
