/**
 * The lifecycle as data: every legal move between a job's stages (jobs/stage.ts), by
 * name. This table is the only place moves are declared: the job store refuses a move
 * that is not in it, the transition script's own tables are generated from it
 * (lifecycle-lua.ts), and docs/architecture.md's lifecycle table is checked against it.
 * To add a stage or a move, change stage.ts and this table; callers name the move.
 */
import type { ErrorCode } from '@renderq/contract';
import type { StageName } from './stage.js';

export interface Move {
  /** The stages a job may be in for the move to apply; in any other, the move is refused. */
  readonly from: readonly StageName[];
  readonly to: StageName;
  /** When it happens (also the docs' wording). */
  readonly when: string;
  /**
   * Made from a submit by the worker that holds it, or by one that settles it: refused unless the job
   * is still in the submit the caller's record shows (its `submit_id`), so that a worker that stalled
   * past its lock never moves a job that went on to another submit or out of it.
   */
  readonly fencedBySubmit?: true;
}

export const TRANSITIONS = {
  submit: { from: ['queued'], to: 'submitting', when: 'a worker takes the job to submit it' },
  requeue: {
    from: ['submitting'],
    to: 'queued',
    when: 'the submit is put off: too many in flight, a rate limit or pause, a retry with backoff',
    fencedBySubmit: true,
  },
  submitted: {
    from: ['submitting'],
    to: 'polling',
    when: 'Segmind accepted the request (its id is recorded)',
    fencedBySubmit: true,
  },
  poll: { from: ['polling'], to: 'polling', when: 'one more poll is recorded' },
  result: { from: ['polling'], to: 'storing', when: 'Segmind finished the request with outputs' },
  retry_store: { from: ['storing'], to: 'storing', when: 'storing the outputs failed and will be tried again' },
  complete: { from: ['storing'], to: 'completed', when: 'every output is stored' },
  fail_queued: {
    from: ['queued'],
    to: 'failed',
    when: 'the last attempt failed before a submit, or a stored input image is gone',
  },
  fail_submit: {
    from: ['submitting'],
    to: 'failed',
    when: 'Segmind refused the request, or an ambiguous submit under the fail policy',
    fencedBySubmit: true,
  },
  fail_poll: { from: ['polling'], to: 'failed', when: 'Segmind failed the request, or the deadline passed' },
  fail_store: { from: ['storing'], to: 'failed', when: 'the outputs could not be stored' },
  expire: { from: ['queued'], to: 'expired', when: 'its start-by deadline passed before its submit' },
  cancel: {
    from: ['queued', 'submitting', 'polling', 'storing'],
    to: 'cancelled',
    when: 'the caller cancelled the job (or its batch)',
  },
} as const satisfies Record<string, Move>;

export type MoveName = keyof typeof TRANSITIONS;
/** The stage a move ends in. */
export type MoveTarget<M extends MoveName> = (typeof TRANSITIONS)[M]['to'];

export const MOVE_NAMES = Object.keys(TRANSITIONS) as MoveName[];

type MovesTo<S extends StageName> = { [K in MoveName]: MoveTarget<K> extends S ? K : never }[MoveName];
/** The moves that fail a job, one per stage it can fail from. */
type FailMove = MovesTo<'failed'>;
/** The moves that end in a final stage. */
export type FinishingMove = MovesTo<'completed' | 'failed' | 'cancelled' | 'expired'>;

/**
 * Stages from which a cancelled job keeps its request at Segmind as `cancelled_request`,
 * followed to the end for what Segmind charges (the transition script does this).
 */
export const CANCEL_FOLLOWS_REQUEST_FROM: readonly StageName[] = ['polling'];

/**
 * Failures after which Segmind may have billed a job that never said what it cost, so that its
 * reservation of its tenant's spend counts as spent rather than let go (the transition script):
 * a submit whose answer never came may have started a request; and a request Segmind accepted
 * runs and bills unless Segmind itself reports it FAILED (which charges nothing).
 */
export const MAYBE_BILLED_WITHOUT_REQUEST: readonly ErrorCode[] = ['segmind_ambiguous_submit'];
export const UNBILLED_WITH_REQUEST: readonly ErrorCode[] = ['segmind_failed'];

/** Whether `move` may take a job in `stage` to `to`. */
function isLegalMove(move: MoveName, stage: StageName, to: StageName): boolean {
  const declared: Move = TRANSITIONS[move];
  return declared.to === to && declared.from.includes(stage);
}

/** The move that fails a job from `stage` (for steps that may find it queued or submitting). */
export function failMoveFrom(stage: StageName): FailMove {
  const found = MOVE_NAMES.find((name): name is FailMove => isLegalMove(name, stage, 'failed'));
  if (!found) throw new Error(`no move fails a job from ${stage}`);
  return found;
}
