/**
 * The operator keys this discovery trusts. From a JSON file (`--operators <file>`) or the env var
 * `DISCOVERY_OPERATORS` holding the same JSON: `{ "operators": [ { "name": "acme", "publicKey": "<base64url>" } ] }`.
 * (`keygen operator` prints an entry in this shape.)
 */
import { readFileSync } from 'node:fs';
import { array, object } from '../protocol/schema.js';
import { nodeId, publicKeyField } from '../protocol/discovery.js';
import { DiscoveryError, parseBody } from './errors.js';

const trustFileSchema = object({ operators: array(object({ name: nodeId(), publicKey: publicKeyField() }), () => 10_000) });

export class TrustedOperators {
  /** operator public key → operator name */
  readonly #byKey = new Map<string, string>();

  constructor(operators: ReadonlyArray<{ name: string; publicKey: string }> = []) {
    for (const op of operators) this.#byKey.set(op.publicKey, op.name);
  }

  static fromJson(text: string, origin: string): TrustedOperators {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new TypeError(`${origin} is not JSON (${(err as Error).message}); expected {"operators":[{"name":…,"publicKey":…}]}`);
    }
    try {
      return new TrustedOperators(parseBody(trustFileSchema, value, origin).operators);
    } catch (err) {
      if (err instanceof DiscoveryError) throw new TypeError(`${err.message}; expected {"operators":[{"name":…,"publicKey":…}]}`);
      throw err;
    }
  }

  static fromFile(path: string): TrustedOperators {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new TypeError(`cannot read operators file ${path}: ${(err as Error).message}`);
    }
    return TrustedOperators.fromJson(text, path);
  }

  /** `--operators` file if given, else `DISCOVERY_OPERATORS`, else nobody (every registration is refused). */
  static load(path?: string): TrustedOperators {
    if (path !== undefined) return TrustedOperators.fromFile(path);
    const env = process.env.DISCOVERY_OPERATORS;
    return env ? TrustedOperators.fromJson(env, 'DISCOVERY_OPERATORS') : new TrustedOperators();
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** The operator name this key belongs to, or undefined when untrusted. */
  nameOf(publicKey: string): string | undefined {
    return this.#byKey.get(publicKey);
  }
}
