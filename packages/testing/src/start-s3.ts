/**
 * A real S3-protocol server for a test: Testcontainers MinIO when a Docker engine
 * answers, otherwise s3rver in a child process on a free port. Either way the test
 * talks to it through the AWS SDK exactly as production does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { registerChild, unregisterChild } from './child-registry.js';
import { dockerAvailable } from './docker.js';

export interface S3Handle {
  /** http://host:port of the server. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Environment for a renderq process that should store here under `prefix`. */
  env(prefix: string): Record<string, string>;
  /** Stops the server, keeping its data, as an outage would. */
  kill(): Promise<void>;
  /** Starts a killed server again on the same endpoint, with its data. */
  start(): Promise<void>;
  /** Stops exactly what was started, and removes its data. */
  stop(): Promise<void>;
}

const REGION = 'us-east-1';
// s3rver checks signatures against its one fixed key pair; MinIO takes whatever root user it is given.
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export async function startS3(bucket = 'renderq-test'): Promise<S3Handle> {
  return dockerAvailable() ? minioS3(bucket) : s3rverS3(bucket);
}

interface Lifecycle {
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function handle(endpoint: string, bucket: string, { kill, start, stop }: Lifecycle): S3Handle {
  return {
    kill,
    start,
    endpoint,
    bucket,
    region: REGION,
    credentials: CREDENTIALS,
    env: (prefix) => ({
      STORAGE_URL: `s3://${bucket}/${prefix}`,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    }),
    stop,
  };
}

async function s3rverS3(bucket: string): Promise<S3Handle> {
  const dir = await mkdtemp(path.join(tmpdir(), 'renderq-s3-'));
  const script = fileURLToPath(new URL('../bin/s3-server.mjs', import.meta.url));
  let running: { child: ChildProcess; exited: Promise<void> } | undefined;
  const launch = async (port: number): Promise<number> => {
    const child = spawn(process.execPath, [script, dir, bucket, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
    if (child.pid) registerChild(child.pid, 's3rver');
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        if (child.pid) unregisterChild(child.pid);
        resolve();
      }),
    );
    running = { child, exited };
    return new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) =>
        resolve((JSON.parse(line) as { port: number }).port),
      );
      child.once('exit', (code) => reject(new Error(`s3rver exited with code ${code} before listening`)));
    });
  };
  const halt = async () => {
    if (!running) return;
    running.child.kill('SIGTERM');
    await running.exited;
    running = undefined;
  };
  const port = await launch(0);
  return handle(`http://127.0.0.1:${port}`, bucket, {
    kill: halt,
    start: async () => {
      if (!running) await launch(port);
    },
    stop: async () => {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
  });
}

async function minioS3(bucket: string): Promise<S3Handle> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('minio/minio:latest')
    .withCommand(['server', '/data'])
    .withEnvironment({ MINIO_ROOT_USER: CREDENTIALS.accessKeyId, MINIO_ROOT_PASSWORD: CREDENTIALS.secretAccessKey })
    .withExposedPorts(9000)
    .withWaitStrategy(Wait.forHttp('/minio/health/live', 9000))
    .start();
  const endpoint = `http://${container.getHost()}:${container.getMappedPort(9000)}`;
  const client = new S3Client({ region: REGION, endpoint, forcePathStyle: true, credentials: CREDENTIALS });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return handle(endpoint, bucket, {
    kill: async () => {
      await container.stop({ remove: false });
    },
    start: async () => {
      await container.restart();
    },
    stop: async () => {
      await container.stop();
    },
  });
}
