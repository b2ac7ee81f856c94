// The lifecycle table is the only place moves are declared: the Lua tables, the store and the docs follow it.
import { readFileSync } from 'node:fs';
import { type RedisHandle, startRedis, uniqueName } from '@renderq/testing';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, isFinal, type JobStage, JobStore, QUEUE_NAMES, queueOptions } from '../src/index.js';
import { type Move, type MoveName, TRANSITIONS } from '../src/jobs/lifecycle.js';
import { jobLua, lifecycleLua } from '../src/jobs/lifecycle-lua.js';
import { STATUS_OF_STAGE, type StageName } from '../src/jobs/stage.js';
import type { JobRef } from '../src/jobs/transition.js';
import type { RenderJobData } from '../src/queues.js';
import { scriptSource } from '../src/redis/scripts.js';

const TABLE_MARKER =
  '<!-- the lifecycle table: checked against TRANSITIONS by packages/shared/test/lifecycle.test.ts -->';
const MOVES = Object.keys(TRANSITIONS) as MoveName[];
const STAGES = Object.keys(STATUS_OF_STAGE) as StageName[];
const now = () => new Date().toISOString();
const url = 'https://api.segmind.com/v2/requests/req-1';

/** A stage of each name, to move to. */
const SAMPLE: Record<StageName, JobStage> = {
  queued: { name: 'queued' },
  submitting: { name: 'submitting', since: now() },
  polling: {
    name: 'polling',
    request_id: 'req-1',
    status_url: `${url}/status`,
    response_url: url,
    submitted_at: now(),
    polls: 0,
  },
  storing: { name: 'storing', request_id: 'req-1', sources: [], attempts: 0 },
  completed: { name: 'completed' },
  failed: { name: 'failed', error: { code: 'timeout', message: 'deadline' } },
  cancelled: { name: 'cancelled' },
  expired: { name: 'expired' },
};

/** The moves that take a new job to each stage. */
const PATH: Record<StageName, readonly MoveName[]> = {
  queued: [],
  submitting: ['submit'],
  polling: ['submit', 'submitted'],
  storing: ['submit', 'submitted', 'result'],
  completed: ['submit', 'submitted', 'result', 'complete'],
  failed: ['fail_queued'],
  cancelled: ['cancel'],
  expired: ['expire'],
};

let server: RedisHandle;
let redis: Redis;
let queue: Queue<RenderJobData>;
let store: JobStore;

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'worker');
  const prefix = uniqueName('lifecycle');
  queue = new Queue<RenderJobData>(QUEUE_NAMES.render, queueOptions(redis, prefix));
  store = new JobStore({ redis, queue, prefix });
});
afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await server?.stop();
});

/** Any move by name, its target taken from the table (the types tie a move to its target; this test goes around them). */
function move(job: JobRef, name: MoveName, to: JobStage = SAMPLE[TRANSITIONS[name].to]) {
  return store.transition(job, name as 'cancel', to as Extract<JobStage, { name: 'cancelled' }>);
}

