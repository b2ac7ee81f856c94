/**
 * renderq's tracer: makes spans for the OpenTelemetry SDK's span processor (batching, exporting)
 * and its samplers, at a fraction of what the SDK's own tracer costs a span. Tracing's budget is
 * 5 % of a job's CPU (docs/benchmarks.md) and a job makes a span for each of its steps; the SDK's
 * tracer, built for any caller, checks and copies every attribute twice, converts every time through
 * three clocks and records metrics of its own on each span, and those costs were half of what
 * tracing cost a job. This tracer trusts its one caller (Traces), keeps a span's times as
 * milliseconds until it ends, and makes ids from a pool of random bytes.
 *
 * It keeps the SDK's semantics that matter to a reader of the trace: the sampler's decision (a span
 * not sampled records nothing), the parent's trace state, the limits on attributes and events, the
 * exception event, and the status rules. It reads no span limits from the environment: the SDK's
 * defaults (128 attributes, 128 events and links) hold.
 */
import { randomFillSync } from 'node:crypto';
import {
  type Attributes,
  type AttributeValue,
  type Context,
  context as contextApi,
  type Exception,
  type HrTime,
  INVALID_SPANID,
  INVALID_TRACEID,
  type Link,
  SamplingDecision,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { ReadableSpan, Sampler, SamplingResult, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace';

type Resource = ReadableSpan['resource'];
type Scope = ReadableSpan['instrumentationScope'];

const ATTRIBUTE_COUNT_LIMIT = 128;
const EVENT_COUNT_LIMIT = 128;
const LINK_COUNT_LIMIT = 128;
const SAMPLED: SamplingResult = Object.freeze({ decision: SamplingDecision.RECORD_AND_SAMPLED });
const NOT_SAMPLED: SamplingResult = Object.freeze({ decision: SamplingDecision.NOT_RECORD });
const UNSET: SpanStatus = Object.freeze({ code: SpanStatusCode.UNSET });
/** What a span has until its first link or event: most of renderq's have none, and need no array of their own. */
const NONE: never[] = Object.freeze([]) as unknown as never[];

/**
 * How spans are sampled: under a parent, as the parent was (what the SDK's ParentBasedSampler does
 * with its default samplers) when `followParent`; else, and for a root, by `root`.
 */
export interface TracerSampling {
  readonly followParent: boolean;
  readonly root: Sampler;
}

export interface LeanTracerOptions {
  readonly resource: Resource;
  readonly scope: Scope;
  readonly sampling: TracerSampling;
  readonly processor: SpanProcessor;
}

export class LeanTracer implements Tracer {
  readonly #options: LeanTracerOptions;
  readonly #ids = new RandomIds();

  constructor(options: LeanTracerOptions) {
    this.#options = options;
  }

  startSpan(name: string, options: SpanOptions = {}, context: Context = contextApi.active()): Span {
    const parent = options.root ? undefined : trace.getSpanContext(context);
    const validParent = parent && isValid(parent) ? parent : undefined;
    const traceId = validParent ? validParent.traceId : this.#ids.traceId();
    const spanId = this.#ids.spanId();
    const kind = options.kind ?? SpanKind.INTERNAL;
    const links = options.links ?? [];
    const attributes: Attributes = {};
    if (options.attributes) copyAttributes(options.attributes, attributes);
    const { followParent, root } = this.#options.sampling;
    const sampling: SamplingResult =
      validParent && followParent
        ? validParent.traceFlags & TraceFlags.SAMPLED
          ? SAMPLED
          : NOT_SAMPLED
        : root.shouldSample(context, traceId, name, kind, attributes, links);
    const traceState = sampling.traceState ?? validParent?.traceState;
    const traceFlags = sampling.decision === SamplingDecision.RECORD_AND_SAMPLED ? TraceFlags.SAMPLED : TraceFlags.NONE;
    const spanContext: SpanContext = traceState
      ? { traceId, spanId, traceFlags, traceState }
      : { traceId, spanId, traceFlags };
    if (sampling.decision === SamplingDecision.NOT_RECORD) return trace.wrapSpanContext(spanContext);
    if (sampling.attributes) copyAttributes(sampling.attributes, attributes);
    const span = new LeanSpan(this.#options, spanContext, validParent, name, kind, attributes, options.startTime);
    for (const link of links) span.addLink(link);
    this.#options.processor.onStart(span, context);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...rest: unknown[]): ReturnType<F> {
    const fn = rest.at(-1) as F;
    const options = (rest.length >= 2 ? rest[0] : undefined) as SpanOptions | undefined;
    const parent = (rest.length >= 3 ? rest[1] : undefined) as Context | undefined;
    const context = parent ?? contextApi.active();
    const span = this.startSpan(name, options, context);
    return contextApi.with(trace.setSpan(context, span), fn as (span: Span) => ReturnType<F>, undefined, span);
  }
}

/** A span as the SDK's processors and exporters read it (ReadableSpan), with times kept in milliseconds until it ends. */
class LeanSpan implements Span, ReadableSpan {
  readonly #context: SpanContext;
  readonly #processor: SpanProcessor;
  /** The span's start and end, in milliseconds since the epoch (the encoder reads these rather than the HrTimes). */
  readonly startMs: number;
  /** The clock a span's length is measured on (performance.now()), and the wall clock at its start. */
  readonly #startedAt = performance.now();
  readonly #wallAtStart = Date.now();
  endMs = 0;
  #attributeCount: number;
  readonly parentSpanContext: SpanContext | undefined;
  readonly kind: SpanKind;
  readonly resource: Resource;
  readonly instrumentationScope: Scope;
  readonly attributes: Attributes;
  links: Link[] = NONE;
  events: TimedEvent[] = NONE;
  name: string;
  status: SpanStatus = UNSET;
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;

  constructor(
    options: LeanTracerOptions,
    context: SpanContext,
    parent: SpanContext | undefined,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    startTime: TimeInput | undefined,
  ) {
    this.#context = context;
    this.#processor = options.processor;
    this.resource = options.resource;
    this.instrumentationScope = options.scope;
    this.parentSpanContext = parent;
    this.name = name;
    this.kind = kind;
    this.attributes = attributes;
    const keys = Object.keys(attributes);
    // As the SDK: past the limit, the first ones are kept and the rest counted as dropped.
    for (const key of keys.slice(ATTRIBUTE_COUNT_LIMIT)) delete attributes[key];
    this.#attributeCount = Math.min(keys.length, ATTRIBUTE_COUNT_LIMIT);
    this.droppedAttributesCount = keys.length - this.#attributeCount;
    this.startMs = startTime == null ? this.#wallAtStart : this.#millis(startTime);
  }

  get startTime(): HrTime {
    return hrTimeOf(this.startMs);
  }

  get endTime(): HrTime {
    return hrTimeOf(this.endMs);
  }

  get duration(): HrTime {
    return hrTimeOf(this.endMs - this.startMs);
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (this.ended || key === '') return this;
    const checked = attributeValue(value);
    if (checked === undefined) return this;
    if (!Object.hasOwn(this.attributes, key)) {
      if (this.#attributeCount >= ATTRIBUTE_COUNT_LIMIT) {
        this.droppedAttributesCount += 1;
        return this;
      }
      this.#attributeCount += 1;
    }
    this.attributes[key] = checked;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    const timeGiven = isTimeInput(attributesOrTime);
    // As the SDK: with a time in place of the attributes, a third argument that is a time wins.
    const at = timeGiven && !isTimeInput(time) ? attributesOrTime : time;
    const attributes: Attributes = {};
    if (!timeGiven && attributesOrTime) copyAttributes(attributesOrTime, attributes);
    if (this.events === NONE) this.events = [];
    if (this.events.length >= EVENT_COUNT_LIMIT) {
      this.events.shift();
      this.droppedEventsCount += 1;
    }
    this.events.push({ name, attributes, time: hrTimeOf(at == null ? this.#now() : this.#millis(at)) });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    if (this.links === NONE) this.links = [];
    if (this.links.length >= LINK_COUNT_LIMIT) {
      this.links.shift();
      this.droppedLinksCount += 1;
    }
    const attributes: Attributes = {};
    if (link.attributes) copyAttributes(link.attributes, attributes);
    this.links.push(
      Object.keys(attributes).length > 0 ? { context: link.context, attributes } : { context: link.context },
    );
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    // As the SDK: UNSET changes nothing, OK is final, and only an error carries a message.
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    this.status =
      status.code === SpanStatusCode.ERROR && typeof status.message === 'string'
        ? { code: status.code, message: status.message }
        : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else if (exception) {
      const type = exception.code || exception.name;
      if (type) attributes['exception.type'] = String(type);
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    if (attributes['exception.type'] || attributes['exception.message']) this.addEvent('exception', attributes, time);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    // A span never ends before it began (a clock stepped back): it lasts 0 then, as the SDK's.
    this.endMs = Math.max(this.startMs, endTime == null ? this.#now() : this.#millis(endTime));
    this.ended = true;
    this.#processor.onEnd(this);
  }

  /** Now on the wall clock, to the sub-millisecond: the wall clock at the start plus the time since. */
  #now(): number {
    return this.#wallAtStart + (performance.now() - this.#startedAt);
  }

  /** A time given by the caller: a number is milliseconds since the epoch (renderq's callers' only kind), never a performance.now() reading. */
  #millis(time: TimeInput): number {
    if (typeof time === 'number') return time;
    if (time instanceof Date) return time.getTime();
    return time[0] * 1e3 + time[1] / 1e6;
  }
}

/**
 * Whether a parent's context is one to continue. The contexts renderq passes were checked when made
 * (a caller's traceparent by the propagator, a stored one by its pattern), so only the invalid
 * context the API stands for "none" with is looked for, not every id's hex again.
 */
function isValid(context: SpanContext): boolean {
  return context.traceId !== INVALID_TRACEID && context.spanId !== INVALID_SPANID && context.traceId.length === 32;
}

function copyAttributes(from: Attributes, to: Attributes): void {
  for (const key in from) {
    if (key === '' || !Object.hasOwn(from, key)) continue;
    const value = attributeValue(from[key]);
    if (value !== undefined) to[key] = value;
  }
}

/**
 * What an attribute may hold, as the SDK checks it: a string, number or boolean, or an array of one
 * of those (nulls allowed), copied so that a caller changing its array later changes nothing.
 * Anything else (null, an object, a mixed array) is left out.
 */
function attributeValue(value: unknown): AttributeValue | undefined {
  const type = typeof value;
  if (type === 'string' || type === 'number' || type === 'boolean') return value as AttributeValue;
  if (!Array.isArray(value)) return undefined;
  let itemType: string | undefined;
  for (const item of value) {
    if (item == null) continue;
    const each = typeof item;
    if (each !== 'string' && each !== 'number' && each !== 'boolean') return undefined;
    if (itemType !== undefined && each !== itemType) return undefined;
    itemType = each;
  }
  return value.slice() as AttributeValue;
}

function isTimeInput(value: unknown): value is TimeInput {
  return (
    typeof value === 'number' ||
    value instanceof Date ||
    (Array.isArray(value) && value.length === 2 && typeof value[0] === 'number')
  );
}

function hrTimeOf(ms: number): HrTime {
  const seconds = Math.floor(ms / 1e3);
  const nanos = Math.round((ms - seconds * 1e3) * 1e6);
  return nanos >= 1e9 ? [seconds + 1, nanos - 1e9] : [seconds, nanos];
}

/** Trace and span ids from a pool of random bytes, refilled when spent: one system call for many spans. */
class RandomIds {
  readonly #pool = Buffer.alloc(4_096);
  #at = this.#pool.length;

  traceId(): string {
    return this.#hex(16);
  }

  spanId(): string {
    return this.#hex(8);
  }

  #hex(bytes: number): string {
    for (;;) {
      if (this.#at + bytes > this.#pool.length) {
        randomFillSync(this.#pool);
        this.#at = 0;
      }
      const id = this.#pool.toString('hex', this.#at, this.#at + bytes);
      this.#at += bytes;
      // An id of all zeros is invalid; it comes once in 2^64 spans.
      if (!/^0+$/.test(id)) return id;
    }
  }
}
