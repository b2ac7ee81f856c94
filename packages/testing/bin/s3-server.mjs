#!/usr/bin/env node
// A real S3-protocol server (s3rver) in a process of its own, for tests on machines
// without Docker. Usage: s3-server.mjs DIR BUCKET [PORT]; prints {"port":N} once listening.
import S3rver from 's3rver';

const [dir, bucket, port = '0'] = process.argv.slice(2);
if (!dir || !bucket) {
  process.stderr.write('usage: s3-server.mjs DIR BUCKET [PORT]\n');
  process.exit(2);
}
const server = new S3rver({
  port: Number(port),
  address: '127.0.0.1',
  silent: true,
  directory: dir,
  configureBuckets: [{ name: bucket }],
});
// s3rver's file store can throw outside any request on a race of two writers (ENOENT from a write
// stream); that request fails, and the server goes on serving the rest of the test file.
process.on('uncaughtException', (error) => {
  process.stderr.write(`s3rver: ${error.stack ?? error}\n`);
});
const { port: listening } = await server.run();
process.stdout.write(`${JSON.stringify({ port: listening })}\n`);
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent's end of stdin closes when it dies: never outlive the test run.
process.stdin.on('end', stop);
process.stdin.resume();
