/**
 * Finished spans as an OTLP/protobuf `ExportTraceServiceRequest`: the bytes the OTLP exporter posts
 * to a collector. The same bytes as OpenTelemetry's own serializer (`ProtobufTraceSerializer` of
 * `@opentelemetry/otlp-transformer`; a test compares them), made at a fraction of its cost:
 * tracing's budget is 5 % of a job's CPU (docs/benchmarks.md), and that serializer, which walks
 * every span twice (once to size the buffer) and decodes every id from hex into a new array, was
 * the larger half of what a span cost. This one writes each span once into a buffer that grows,
 * keeps the bytes of what spans repeat (names, attribute keys, attributes whose string value
 * repeats, the resource, the scope, the ids a trace's spans share) and reads renderq's spans' times
 * as kept, in milliseconds.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { kept } from './kept-values.js';

type Resource = ReadableSpan['resource'];
type Scope = ReadableSpan['instrumentationScope'];
/** A span's times as renderq's tracer keeps them (lean-tracer.ts), read when present rather than its HrTimes. */
interface MillisecondTimes {
  readonly startMs: number;
  readonly endMs: number;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
/** How many strings, and ids, are kept at most. */
const MAX_KEPT = 4_096;
/** Attribute values kept: for how many keys, how many values of each at most, and up to what length. */
const MAX_KEPT_KEYS = 64;
const MAX_KEPT_VALUES = 1_024;
const MAX_KEPT_VALUE = 128;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

const utf8 = new TextEncoder();
const EMPTY = new Uint8Array(0);

/** Encodes spans into requests, one at a time; one per exporter, since it keeps what batches repeat. */
export class OtlpSpanEncoder {
  #buffer = new Uint8Array(64 * 1024);
  #view = new DataView(this.#buffer.buffer);
  #pos = 0;
  readonly #strings = new Map<string, Uint8Array>();
  readonly #ids = new Map<string, Uint8Array>();
  readonly #keyValues = new Map<string, Map<string, Uint8Array>>();
  readonly #resources = new WeakMap<Resource, Uint8Array>();
  readonly #scopes = new WeakMap<Scope, Uint8Array>();

  /** Writes `span` into the request being gathered (see `takeRequest`). What one throws on is left out whole. */
  append(span: ReadableSpan): void {
    const from = this.#pos;
    try {
      this.#tag(2, WIRE_LENGTH);
      this.#span(span);
    } catch (error) {
      this.#pos = from;
      throw error;
    }
  }

  /** The request for the spans appended since the last take, all of `resource` and `scope`; starts the next, whatever happens. */
  takeRequest(resource: Resource, scope: Scope): Uint8Array {
    try {
      return this.#request(resource, scope);
    } finally {
      this.#pos = 0;
    }
  }

  #request(resource: Resource, scope: Scope): Uint8Array {
    const resourceBytes = this.#resourceBytes(resource);
    const scopeBytes = this.#scopeBytes(scope);
    const scopeSchema = scope.schemaUrl ? this.#aside(() => this.#stringField(3, scope.schemaUrl as string)) : EMPTY;
    const resourceSchema = resource.schemaUrl
      ? this.#aside(() => this.#stringField(3, resource.schemaUrl as string))
      : EMPTY;
    const spans = this.#buffer.subarray(0, this.#pos);
    const scopeSpansLength = scopeBytes.length + spans.length + scopeSchema.length;
    const resourceSpansLength =
      resourceBytes.length + 1 + varintSize(scopeSpansLength) + scopeSpansLength + resourceSchema.length;
    const request = new Uint8Array(1 + varintSize(resourceSpansLength) + resourceSpansLength);
    let at = 0;
    const put = (bytes: Uint8Array) => {
      request.set(bytes, at);
      at += bytes.length;
    };
    const length = (value: number) => {
      let v = value;
      while (v > 127) {
        request[at++] = (v & 127) | 128;
        v >>>= 7;
      }
      request[at++] = v;
    };
    request[at++] = (1 << 3) | WIRE_LENGTH;
    length(resourceSpansLength);
    put(resourceBytes);
    request[at++] = (2 << 3) | WIRE_LENGTH;
    length(scopeSpansLength);
    put(scopeBytes);
    put(spans);
    put(scopeSchema);
    put(resourceSchema);
    return request;
  }

