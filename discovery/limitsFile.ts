/**
 * Discovery's rate limits from a file (`discovery --limits limits.json`, or env DISCOVERY_LIMITS),
 * so an operator can tune every limit without code: the file names only what it changes, in the
 * shape of `ClientLimitOptions`:
 *
 *   { "perAddress": { "query": { "ratePerSecond": 200, "burst": 1000 } },
 *     "perIdentity": { "heartbeat": { "ratePerSecond": 10, "burst": 40 } } }
 *
 * An unknown scope or operation, or a bad number, stops discovery at start with a code (the edge's
 * config file uses the same codes), so a typo is never silently a default.
 * `discovery --print-limits` writes the effective limits in the same format.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_ADDRESS_LIMITS, DEFAULT_IDENTITY_LIMITS, DEFAULT_SUBNET_LIMITS, type ClientLimitOptions } from './clientLimits.js';
import type { RateLimit } from './rateLimit.js';
import { ConfigError } from '../protocol/server/ConfigError.js';

export const LIMITS_ENV = 'DISCOVERY_LIMITS';
/** A limits file is a few hundred bytes; anything near this is not one. */
const MAX_FILE_BYTES = 64 * 1024;

const SCOPES = { perAddress: DEFAULT_ADDRESS_LIMITS, perSubnet: DEFAULT_SUBNET_LIMITS, perIdentity: DEFAULT_IDENTITY_LIMITS } as const;
type Scope = keyof typeof SCOPES;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseLimit(raw: unknown, where: string): RateLimit {
  if (!isObject(raw)) throw new ConfigError('CONFIG_BAD_VALUE', `${where} must be {"ratePerSecond": N, "burst": N}`);
  for (const key of Object.keys(raw)) if (key !== 'ratePerSecond' && key !== 'burst') throw new ConfigError('CONFIG_UNKNOWN_KEY', `${where}.${key} is not a limit field (ratePerSecond, burst)`);
  const { ratePerSecond, burst } = raw;
  if (typeof ratePerSecond !== 'number' || !Number.isFinite(ratePerSecond) || ratePerSecond <= 0) throw new ConfigError('CONFIG_BAD_VALUE', `${where}.ratePerSecond must be a positive number, got ${JSON.stringify(ratePerSecond)}`);
  if (typeof burst !== 'number' || !Number.isSafeInteger(burst) || burst < 1) throw new ConfigError('CONFIG_BAD_VALUE', `${where}.burst must be a whole number ≥ 1, got ${JSON.stringify(burst)}`);
  return { ratePerSecond, burst };
}

/** Checks a parsed limits document; `origin` names it in errors (a file path). */
export function parseClientLimits(doc: unknown, origin: string): ClientLimitOptions {
  if (!isObject(doc)) throw new ConfigError('CONFIG_BAD_VALUE', `${origin}: must be a JSON object with perAddress, perSubnet and/or perIdentity`);
  const options: Record<string, Record<string, RateLimit>> = {};
  for (const [scope, ops] of Object.entries(doc)) {
    if (!Object.hasOwn(SCOPES, scope)) throw new ConfigError('CONFIG_UNKNOWN_KEY', `${origin}: unknown scope '${scope}' (perAddress, perSubnet, perIdentity)`);
    if (!isObject(ops)) throw new ConfigError('CONFIG_BAD_VALUE', `${origin}: ${scope} must map operations to limits`);
    const known = SCOPES[scope as Scope];
    const parsed: Record<string, RateLimit> = {};
    for (const [op, limit] of Object.entries(ops)) {
      if (!Object.hasOwn(known, op)) throw new ConfigError('CONFIG_UNKNOWN_KEY', `${origin}: ${scope} has no operation '${op}' (${Object.keys(known).join(', ')})`);
      parsed[op] = parseLimit(limit, `${origin}: ${scope}.${op}`);
    }
    options[scope] = parsed;
  }
  return options as ClientLimitOptions;
}

/** The file named by the flag, else by DISCOVERY_LIMITS; none: the defaults (an empty options object). */
export function loadClientLimits(file: string | undefined, env: NodeJS.ProcessEnv = process.env): ClientLimitOptions {
  const path = file ?? env[LIMITS_ENV];
  if (path === undefined || path === '') return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('CONFIG_UNREADABLE', `cannot read limits file ${path}: ${(err as Error).message}`);
  }
  if (text.length > MAX_FILE_BYTES) throw new ConfigError('CONFIG_BAD_VALUE', `${path}: larger than ${MAX_FILE_BYTES} bytes; is it a limits file?`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('CONFIG_BAD_VALUE', `${path}: not JSON (${(err as Error).message})`);
  }
  return parseClientLimits(doc, path);
}
