// Every `renderq` command as a user or a script runs it — the built CLI as a child
// process — against a whole system (API, worker, Segmind emulator, Redis), judged by
// exit codes, the JSON on stdout, the one line on stderr, and the files written;
// including the showcase file, examples/seeds.ndjson, rendering all five seed models.
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort } from '@renderq/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, API_KEY, REPO_ROOT, renderq, type System, startSystem } from './system.js';

interface Output {
  readonly url: string;
  readonly content_type: string;
  readonly size: number;
  readonly sha256: string;
}
interface Job {
  readonly id: string;
  readonly model: string;
  readonly status: string;
  readonly metadata: Record<string, unknown> | null;
  readonly outputs: readonly Output[];
  readonly error: { code: string; message: string } | null;
  readonly trace_id?: string | null;
}
interface Batch {
  readonly id: string;
  readonly status: string;
  readonly counts: Record<string, number>;
  readonly finished_at: string | null;
}
interface SavedFile {
  readonly job_id: string;
  readonly batch_index?: number;
  readonly output_index: number;
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  readonly already_there: boolean;
}
interface Downloaded {
  readonly job?: Job;
  readonly batch?: Batch;
  readonly files: SavedFile[];
  readonly not_downloaded: { job_id: string; status: string }[];
}

const SEED_MODELS = [
  'segmind-vega-rt-v1',
  'segmind-vega',
  'ssd-img2img',
  'stable-diffusion-3.5-turbo-txt2img',
  'sd1.5-img2img',
];
const STACK_TRACE = /\n\s+at /;
const ANSI = '\u001b[';
const FAST = ['--interval', '100', '--timeout', '60'];

let system: System;
/** The API itself, for what a test checks besides the CLI's own output. */
const api = async (route: string, key = API_KEY): Promise<string> => {
  const response = await fetch(`${system.url}${route}`, { headers: { authorization: `Bearer ${key}` } });
  if (!response.ok) throw new Error(`GET ${route}: ${response.status} ${await response.text()}`);
  return response.text();
};
/** A batch's jobs, in order, as the API lists them. */
const batchJobs = async (id: string): Promise<Job[]> =>
  (await api(`/v1/batches/${id}/jobs`))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Job);
let scratch = 0;
const folder = () => path.join(system.dir, `out-${scratch++}`);
const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

beforeAll(async () => {
  system = await startSystem();
}, 60_000);

afterAll(async () => {
  await system?.stop();
});