  #span(span: ReadableSpan): void {
    const start = this.#open();
    const context = span.spanContext();
    const parent = span.parentSpanContext;
    this.#tag(1, WIRE_LENGTH);
    this.#keptId(context.traceId);
    this.#tag(2, WIRE_LENGTH);
    this.#id(context.spanId);
    const traceState = context.traceState?.serialize();
    if (traceState) this.#stringField(3, traceState);
    if (parent?.spanId) {
      this.#tag(4, WIRE_LENGTH);
      this.#keptId(parent.spanId);
    }
    this.#tag(5, WIRE_LENGTH);
    this.#keptString(span.name);
    const kind = span.kind == null ? 0 : span.kind + 1;
    if (kind !== 0) {
      this.#tag(6, WIRE_VARINT);
      this.#varint(kind);
    }
    this.#tag(7, WIRE_FIXED64);
    const { startMs, endMs } = span as Partial<MillisecondTimes>;
    if (startMs !== undefined && endMs !== undefined) {
      this.#timeMs(startMs);
      this.#tag(8, WIRE_FIXED64);
      this.#timeMs(endMs);
    } else {
      this.#time(span.startTime);
      this.#tag(8, WIRE_FIXED64);
      this.#time(span.endTime);
    }
    this.#spanAttributes(span.attributes);
    this.#tag(10, WIRE_VARINT);
    this.#varint(span.droppedAttributesCount);
    for (const event of span.events) {
      this.#tag(11, WIRE_LENGTH);
      const at = this.#open();
      this.#tag(1, WIRE_FIXED64);
      this.#time(event.time);
      this.#tag(2, WIRE_LENGTH);
      this.#keptString(event.name);
      this.#attributes(3, event.attributes);
      this.#tag(4, WIRE_VARINT);
      this.#varint(event.droppedAttributesCount || 0);
      this.#close(at);
    }
    this.#tag(12, WIRE_VARINT);
    this.#varint(span.droppedEventsCount);
    for (const link of span.links) {
      this.#tag(13, WIRE_LENGTH);
      const at = this.#open();
      this.#tag(1, WIRE_LENGTH);
      this.#keptId(link.context.traceId);
      this.#tag(2, WIRE_LENGTH);
      this.#id(link.context.spanId);
      const linkState = link.context.traceState?.serialize();
      if (linkState) this.#stringField(3, linkState);
      this.#attributes(4, link.attributes);
      this.#tag(5, WIRE_VARINT);
      this.#varint(link.droppedAttributesCount || 0);
      this.#tag(6, WIRE_FIXED32);
      this.#fixed32(spanFlags(link.context.traceFlags, link.context.isRemote));
      this.#close(at);
    }
    this.#tag(14, WIRE_VARINT);
    this.#varint(span.droppedLinksCount);
    this.#tag(15, WIRE_LENGTH);
    const status = this.#open();
    if (span.status.message) this.#stringField(2, span.status.message);
    this.#tag(3, WIRE_VARINT);
    this.#varint(span.status.code);
    this.#close(status);
    this.#tag(16, WIRE_FIXED32);
    this.#fixed32(spanFlags(context.traceFlags, parent?.isRemote));
    this.#close(start);
  }

  /** A Resource message with its field tag, made once per resource. */
  #resourceBytes(resource: Resource): Uint8Array {
    const kept = this.#resources.get(resource);
    if (kept) return kept;
    const bytes = this.#aside(() => {
      this.#tag(1, WIRE_LENGTH);
      const at = this.#open();
      this.#attributes(1, resource.attributes);
      this.#tag(2, WIRE_VARINT);
      this.#varint(0);
      this.#close(at);
    });
    // Attributes still being detected may change: keep the bytes only once they are settled.
    if (!resource.asyncAttributesPending) this.#resources.set(resource, bytes);
    return bytes;
  }

  /** An InstrumentationScope message with its field tag, made once per scope. */
  #scopeBytes(scope: Scope): Uint8Array {
    const kept = this.#scopes.get(scope);
    if (kept) return kept;
    const bytes = this.#aside(() => {
      this.#tag(1, WIRE_LENGTH);
      const at = this.#open();
      this.#stringField(1, scope.name);
      if (scope.version) this.#stringField(2, scope.version);
      // Newer scopes carry attributes; the type does not say so yet.
      const { attributes, droppedAttributesCount } = scope as Scope & {
        attributes?: Attributes;
        droppedAttributesCount?: number;
      };
      this.#attributes(3, attributes);
      if (droppedAttributesCount) {
        this.#tag(4, WIRE_VARINT);
        this.#varint(droppedAttributesCount);
      }
      this.#close(at);
    });
    this.#scopes.set(scope, bytes);
    return bytes;
  }

  /** What `write` writes, as bytes of its own, leaving the request being written as it was. */
  #aside(write: () => void): Uint8Array {
    const from = this.#pos;
    try {
      write();
      return this.#buffer.slice(from, this.#pos);
    } finally {
      this.#pos = from;
    }
  }

  /**
   * A span's attributes. A string value repeats from span to span (a tenant, a model, a status, a
   * job's id on each of its steps), so its whole KeyValue is kept, for each key, and copied.
   */
  #spanAttributes(attributes: Attributes): void {
    for (const key in attributes) {
      if (!Object.hasOwn(attributes, key)) continue;
      const value = attributes[key];
      if (typeof value === 'string' && value.length <= MAX_KEPT_VALUE) {
        const values = kept(this.#keyValues, key, MAX_KEPT_KEYS, () => new Map<string, Uint8Array>());
        const make = () => this.#aside(() => this.#keyValue(9, key, value));
        this.#raw(kept(values, value, MAX_KEPT_VALUES, make, ownCopy));
      } else {
        this.#keyValue(9, key, value);
      }
    }
  }

  #keyValue(field: number, key: string, value: unknown): void {
    this.#tag(field, WIRE_LENGTH);
    const keyValue = this.#open();
    this.#tag(1, WIRE_LENGTH);
    this.#keptString(key);
    this.#tag(2, WIRE_LENGTH);
    const at = this.#open();
    this.#anyValue(value);
    this.#close(at);
    this.#close(keyValue);
  }

  #attributes(field: number, attributes: Attributes | undefined): void {
    if (!attributes) return;
    for (const key in attributes) if (Object.hasOwn(attributes, key)) this.#keyValue(field, key, attributes[key]);
  }

  /** An AnyValue: what the SDK keeps as an attribute (strings, numbers, booleans, bytes, arrays and maps of them). */
  #anyValue(value: unknown): void {
    if (typeof value === 'string') {
      this.#stringField(1, value);
    } else if (typeof value === 'boolean') {
      this.#tag(2, WIRE_VARINT);
      this.#varint(value ? 1 : 0);
    } else if (typeof value === 'number') {
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        this.#tag(3, WIRE_VARINT);
        this.#varint(value);
      } else {
        this.#tag(4, WIRE_FIXED64);
        this.#room(8);
        this.#view.setFloat64(this.#pos, value, true);
        this.#pos += 8;
      }
    } else if (value instanceof Uint8Array) {
      this.#tag(7, WIRE_LENGTH);
      this.#bytes(value);
    } else if (Array.isArray(value)) {
      this.#tag(5, WIRE_LENGTH);
      const array = this.#open();
      for (const item of value) {
        this.#tag(1, WIRE_LENGTH);
        const at = this.#open();
        this.#anyValue(item);
        this.#close(at);
      }
      this.#close(array);
    } else if (typeof value === 'object' && value !== null) {
      this.#tag(6, WIRE_LENGTH);
      const list = this.#open();
      this.#attributes(1, value as Attributes);
      this.#close(list);
    }
    // null and undefined: an empty AnyValue, as OpenTelemetry's serializer writes them.
  }

  #tag(field: number, wire: number): void {
    this.#varint((field << 3) | wire);
  }

  /** A varint, as protobuf writes int64: a negative number as its 64-bit two's complement. */
  #varint(value: number): void {
    this.#room(10);
    const buffer = this.#buffer;
    if (value >= 0 && value <= 0xffff_ffff) {
      let v = value >>> 0;
      while (v > 127) {
        buffer[this.#pos++] = (v & 127) | 128;
        v >>>= 7;
      }
      buffer[this.#pos++] = v;
      return;
    }
    const magnitude = Math.abs(value);
    let low = magnitude >>> 0;
    let high = (magnitude / 0x1_0000_0000) >>> 0;
    if (value < 0) {
      low = (~low + 1) >>> 0;
      high = (~high + (low === 0 ? 1 : 0)) >>> 0;
    }
    while (high > 0 || low > 127) {
      buffer[this.#pos++] = (low & 127) | 128;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buffer[this.#pos++] = low & 127;
  }

  #fixed32(value: number): void {
    this.#room(4);
    this.#view.setUint32(this.#pos, value >>> 0, true);
    this.#pos += 4;
  }

  /**
   * Milliseconds since the epoch as nanoseconds, a fixed64: #time without an HrTime made first. Split
   * as lean-tracer.ts's hrTimeOf splits it (a test compares the bytes with those of its HrTimes).
   */
  #timeMs(ms: number): void {
    const seconds = Math.floor(ms / 1e3);
    const nanos = Math.round((ms - seconds * 1e3) * 1e6);
    if (nanos >= 1e9) this.#timeOf(seconds + 1, nanos - 1e9);
    else this.#timeOf(seconds, nanos);
  }

  /** An HrTime ([seconds, nanoseconds]) as nanoseconds since the epoch, a fixed64. */
  #time([seconds, nanos]: HrTime): void {
    this.#timeOf(seconds, nanos);
  }

  #timeOf(seconds: number, nanos: number): void {
    this.#room(8);
    // Seconds split in two so that no product passes 2^53: the low 16 bits, then the rest.
    const lowSecondsNanos = (seconds & 0xffff) * 1e9;
    const highSecondsNanos = ((seconds / 0x1_0000) >>> 0) * 1e9;
    const low = (lowSecondsNanos >>> 0) + ((((highSecondsNanos & 0xffff) * 0x1_0000) >>> 0) + nanos);
    const high =
      (Math.floor(lowSecondsNanos / 0x1_0000_0000) +
        ((highSecondsNanos / 0x1_0000) >>> 0) +
        Math.floor(low / 0x1_0000_0000)) >>>
      0;
    this.#view.setUint32(this.#pos, low >>> 0, true);
    this.#view.setUint32(this.#pos + 4, high, true);
    this.#pos += 8;
  }

  #stringField(field: number, value: string): void {
    this.#tag(field, WIRE_LENGTH);
    this.#string(value);
  }

  /** A length-delimited UTF-8 string. */
  #string(value: string): void {
    const length = value.length;
    if (length < 128) {
      let ascii = true;
      for (let i = 0; i < length; i += 1) {
        if (value.charCodeAt(i) > 127) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        this.#room(length + 1);
        const buffer = this.#buffer;
        let pos = this.#pos;
        buffer[pos++] = length;
        for (let i = 0; i < length; i += 1) buffer[pos++] = value.charCodeAt(i);
        this.#pos = pos;
        return;
      }
    }
    this.#bytes(utf8.encode(value));
  }

  /** A string every span repeats (a name, an attribute key), its UTF-8 kept. */
  #keptString(value: string): void {
    this.#bytes(kept(this.#strings, value, MAX_KEPT, (text) => utf8.encode(text)));
  }

  /** An id that the spans of a trace share (the trace's, the parent's), its bytes kept. */
  #keptId(hex: string): void {
    this.#bytes(kept(this.#ids, hex, MAX_KEPT, hexBytes));
  }

  /** A span's own id, written from hex straight into the buffer. */
  #id(hex: string): void {
    const length = hex.length >>> 1;
    this.#room(length + 1);
    const buffer = this.#buffer;
    let pos = this.#pos;
    buffer[pos++] = length;
    for (let i = 0; i < hex.length; i += 2) {
      buffer[pos++] = (hexDigit(hex.charCodeAt(i)) << 4) | hexDigit(hex.charCodeAt(i + 1));
    }
    this.#pos = pos;
  }

  #bytes(bytes: Uint8Array): void {
    this.#varint(bytes.length);
    this.#raw(bytes);
  }

  #raw(bytes: Uint8Array): void {
    this.#room(bytes.length);
    this.#buffer.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** Starts a length-delimited message: one byte kept for its length, which `close` writes. */
  #open(): number {
    this.#room(1);
    this.#pos += 1;
    return this.#pos;
  }

  /** Writes the length of the message begun at `start`, moving it along when that takes more than a byte. */
  #close(start: number): void {
    const length = this.#pos - start;
    if (length < 128) {
      this.#buffer[start - 1] = length;
      return;
    }
    const size = varintSize(length);
    this.#room(size - 1);
    this.#buffer.copyWithin(start - 1 + size, start, this.#pos);
    this.#pos += size - 1;
    let v = length;
    let at = start - 1;
    while (v > 127) {
      this.#buffer[at++] = (v & 127) | 128;
      v >>>= 7;
    }
    this.#buffer[at] = v;
  }

  #room(size: number): void {
    if (this.#pos + size <= this.#buffer.length) return;
    let length = this.#buffer.length * 2;
    while (length < this.#pos + size) length *= 2;
    const grown = new Uint8Array(length);
    grown.set(this.#buffer.subarray(0, this.#pos));
    this.#buffer = grown;
    this.#view = new DataView(grown.buffer);
  }
}

/** OTLP's span flags: the W3C trace flags, and whether the parent's context came from another process. */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value >>> 7; v > 0; v >>>= 7) size += 1;
  return size;
}

/**
 * A string that holds only its own characters. In V8 a string cut from a larger one (a slice, a
 * part of an answer) shares that string's characters and keeps all of it alive, and a kept value
 * lives until a thousand others of its key have come: 64 job ids cut from 256 KiB answers held
 * 16 MiB (a test shows it).
 */
function ownCopy(text: string): string {
  return ` ${text}`.slice(1);
}

function hexDigit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  return code - 55;
}

function hexBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < bytes.length; i += 1) {
    bytes[i] = (hexDigit(hex.charCodeAt(2 * i)) << 4) | hexDigit(hex.charCodeAt(2 * i + 1));
  }
  return bytes;
}
