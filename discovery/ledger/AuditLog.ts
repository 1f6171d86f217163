/**
 * The ledger's audit log: every change, hash-chained and signed by discovery's audit key, as JSON
 * lines anyone can verify offline (`edge-offload audit verify <file>`). The first line is a header
 * (format, the audit public key, the ledger's rules' parameters); each entry's `prev` is the
 * previous entry's hash (the header's for the first), its `hash` is SHA-256 over `prev` and the
 * canonical JSON of (seq, time, op, result), and `sig` is Ed25519 over that hash. Verification
 * also replays every op with the rules and checks each recorded result, so a log whose
 * signatures hold but whose arithmetic was bent still fails.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, signPayload, verifyPayload, publicKeyFromPrivate } from '../identity.js';
import { TrustError, TrustErrorCode } from '../trustErrors.js';
import { applyOp, emptyState, type LedgerOp, type LedgerParams, type LedgerResult, type LedgerState } from './rules.js';

export const AUDIT_FORMAT = 'edge-offload/ledger-audit/v1';
const AUDIT_DOMAIN = 'edge-offload/ledger-audit/entry/v1';

export interface AuditHeader {
  format: typeof AUDIT_FORMAT;
  publicKey: string;
  params: LedgerParams;
}

export interface AuditBody {
  seq: number;
  time: number;
  op: LedgerOp;
  result: LedgerResult;
}

export interface AuditEntry extends AuditBody {
  prev: string;
  hash: string;
  sig: string;
}

export function headerHash(header: AuditHeader): string {
  return createHash('sha256').update(canonicalJson(header)).digest('base64url');
}

export function entryHash(prev: string, body: AuditBody): string {
  return createHash('sha256').update(`${prev}\n${canonicalJson({ seq: body.seq, time: body.time, op: body.op, result: body.result })}`).digest('base64url');
}

/** Signs bodies in sequence order onto the chain; the caller stores what it returns. */
export class AuditSigner {
  readonly header: AuditHeader;
  readonly #privateKeyPem: string;
  #head: { seq: number; hash: string };

  constructor(privateKeyPem: string, params: LedgerParams, head?: { seq: number; hash: string }) {
    this.#privateKeyPem = privateKeyPem;
    this.header = { format: AUDIT_FORMAT, publicKey: publicKeyFromPrivate(privateKeyPem), params };
    this.#head = head ?? { seq: 0, hash: headerHash(this.header) };
  }

  get head(): { seq: number; hash: string } {
    return this.#head;
  }

  sign(body: AuditBody): AuditEntry {
    if (body.seq !== this.#head.seq + 1) throw new Error(`audit entry ${body.seq} out of order (head ${this.#head.seq})`);
    const hash = entryHash(this.#head.hash, body);
    const entry: AuditEntry = { ...body, prev: this.#head.hash, hash, sig: signPayload(AUDIT_DOMAIN, { hash }, this.#privateKeyPem) };
    this.#head = { seq: body.seq, hash };
    return entry;
  }
}

export function auditFile(header: AuditHeader, entries: readonly AuditEntry[]): string {
  return [JSON.stringify(header), ...entries.map((e) => JSON.stringify(e))].join('\n') + '\n';
}

export interface AuditReport {
  entries: number;
  publicKey: string;
  state: LedgerState;
}

function broken(line: number, why: string): never {
  throw new TrustError(TrustErrorCode.AUDIT_BROKEN, `line ${line}: ${why}`);
}

/**
 * Verifies an audit file offline. `trustedKey` (base64url) pins the signer; without it the
 * header's key is used and the caller must check it is discovery's.
 */
export function verifyAuditLog(text: string, trustedKey?: string): AuditReport {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) broken(1, 'empty file');
  let header: AuditHeader;
  try {
    header = JSON.parse(lines[0]!) as AuditHeader;
  } catch {
    broken(1, 'the header is not JSON');
  }
  if (header.format !== AUDIT_FORMAT || typeof header.publicKey !== 'string' || typeof header.params !== 'object' || header.params === null) broken(1, `not an ${AUDIT_FORMAT} header`);
  if (trustedKey !== undefined && header.publicKey !== trustedKey) broken(1, 'signed with another key than the trusted one');
  const state = emptyState();
  let prev = headerHash(header);
  for (let i = 1; i < lines.length; i++) {
    let e: AuditEntry;
    try {
      e = JSON.parse(lines[i]!) as AuditEntry;
    } catch {
      broken(i + 1, 'not JSON');
    }
    if (e.seq !== i) broken(i + 1, `sequence ${e.seq}, expected ${i}`);
    if (e.prev !== prev) broken(i + 1, 'does not chain to the previous entry');
    if (entryHash(prev, e) !== e.hash) broken(i + 1, 'its hash does not match its content');
    if (!verifyPayload(AUDIT_DOMAIN, { hash: e.hash }, e.sig, header.publicKey)) broken(i + 1, 'bad signature');
    let result: LedgerResult;
    try {
      result = applyOp(state, e.op, header.params);
    } catch (err) {
      broken(i + 1, `the op does not apply: ${(err as Error).message}`);
    }
    if (canonicalJson(result) !== canonicalJson(e.result)) broken(i + 1, 'the recorded result is not what the rules give');
    prev = e.hash;
  }
  return { entries: lines.length - 1, publicKey: header.publicKey, state };
}
