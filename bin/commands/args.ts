/** Flag parsing shared by the subcommands: node:util parseArgs plus --help and clear errors. */
import { parseArgs } from 'node:util';

/** Flags a command takes; all are strings (numbers are checked by `intFlag`) or booleans. */
export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses `argv` against `flags`; prints `help` and returns undefined for --help. Unknown flags
 * throw with the help text appended, so the user sees what is accepted.
 */
export function parseCommandArgs(argv: string[], flags: FlagSpec, help: string): ParsedArgs | undefined {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs({ args: argv, options: { ...flags, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true }) as ParsedArgs;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n\n${help}`);
  }
  if (parsed.values.help) {
    console.log(help);
    return undefined;
  }
  return parsed;
}

export function stringFlag(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function intFlag(value: string | boolean | undefined, name: string, min = 0, max = 65535): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in [${min}, ${max}], got '${value}'`);
  return n;
}

/** A finite number flag in [min, max] (durations in seconds, rates in Hz). */
export function numberFlag(value: string | boolean | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`--${name} must be a number in [${min}, ${max}], got '${value}'`);
  return n;
}
