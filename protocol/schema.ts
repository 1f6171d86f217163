/**
 * A tiny schema language for wire messages. Each schema checks an untrusted decoded value and
 * returns a value holding only the fields it knows, so nothing a peer sent beyond the schema
 * (extra keys, odd prototypes) ever reaches a handler. Types are inferred from schemas, so the
 * TypeScript types and the runtime checks cannot drift apart.
 *
 * Checked in place: a plain object or array that is already exactly what its schema returns (no
 * unknown or undefined fields, plain prototype, every field unchanged by its own schema) is
 * returned itself, not copied; anything else gets a fresh value built from the known fields.
 * Why: a decoded frame is fresh and owned by its receiver, and copying every object and vector
 * of every pose twice per frame (decode, and the answer's encode) was ~3 KB of garbage and a few
 * µs per predict at 90 Hz × hundreds of sessions (issue #15; the young-generation collections it
 * caused were the node's round-trip tail). The price: a caller that parses a value it will go on
 * mutating must copy it itself (none does: decode's values are fresh, encode packs at once).
 *
 * Field paths in errors (`predict.poses[0].position is not a vector`) are assembled while a
 * `FieldError` unwinds, not passed down while parsing: every message is parsed, few fail, and
 * a path string per field per message was garbage on the hot path.
 */
import { ErrorCode, ProtocolError, RequestError } from './errors.js';
import type { WireLimits } from './limits.js';

export interface Schema<T> {
  /** `path` names the value in errors; nested schemas get '' and their parent prefixes it. */
  parse(value: unknown, path: string, limits: WireLimits): T;
}

/**
 * Wire-validation errors are answered to the peer (or counted), never logged with a stack, and a
 * peer decides how many we make: capturing stacks was most of a refused frame's cost (a pose with
 * a zero quaternion took 35 µs to refuse, 1 µs to accept; issue #15 attack 5, an error flood).
 * So the two classes below capture no stack frames (`stack` is just "Name: message"), and a
 * nested schema's error gets its path prefixed in place (`within`) instead of a new error per level.
 */
const STACKLESS = 0;

/** A value broke its schema at `field` (relative until the outermost schema adds its own name). */
export class FieldError extends ProtocolError {
  field: string;
  readonly problem: string;
  constructor(code: ErrorCode, field: string, problem: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = STACKLESS;
    super(code, field === '' ? problem : `${field} ${problem}`);
    Error.stackTraceLimit = limit;
    this.field = field;
    this.problem = problem;
  }
}

/**
 * A well-formed value the protocol cannot use (a zero quaternion, a position a million km away):
 * the request is refused `BAD_REQUEST` and the session goes on, where a malformed one (a string
 * for a number) breaks the protocol and closes it. `requestId` is the id of the message it was
 * in, when that message had one (set by `validate`), so the refusal answers that request.
 */
export class ValueError extends RequestError {
  field: string;
  readonly problem: string;
  requestId: number | undefined;
  constructor(field: string, problem: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = STACKLESS;
    super(ErrorCode.BAD_REQUEST, field === '' ? problem : `${field} ${problem}`);
    Error.stackTraceLimit = limit;
    this.field = field;
    this.problem = problem;
  }
}

/** Refuses a well-formed but unusable value at `path` (BAD_REQUEST, not fatal). */
export function reject(path: string, what: string): never {
  throw new ValueError(path, what);
}

function joinPath(outer: string, inner: string): string {
  if (outer === '') return inner;
  if (inner === '') return outer;
  return inner.startsWith('[') ? outer + inner : `${outer}.${inner}`;
}

/** Rethrows a FieldError or ValueError from inside `outer` with its path extended; anything else unchanged. */
function within(err: unknown, outer: string): never {
  if (err instanceof FieldError || err instanceof ValueError) {
    err.field = joinPath(outer, err.field);
    err.message = err.field === '' ? err.problem : `${err.field} ${err.problem}`;
  }
  throw err;
}
export type Infer<S> = S extends Schema<infer T> ? T : never;

const OPTIONAL = Symbol('optional');
interface OptionalSchema<T> extends Schema<T | undefined> {
  [OPTIONAL]: true;
}

/** Throws the schema error for `what` (e.g. 'is not a string') at `path`. */
export function fail(path: string, what: string): never {
  throw new FieldError(ErrorCode.BAD_MESSAGE, path, what);
}

function tooLarge(path: string, what: string): never {
  throw new FieldError(ErrorCode.TOO_LARGE, path, what);
}

export function literal<const L extends string>(expected: L): Schema<L> {
  return {
    parse(value, path) {
      if (value !== expected) fail(path, `must be '${expected}'`);
      return expected;
    },
  };
}

export function oneOf<const L extends readonly string[]>(choices: L): Schema<L[number]> {
  const allowed = new Set<string>(choices);
  return {
    parse(value, path) {
      if (typeof value !== 'string' || !allowed.has(value)) fail(path, `must be one of ${choices.join(', ')}`);
      return value as L[number];
    },
  };
}