describe('renderq submit, wait and download', () => {
  it('renders the showcase file: the five seed models, one image each, every sha256 as recorded', async () => {
    const dir = folder();
    const run = await renderq(system, [
      'submit',
      'examples/seeds.ndjson',
      '--wait',
      '--download',
      dir,
      '--json',
      ...FAST,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toBe('');
    const answer = run.json<Downloaded>();
    expect(answer.batch).toMatchObject({ status: 'completed', counts: { total: 5, completed: 5, failed: 0 } });
    expect(answer.files.map((file) => file.batch_index)).toEqual([0, 1, 2, 3, 4]);
    expect(answer.not_downloaded).toEqual([]);
    const listed = (await readdir(dir)).sort();
    expect(listed).toEqual(answer.files.map((file) => path.basename(file.path)));
    for (const file of answer.files) {
      expect(path.basename(file.path)).toBe(`0${file.batch_index}-${file.job_id}-0.jpg`);
      expect(await sha256(file.path)).toBe(file.sha256);
      expect((await readFile(file.path)).length).toBe(file.size);
    }
    // Each file is its job's output, and the jobs are the file's lines in order.
    const jobs = await batchJobs(answer.batch?.id ?? '');
    expect(jobs.map((job) => job.model)).toEqual(SEED_MODELS);
    expect(jobs.map((job) => job.id)).toEqual(answer.files.map((file) => file.job_id));
    expect(jobs.map((job) => job.outputs[0]?.sha256)).toEqual(answer.files.map((file) => file.sha256));
  }, 90_000);

  it('ships the sample input images inline: the img2img lines hold examples/images byte for byte', async () => {
    const lines = (await readFile(path.join(REPO_ROOT, 'examples/seeds.ndjson'), 'utf8')).trim().split('\n');
    const byModel = new Map(
      lines
        .map((line) => JSON.parse(line) as { model: string; input: Record<string, unknown> })
        .map((job) => [job.model, job.input]),
    );
    expect([...byModel.keys()]).toEqual(SEED_MODELS);
    for (const model of ['ssd-img2img', 'sd1.5-img2img']) {
      const image = await readFile(path.join(REPO_ROOT, `examples/images/${model}-input.jpg`));
      expect(Buffer.from(String(byModel.get(model)?.image), 'base64').equals(image)).toBe(true);
      expect(image.subarray(0, 3).toString('hex')).toBe('ffd8ff');
    }
  });

  it('submits one job from flags, follows it and saves its output; an Idempotency-Key makes it once', async () => {
    const dir = folder();
    const args = [
      'submit',
      '--model',
      'segmind-vega',
      '--input',
      'prompt=a lighthouse at dusk',
      '--input',
      'seed=42',
      '--metadata',
      '{"order": 7}',
      '--idempotency-key',
      'cli-order-7',
    ];
    const run = await renderq(system, [...args, '--download', dir, '--json', ...FAST]);
    expect(run.code, run.stderr).toBe(0);
    const { job, files } = run.json<Downloaded>();
    expect(job).toMatchObject({ status: 'completed', model: 'segmind-vega', metadata: { order: 7 } });
    expect((job as unknown as { input: Record<string, unknown> }).input).toMatchObject({
      seed: 42,
      prompt: 'a lighthouse at dusk',
    });
    expect(files).toHaveLength(1);
    expect(path.basename(files[0]?.path ?? '')).toBe(`${job?.id}-0.jpg`);
    expect(await sha256(files[0]?.path ?? '')).toBe(job?.outputs[0]?.sha256);

    const again = await renderq(system, [...args, '--json']);
    expect(again.code).toBe(0);
    expect(again.json<{ job: Job }>().job.id).toBe(job?.id);

    // A second download fetches nothing: the file is there with its sha256.
    const second = await renderq(system, ['download', job?.id ?? '', dir, '--json']);
    expect(second.code).toBe(0);
    expect(second.json<Downloaded>().files).toMatchObject([{ already_there: true, sha256: job?.outputs[0]?.sha256 }]);
  }, 60_000);

  it('--trace sends a traceparent and says, on stderr, that this renderq does not trace (its OTEL_* are unset)', async () => {
    const run = await renderq(system, ['submit', '-m', 'segmind-vega', '-i', 'prompt=x', '--trace']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^job_\w+ {2}queued/);
    expect(run.stderr).toContain('no trace: renderq did not trace it');
    // With --json the job says it (trace_id null), and stdout holds nothing else.
    const json = await renderq(system, ['submit', '-m', 'segmind-vega', '-i', 'prompt=x', '--trace', '--json']);
    expect(json.json<{ job: Job }>().job.trace_id).toBeNull();
  }, 30_000);

  it('without --json: the result on stdout, progress lines on stderr, no colour or bars when not a terminal', async () => {
    const run = await renderq(system, [
      'submit',
      '-m',
      'segmind-vega-rt-v1',
      '-i',
      'prompt=a harbour',
      '--wait',
      ...FAST,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^job_\w+ {2}completed {2}segmind-vega-rt-v1\n/);
    expect(run.stderr).toMatch(/job_\w+: running|job_\w+: completed/);
    expect(run.stdout + run.stderr).not.toContain(ANSI);
  }, 60_000);

  it('sends a JSON file as a batch; status, wait and download then work on the batch by its id', async () => {
    const file = path.join(system.dir, 'batch.json');
    await writeFile(
      file,
      JSON.stringify({
        jobs: [0, 1, 2].map((i) => ({
          model: 'segmind-vega-rt-v1',
          input: { prompt: `a harbour ${i}` },
          metadata: { i },
        })),
        metadata: { run: 'json-batch' },
      }),
    );
    const created = await renderq(system, ['submit', file, '--json']);
    expect(created.code, created.stderr).toBe(0);
    const { batch } = created.json<{ batch: Batch }>();
    expect(batch.id).toMatch(/^bat_/);
    expect(batch.counts.total).toBe(3);

    const waited = await renderq(system, ['wait', batch.id, '--json', ...FAST]);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.json<{ batch: Batch }>().batch).toMatchObject({ status: 'completed', counts: { completed: 3 } });

    const status = await renderq(system, ['status', batch.id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`${batch.id}  completed  3 jobs: 3 completed, 0 failed`);

    const dir = folder();
    const downloaded = await renderq(system, ['download', batch.id, dir]);
    expect(downloaded.code, downloaded.stderr).toBe(0);
    const names = (await readdir(dir)).sort();
    expect(names).toHaveLength(3);
    expect(names.map((name) => name.slice(0, 3))).toEqual(['00-', '01-', '02-']);
    expect(downloaded.stdout.match(/sha256 ok/g)).toHaveLength(3);
  }, 60_000);

  it('watches a job and a batch from their event streams until they finish', async () => {
    const file = path.join(system.dir, 'watched.json');
    const jobs = [0, 1].map((i) => ({ model: 'segmind-vega-rt-v1', input: { prompt: `a watched harbour ${i}` } }));
    await writeFile(file, JSON.stringify({ jobs }));
    const { batch } = (await renderq(system, ['submit', file, '--json'])).json<{ batch: Batch }>();
    const watched = await renderq(system, ['watch', batch.id, '--json']);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.json<{ batch: Batch }>().batch).toMatchObject({ status: 'completed', counts: { completed: 2 } });

    const job = (
      await renderq(system, ['submit', '--model', 'segmind-vega-rt-v1', '-i', 'prompt=a watched lighthouse', '--json'])
    ).json<{ job: { id: string } }>().job;
    const seen = await renderq(system, ['watch', job.id]);
    expect(seen.code, seen.stderr).toBe(0);
    expect(seen.stdout).toContain(`${job.id}  completed`);
    // Without a terminal: a line on stderr as its status moves, ending with the final one.
    expect(seen.stderr).toMatch(new RegExp(`${job.id}: completed`));
  }, 60_000);

  it('keeps no file whose bytes differ from the record (exit 5), and fetches it again once they match', async () => {
    const created = await renderq(system, [
      'submit',
      '-m',
      'segmind-vega-rt-v1',
      '-i',
      'prompt=tampered',
      '--wait',
      '--json',
      ...FAST,
    ]);
    const { job } = created.json<{ job: Job & { outputs: (Output & { storage_key: string })[] } }>();
    const output = job.outputs[0] as Output & { storage_key: string };
    // The stored object changes under the record (a bad disk, a botched copy): same size, one byte off.
    const stored = path.join(system.dir, 'storage', output.storage_key);
    const original = await readFile(stored);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 10] = (tampered[tampered.length - 10] ?? 0) ^ 0xff;
    await writeFile(stored, tampered);

    const dir = folder();
    const run = await renderq(system, ['download', job.id, dir, '--json']);
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(`output 0 of ${job.id} arrived with sha256`);
    expect(run.stderr).toContain(`but its record says ${output.sha256}`);
    expect(run.json()).toMatchObject({
      files: [],
      mismatched: [{ job_id: job.id, output_index: 0, expected: { sha256: output.sha256, size: output.size } }],
    });
    expect(await readdir(dir)).toEqual([]);

    await writeFile(stored, original);
    const again = await renderq(system, ['download', job.id, dir, '--json']);
    expect(again.code).toBe(0);
    expect(await sha256(path.join(dir, `${job.id}-0.jpg`))).toBe(output.sha256);
  }, 60_000);

  it('exits 1 when the job fails, and download then has nothing to fetch', async () => {
    const run = await renderq(system, [
      'submit',
      '-m',
      'segmind-vega',
      '-i',
      'prompt=emulator:fail please',
      '--wait',
      '--json',
      ...FAST,
    ]);
    expect(run.code).toBe(1);
    const { job } = run.json<{ job: Job }>();
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBeTruthy();

    const download = await renderq(system, ['download', job.id, folder(), '--json']);
    expect(download.code).toBe(1);
    expect(download.json<Downloaded>()).toMatchObject({
      files: [],
      not_downloaded: [{ job_id: job.id, status: 'failed' }],
    });
  }, 60_000);
});

describe('renderq list', () => {
  // (Many CLI processes, as below: a loaded machine needs minutes, not one.)
  it('lists jobs by batch, status, model and time, a limit at a time, following cursors with --all', async (test) => {
    // The job list is newer than this CLI's other routes: an API without it is left out, not failed.
    const probe = await fetch(`${system.url}/v1/jobs?limit=1`, { headers: { authorization: `Bearer ${API_KEY}` } });
    if (probe.status === 404) test.skip();

    const file = path.join(system.dir, 'listed.json');
    await writeFile(
      file,
      JSON.stringify([0, 1, 2].map((i) => ({ model: 'segmind-vega-rt-v1', input: { prompt: `listed ${i}` } }))),
    );
    const { batch } = (await renderq(system, ['submit', file, '--wait', '--json', ...FAST])).json<{
      batch: Batch & { created_at: string };
    }>();
    const ids = (await batchJobs(batch.id)).map((job) => job.id);
    expect(ids).toHaveLength(3);
    type Listed = { jobs: (Job & { batch_id: string })[]; next_cursor: string | null };
    const list = async (...args: string[]) => {
      const run = await renderq(system, ['list', ...args, '--json']);
      expect(run.code, run.stderr).toBe(0);
      return run.json<Listed>();
    };

    const all = await list('--batch', batch.id);
    expect(all.jobs.map((job) => job.id).sort()).toEqual([...ids].sort());
    expect(all.jobs.every((job) => job.batch_id === batch.id && job.status === 'completed')).toBe(true);
    expect(all.next_cursor).toBeNull();

    const first = await list('--batch', batch.id, '--limit', '2');
    expect(first.jobs).toHaveLength(2);
    expect(first.next_cursor).toEqual(expect.any(String));
    const rest = await list('--batch', batch.id, '--limit', '2', '--cursor', first.next_cursor as string);
    expect([...first.jobs, ...rest.jobs].map((job) => job.id).sort()).toEqual([...ids].sort());

    const followed = await list('--batch', batch.id, '--limit', '1', '--all');
    expect(followed.jobs.map((job) => job.id)).toEqual(all.jobs.map((job) => job.id));
    expect(followed.next_cursor).toBeNull();

    expect((await list('--batch', batch.id, '--status', 'failed')).jobs).toEqual([]);
    const before = new Date(Date.parse(batch.created_at) - 1).toISOString();
    const recent = await list('--model', 'segmind-vega-rt-v1', '--created-after', before, '--all');
    expect(recent.jobs.map((job) => job.id)).toEqual(expect.arrayContaining(ids));
    expect((await list('--batch', batch.id, '--created-before', before)).jobs).toEqual([]);

    const human = await renderq(system, ['list', '--batch', batch.id]);
    expect(human.stdout.split('\n')[0]).toMatch(/^id +status +model +created +batch$/);
    expect(human.stdout).toContain(ids[0]);

    const badTime = await renderq(system, ['list', '--created-after', 'yesterday']);
    expect(badTime.code).toBe(2);
    expect(badTime.stderr).toContain('must be an ISO 8601 time');
  }, 180_000);
});

describe('renderq refusing, in one line', () => {
  it('names every wrong field of a refused job (exit 3), with the problem on stdout under --json', async () => {
    const run = await renderq(system, ['submit', '-m', 'segmind-vega', '-i', 'samples=9', '--json']);
    expect(run.code).toBe(3);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toBe(
      'renderq: the job is not valid (400): input.prompt is required; input.samples must be at most 4',
    );
    expect(run.stderr).not.toMatch(STACK_TRACE);
    const { error } = run.json<{ error: { kind: string; status: number; errors: { path: string }[] } }>();
    expect(error).toMatchObject({ kind: 'api', status: 400 });
    expect(error.errors.map((issue) => issue.path)).toEqual(['input.prompt', 'input.samples']);
  });

  it('names NDJSON problems by their line in the file, blank lines counted, and enqueues nothing', async () => {
    const queued = async () => {
      const { queues } = JSON.parse(await api('/v1/admin/status', ADMIN_KEY)) as {
        queues: Record<string, Record<string, number>>;
      };
      return Object.values(queues).reduce((sum, counts) => sum + Object.values(counts).reduce((a, b) => a + b, 0), 0);
    };
    const jobsBefore = await queued();
    const file = path.join(system.dir, 'broken.ndjson');
    const good = JSON.stringify({ model: 'segmind-vega-rt-v1', input: { prompt: 'fine' } });
    await writeFile(file, `${good}\n\n${good}\n${JSON.stringify({ model: 'segmind-vega', input: { prompt: '' } })}\n`);
    const run = await renderq(system, ['submit', file]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(`${file} line 4: input.prompt must not be empty`);

    const notJson = path.join(system.dir, 'not-json.ndjson');
    await writeFile(notJson, `${good}\n{"model": "segmind-vega",\n`);
    const unreadable = await renderq(system, ['submit', notJson, '--json']);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toMatch(/line 2 is not valid JSON/);
    expect(unreadable.json<{ error: { kind: string } }>().error.kind).toBe('usage');
    expect(await queued()).toBe(jobsBefore);
  });

  it('exits 2 for usage errors, 4 for a bad key, 3 when the API cannot be reached', async () => {
    const unknown = await renderq(system, ['status', 'job_x', '--colour']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe("renderq: unknown option '--colour' (see renderq --help)\n");

    const missing = await renderq(system, ['download', 'job_x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'dir'");

    const notAnId = await renderq(system, ['status', 'order-42', '--json']);
    expect(notAnId.code).toBe(2);
    expect(notAnId.json<{ error: { message: string } }>().error.message).toContain(
      'not a job id (job_…) or a batch id (bat_…)',
    );

    const neither = await renderq(system, ['submit', '-i', 'prompt=x']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('give --model');

    // Webhook events are the contract's: a name no job or batch has, or a batch's event on a single job.
    const withEvents = (events: string) =>
      renderq(system, ['submit', '-m', 'segmind-vega', '-i', 'prompt=x', '--webhook-events', events]);
    const noSuchEvent = await withEvents('job.completed,job.done');
    expect(noSuchEvent.code).toBe(2);
    expect(noSuchEvent.stderr).toContain('--webhook-events: job.done is not an event of a single job');
    const batchEvent = await withEvents('batch.completed');
    expect(batchEvent.code).toBe(2);
    expect(batchEvent.stderr).toContain('--webhook-events: batch.completed is not an event of a single job');

    const badKey = await renderq(system, ['models'], { env: { RENDERQ_API_KEY: 'not-a-key-0123456789' } });
    expect(badKey.code).toBe(4);
    expect(badKey.stderr).toMatch(/^renderq: .*\(401\).*RENDERQ_API_KEY/);

    const closed = `http://127.0.0.1:${await freePort()}`;
    const notThere = await renderq({ url: closed }, ['status', 'job_x']);
    expect(notThere.code).toBe(3);
    expect(notThere.stderr).toMatch(new RegExp(`^renderq: cannot reach renderq at ${closed}: .*ECONNREFUSED`));
    for (const run of [unknown, missing, notAnId, noSuchEvent, batchEvent, badKey, notThere])
      expect(run.stderr).not.toMatch(STACK_TRACE);
  }, 30_000);

  it('lists the exit codes and environment variables in --help', async () => {
    const help = await renderq(system, ['--help']);
    expect(help.code).toBe(0);
    for (const text of ['RENDERQ_URL', 'RENDERQ_API_KEY', 'Exit codes:', '124', '130', 'submit', 'admin']) {
      expect(help.stdout).toContain(text);
    }
    const version = await renderq(system, ['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe('renderq models, webhooks, cancel and admin', () => {
  it('shows every model with its parameters, defaults and ranges', async () => {
    const run = await renderq(system, ['models', '--json']);
    expect(run.code).toBe(0);
    const { models } = run.json<{ models: { name: string; input_schema: Record<string, unknown> }[] }>();
    expect(models.map((model) => model.name)).toEqual(SEED_MODELS);

    const one = await renderq(system, ['models', 'sd1.5-img2img']);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/num_inference_steps +integer +20 +20 – 100/);
    expect(one.stdout).toMatch(/img_width +number +512 +512, 768/);
    expect(one.stdout).toMatch(/prompt +string +required/);

    const none = await renderq(system, ['models', 'dall-e']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no model "dall-e"');
  });

  it("lists a job's webhook deliveries, and sends them again with --redeliver", async () => {
    const url = `${system.receiver.url}/cli`;
    const run = await renderq(system, [
      'submit',
      '-m',
      'segmind-vega-rt-v1',
      '-i',
      'prompt=hooked',
      '--webhook-url',
      url,
      '--wait',
      '--json',
      ...FAST,
    ]);
    expect(run.code, run.stderr).toBe(0);
    const { job } = run.json<{ job: Job }>();
    await system.receiver.waitFor(1, (hook) => hook.path === '/cli');
    // The attempt is recorded just after the receiver answers: wait for it through the API, then ask the CLI.
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      if ((await api(`/v1/jobs/${job.id}/webhook-deliveries`)).includes('"delivered"')) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const listed = await renderq(system, ['webhooks', job.id, '--json']);
    expect(listed.code).toBe(0);
    const { events } = listed.json<{ events: { id: string; status: string; attempts: unknown[] }[] }>();
    expect(events).toMatchObject([
      { id: `evt_${job.id}_completed`, status: 'delivered', attempts: [{ status_code: 200 }] },
    ]);

    const human = await renderq(system, ['webhooks', job.id]);
    expect(human.stdout).toContain(`evt_${job.id}_completed  job.completed  delivered  ${url}`);

    const redelivered = await renderq(system, ['webhooks', job.id, '--redeliver', '--json']);
    expect(redelivered.code).toBe(0);
    expect(redelivered.json<{ events: typeof events }>().events[0]?.status).toBe('pending');
    const hooks = await system.receiver.waitFor(2, (hook) => hook.path === '/cli');
    expect(hooks[1]?.headers['webhook-id']).toBe(`evt_${job.id}_completed`);
  }, 60_000);

  // Eleven CLI processes, each a Node start: 45–61 s beside two other suites on two cores.
  it('pauses taking jobs (admin), cancels a queued job, times out and is interrupted while waiting, resumes', async () => {
    const admin = { env: { RENDERQ_ADMIN_KEY: ADMIN_KEY } };
    const tenantOnly = await renderq(system, ['admin', 'status']);
    expect(tenantOnly.code).toBe(4);
    expect(tenantOnly.stderr).toContain('(403)');

    const paused = await renderq(system, ['admin', 'pause', '--message', 'cli test', '--json'], admin);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.json()).toMatchObject({ pause: { paused: true, reason: 'operator', message: 'cli test' } });
    try {
      const status = await renderq(system, ['admin', 'status', '--json'], admin);
      expect(status.json()).toMatchObject({
        pause: { paused: true },
        storage: { usable: true, problem: null },
        queues: { render: expect.any(Object), poll: expect.any(Object), webhooks: expect.any(Object) },
      });
      const human = await renderq(system, ['admin', 'status'], admin);
      expect(human.stdout).toContain('taking jobs: paused (operator: cli test)');
      // Every tenant's backlog for operators; a tenant's own for its key.
      const tenants = await renderq(system, ['admin', 'tenants'], admin);
      expect(tenants.stdout).toMatch(
        /^tenant +weight +share now +waiting +unfinished jobs +backlog quota +enqueue rate +spent today +spent this month$/m,
      );
      const own = await renderq(system, ['tenant', '--json']);
      expect(own.json()).toMatchObject({ tenant: expect.any(String), unfinished_jobs: expect.any(Number) });
      expect(human.stdout).toMatch(/^webhooks +\d/m);
      expect(human.stdout).toContain('storage: usable');

      const created = await renderq(system, ['submit', '-m', 'segmind-vega', '-i', 'prompt=held', '--json']);
      const { job } = created.json<{ job: Job }>();
      expect(job.status).toBe('queued');

      const timedOut = await renderq(system, ['wait', job.id, '--interval', '100', '--timeout', '0.5']);
      expect(timedOut.code).toBe(124);
      expect(timedOut.stderr).toContain(`${job.id} has not finished after 0.5s (still queued)`);

      const interrupted = await renderq(system, ['wait', job.id, '--interval', '100'], {
        onStart: (child, stderr) => {
          const poll = setInterval(() => {
            if (stderr().includes(`${job.id}: queued`)) {
              clearInterval(poll);
              child.kill('SIGINT');
            }
          }, 20);
        },
      });
      expect(interrupted.code).toBe(130);
      expect(interrupted.stderr).toContain(
        `stopped following ${job.id} (still queued); it goes on: renderq wait ${job.id}`,
      );

      const cancelled = await renderq(system, ['cancel', job.id, '--json']);
      expect(cancelled.code, cancelled.stderr).toBe(0);
      expect(cancelled.json<{ job: Job }>().job.status).toBe('cancelled');
      const waited = await renderq(system, ['wait', job.id, '--json']);
      expect(waited.code).toBe(1);

      const twice = await renderq(system, ['cancel', job.id]);
      expect(twice.code).toBe(3);
      expect(twice.stderr).toContain('has already finished (cancelled) (409)');

      // Bulk: held queued while paused, cancelled by filter, then replayed by id, each once.
      const held = await Promise.all(
        [1, 2, 3].map(async (n) => {
          const made = await renderq(system, ['submit', '-m', 'segmind-vega', '-i', `prompt=bulk ${n}`, '--json']);
          return made.json<{ job: Job }>().job.id;
        }),
      );
      expect((await renderq(system, ['cancel'])).code).toBe(2);
      expect((await renderq(system, ['cancel', held[0] as string, '--status', 'queued'])).code).toBe(2);
      const wouldCancel = await renderq(system, ['cancel', '--status', 'queued', '--dry-run']);
      expect(wouldCancel.stdout).toContain('would cancel 3 jobs');
      const bulkCancel = await renderq(system, ['cancel', '--status', 'queued', '--json']);
      expect(bulkCancel.code, bulkCancel.stderr).toBe(0);
      expect(bulkCancel.json()).toMatchObject({ action: 'cancel', status: 'completed', acted: 3 });
      const ids = held.join(',');
      const wouldReplay = await renderq(system, ['replay', '--ids', ids, '--dry-run', '--json']);
      expect(wouldReplay.json()).toMatchObject({ dry_run: true, count: 3, estimated_cost: 0.006 });
      const replayed = await renderq(system, ['replay', '--ids', ids]);
      expect(replayed.code, replayed.stderr).toBe(0);
      expect(replayed.stdout).toMatch(/completed: 3 replayed, 0 left alone, 0 not reached; reserved \$0\.006$/m);
      const again = await renderq(system, ['replay', '--ids', ids, '--dry-run']);
      expect(again.stdout).toContain('would replay 0 jobs');
      expect(again.stdout).toContain('3 replayed before');
      // Every job of yours only when --all says so; --ids with a filter is a mistake.
      expect((await renderq(system, ['replay', '--dry-run'])).code).toBe(2);
      expect((await renderq(system, ['replay', '--ids', ids, '--status', 'failed'])).code).toBe(2);
      const notOperator = await renderq(system, ['replay', '--tenant', 'someone-else', '--all', '--dry-run']);
      expect(notOperator.code).toBe(3);
      expect(notOperator.stderr).toContain('filter.tenant');
      expect((await renderq(system, ['cancel', '--status', 'queued'])).code).toBe(0);
    } finally {
      const resumed = await renderq(system, ['admin', 'resume', '--json'], admin);
      expect(resumed.json()).toEqual({ pause: { paused: false } });
    }
  }, 180_000);
});
