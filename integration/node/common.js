'use strict';
// Shared by the ioredis checks: argument parsing, a client with ioredis's default options (its
// ready check sends INFO), assertions that exit non-zero, and an overall deadline.
const Redis = require('ioredis');

function parseArgs() {
  const [host, port, refHost, refPort] = process.argv.slice(2);
  if (!host || !port) {
    console.error(`usage: node ${process.argv[1]} <host> <port> [<ref-host> <ref-port>]`);
    process.exit(64);
  }
  return { host, port: Number(port), refHost, refPort: refPort ? Number(refPort) : undefined };
}

// Default options on purpose: this is what applications use. Only retries are bounded so that a
// broken target fails the check instead of hanging it.
function connect(host, port, extra = {}) {
  return new Redis({ host, port, maxRetriesPerRequest: 1, ...extra });
}

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) fail(message);
}

// Runs main() with an overall deadline; exit code 0 only when it resolves.
function run(main, deadlineMs = 90000) {
  const timer = setTimeout(() => fail(`deadline of ${deadlineMs} ms exceeded`), deadlineMs);
  main()
    .then((summary) => {
      clearTimeout(timer);
      console.log(`OK ${JSON.stringify(summary || {})}`);
      process.exit(0);
    })
    .catch((err) => fail(err && err.stack ? err.stack : String(err)));
}

module.exports = { Redis, parseArgs, connect, check, fail, run };