export function string(maxBytes?: number): Schema<string> {
  return {
    parse(value, path, limits) {
      if (typeof value !== 'string') fail(path, 'is not a string');
      // length is in UTF-16 units; ×3 bounds the UTF-8 byte count without encoding it
      if (value.length * 3 > (maxBytes ?? limits.maxStringBytes) && new TextEncoder().encode(value).length > (maxBytes ?? limits.maxStringBytes)) {
        tooLarge(path, `is longer than ${maxBytes ?? limits.maxStringBytes} bytes`);
      }
      return value;
    },
  };
}

export function boolean(): Schema<boolean> {
  return {
    parse(value, path) {
      if (typeof value !== 'boolean') fail(path, 'is not a boolean');
      return value;
    },
  };
}

/** A finite number within [min, max]. NaN and ±Infinity never pass. */
export function number(min = -Number.MAX_VALUE, max = Number.MAX_VALUE): Schema<number> {
  return {
    parse(value, path) {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, 'is not a finite number');
      if (value < min || value > max) fail(path, `is out of range [${min}, ${max}]`);
      return value;
    },
  };
}

/** A non-negative safe integer (request ids, sizes). */
export function uint(max = Number.MAX_SAFE_INTEGER): Schema<number> {
  return {
    parse(value, path) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(path, 'is not a non-negative integer');
      if (value > max) fail(path, `is over ${max}`);
      return value;
    },
  };
}

/** A fixed-length tuple of finite numbers (vectors, quaternions). */
export function numbers<T extends number[]>(length: T['length'], what: string): Schema<T> {
  return {
    parse(value, path) {
      if (!Array.isArray(value) || value.length !== length) fail(path, `is not ${what}`);
      for (let i = 0; i < length; i++) {
        const element: unknown = value[i];
        if (typeof element !== 'number' || !Number.isFinite(element)) fail(path, `is not ${what}`);
      }
      // a plain array of exactly the numbers is already the answer (see the top of this file)
      return (Object.getPrototypeOf(value) === Array.prototype ? value : Array.from(value as number[])) as T;
    },
  };
}

export function bytes(maxBytes?: (limits: WireLimits) => number): Schema<Uint8Array> {
  return {
    parse(value, path, limits) {
      if (!(value instanceof Uint8Array)) fail(path, 'is not binary');
      const cap = maxBytes?.(limits) ?? limits.maxFrameBytes;
      if (value.byteLength > cap) tooLarge(path, `is over ${cap} bytes`);
      return value;
    },
  };
}

export function array<T>(element: Schema<T>, maxLength?: (limits: WireLimits) => number): Schema<T[]> {
  return {
    parse(value, path, limits) {
      if (!Array.isArray(value)) fail(path, 'is not an array');
      const cap = maxLength?.(limits) ?? limits.maxCollectionLength;
      if (value.length > cap) tooLarge(path, `has more than ${cap} entries`);
      // copied only once an element's schema changed it, or for an array of another prototype
      let out: T[] | undefined = Object.getPrototypeOf(value) === Array.prototype ? undefined : [];
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        let parsed: T;
        try {
          parsed = element.parse(item, '', limits);
        } catch (err) {
          within(err, joinPath(path, `[${i}]`));
        }
        if (out === undefined && parsed !== item) out = (value as T[]).slice(0, i);
        if (out !== undefined) out.push(parsed);
      }
      return out ?? (value as T[]);
    },
  };
}

export function optional<T>(inner: Schema<T>): OptionalSchema<T> {
  return {
    [OPTIONAL]: true,
    parse(value, path, limits) {
      return value === undefined || value === null ? undefined : inner.parse(value, path, limits);
    },
  };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type ObjectOf<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined> }
>;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An object with known keys; unknown keys are dropped (forward compatibility), never copied. */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const keys = Object.keys(shape);
  return {
    parse(value, path, limits) {
      if (!isPlainObject(value)) fail(path, 'is not an object');
      // built only once a field's schema changed (or dropped) its value: until then `value` is the answer
      let out: Record<string, unknown> | undefined;
      let kept = 0;
      for (let k = 0; k < keys.length; k++) {
        const key = keys[k]!;
        const field = Object.hasOwn(value, key) ? value[key] : undefined;
        let parsed: unknown;
        try {
          parsed = shape[key]!.parse(field, '', limits);
        } catch (err) {
          within(err, joinPath(path, key));
        }
        if (out === undefined && parsed !== field) out = copyKnown(value, keys, k);
        if (parsed === undefined) continue;
        kept++;
        if (out !== undefined) out[key] = parsed;
      }
      // as it came, unless it carries more keys than the schema kept (unknown ones, or undefined values)
      if (out === undefined && ownKeyCount(value) !== kept) out = copyKnown(value, keys, keys.length);
      return (out ?? value) as ObjectOf<S>;
    },
  };
}

/** A fresh object with `keys[0..end)` of `value` that are defined (their schemas kept them as they were). */
function copyKnown(value: Record<string, unknown>, keys: readonly string[], end: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let k = 0; k < end; k++) {
    const key = keys[k]!;
    if (Object.hasOwn(value, key) && value[key] !== undefined) out[key] = value[key];
  }
  return out;
}

/** Enumerable string keys of a plain object, counted without building the array `Object.keys` would. */
function ownKeyCount(value: Record<string, unknown>): number {
  let n = 0;
  // for…in also walks inherited enumerable keys: a polluted Object.prototype makes the count
  // larger, which only means a copy (the safe way)
  for (const _ in value) n++;
  return n;
}