describe('the lifecycle', () => {
  it("gives the transition script the same tables as the TypeScript's", async () => {
    expect(scriptSource('renderqTransitionJob', jobLua()).startsWith(lifecycleLua())).toBe(true);
    const read = `${lifecycleLua()}return cjson.encode({ status = STATUS, final = FINAL, moves = MOVES, follows = FOLLOWS_REQUEST })`;
    const lua = JSON.parse(String(await redis.eval(read, 0)));
    const asSet = (names: readonly string[]) => Object.fromEntries(names.map((name) => [name, true]));
    expect(lua).toEqual({
      status: STATUS_OF_STAGE,
      final: asSet(STAGES.filter(isFinal)),
      moves: Object.fromEntries(
        MOVES.map((name) => {
          const { to, from, fencedBySubmit }: Move = TRANSITIONS[name];
          return [name, { to, from: asSet(from), ...(fencedBySubmit ? { fenced: true } : {}) }];
        }),
      ),
      follows: { polling: true },
    });
  });

  it('lets a job be cancelled from every stage it can still leave', () => {
    expect([...TRANSITIONS.cancel.from].sort()).toEqual(STAGES.filter((stage) => !isFinal(stage)).sort());
  });

  it('applies exactly the moves the table lists, from every stage', async () => {
    const outcomes: string[] = [];
    const expected: string[] = [];
    for (const stage of STAGES) {
      for (const name of MOVES) {
        const { id } = await store.create({ tenant: 'acme', model: 'segmind-vega', input: {} });
        for (const step of PATH[stage]) expect((await move(id, step)).ok).toBe(true);
        const result = await move(id, name);
        outcomes.push(`${name} from ${stage}: ${result.ok ? 'applied' : 'refused'}`);
        const legal = (TRANSITIONS[name].from as readonly StageName[]).includes(stage);
        expected.push(`${name} from ${stage}: ${legal ? 'applied' : 'refused'}`);
      }
    }
    expect(outcomes).toEqual(expected);
  });

  it('refuses a move that is not in the table, or to another stage than the move names', async () => {
    const { id } = await store.create({ tenant: 'acme', model: 'segmind-vega', input: {} });
    await expect(move(id, 'teleport' as MoveName, SAMPLE.completed)).rejects.toThrow(/no move named teleport/);
    await expect(move(id, 'submit', SAMPLE.completed)).rejects.toThrow(/goes to submitting, not completed/);
    // The script refuses one too, whatever its caller.
    await expect(
      redis.renderqTransitionJob(5, ...Array(5).fill(`x:${id}`), 'teleport', '{}', now(), '1', '1', 't', '0', '', ''),
    ).rejects.toThrow(/no move named teleport/);
    expect((await store.get(id))?.stage.name).toBe('queued');
  });

  it('makes a move fenced by its submit only while the job is in the submit the record in hand shows', async () => {
    const { id } = await store.create({ tenant: 'acme', model: 'segmind-vega', input: {} });
    const enter = (submitId: string) => ({ name: 'submitting' as const, since: now(), submit_id: submitId });
    expect((await store.transition(id, 'submit', enter('first'))).ok).toBe(true);
    const stalled = await store.get(id);
    if (!stalled) throw new Error('no record');
    // Another worker put it back and submitted it anew while the first one stalled.
    expect((await store.transition(id, 'requeue', { name: 'queued' })).ok).toBe(true);
    expect((await store.transition(id, 'submit', enter('second'))).ok).toBe(true);
    const current = await store.get(id);
    if (!current) throw new Error('no record');

    for (const name of ['submitted', 'requeue', 'fail_submit'] as const) {
      expect(await move(stalled, name), name).toEqual({ ok: false, reason: 'other_submit', current: 'submitting' });
    }
    expect((await store.get(id))?.stage).toEqual(current.stage);
    expect(await move(current, 'submitted')).toMatchObject({ ok: true, previous: 'submitting' });
    // Moves not fenced ignore it; a fenced one needs a record in its submit to speak for it.
    expect((await move(stalled, 'cancel')).ok).toBe(true);
    await expect(move({ ...current, stage: SAMPLE.queued }, 'requeue')).rejects.toThrow(/made from a submit/);
  });

  it('fences a submit entered without an id (an older version) on having none', async () => {
    const { id } = await store.create({ tenant: 'acme', model: 'segmind-vega', input: {} });
    expect((await store.transition(id, 'submit', { name: 'submitting', since: now() })).ok).toBe(true);
    const old = await store.get(id);
    if (!old) throw new Error('no record');
    expect(
      await move({ ...old, stage: { name: 'submitting', since: now(), submit_id: 'other' } }, 'submitted'),
    ).toEqual({ ok: false, reason: 'other_submit', current: 'submitting' });
    expect((await move(old, 'submitted')).ok).toBe(true);
  });

  it('is the table docs/architecture.md shows', () => {
    const docs = readFileSync(new URL('../../../docs/architecture.md', import.meta.url), 'utf8');
    const marker = docs.indexOf(TABLE_MARKER);
    expect(marker).toBeGreaterThan(-1);
    const lines = docs.slice(marker).split('\n').slice(1);
    const rows = lines
      .slice(
        2,
        lines.findIndex((line) => !line.startsWith('|')),
      )
      .map((line) =>
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim()),
      );
    const table = MOVES.map((name) => {
      const { from, to, when, fencedBySubmit }: Move = TRANSITIONS[name];
      const fenced = fencedBySubmit ? 'by `submit_id`' : '';
      return [`\`${name}\``, from.map((stage) => `\`${stage}\``).join(', '), `\`${to}\``, fenced, when];
    });
    expect(rows).toEqual(table);
  });
});
