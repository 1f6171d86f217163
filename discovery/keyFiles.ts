/**
 * Key and authorisation files as `keygen` writes them (JSON, private keys 0600):
 *   operator key  { "name", "publicKey", "privateKeyPem" }
 *   node key      { "publicKey", "privateKeyPem" }
 *   authorisation { "operator", "operatorKey", "signature" }   (the operator signs node id + node key)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { object, string } from '../protocol/schema.js';
import { authorizationSchema, nodeId, publicKeyField, type OperatorAuthorization } from '../protocol/discovery.js';
import { DiscoveryError, parseBody } from './errors.js';
import { publicKeyFromPrivate } from './identity.js';

const nodeKeySchema = object({ publicKey: publicKeyField(), privateKeyPem: string(8192) });
const operatorKeySchema = object({ name: nodeId(), publicKey: publicKeyField(), privateKeyPem: string(8192) });

export interface NodeKeyFile {
  publicKey: string;
  privateKeyPem: string;
}
export interface OperatorKeyFile extends NodeKeyFile {
  name: string;
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TypeError(`cannot read ${what} ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new TypeError(`${what} ${path} is not JSON; create it with \`edge-offload discovery keygen\``);
  }
}

function parseFile<T>(schema: Parameters<typeof parseBody<T>>[0], path: string, what: string): T {
  try {
    return parseBody(schema, readJsonFile(path, what), what);
  } catch (err) {
    if (err instanceof DiscoveryError) throw new TypeError(`${path}: ${err.message}; create it with \`edge-offload discovery keygen\``);
    throw err;
  }
}

function checkPair(key: NodeKeyFile, path: string): void {
  if (publicKeyFromPrivate(key.privateKeyPem) !== key.publicKey) throw new TypeError(`${path}: publicKey does not belong to privateKeyPem`);
}

export function readNodeKey(path: string): NodeKeyFile {
  const key = parseFile(nodeKeySchema, path, 'node key file');
  checkPair(key, path);
  return key;
}

export function readOperatorKey(path: string): OperatorKeyFile {
  const key = parseFile(operatorKeySchema, path, 'operator key file');
  checkPair(key, path);
  return key;
}

export function readAuthorization(path: string): OperatorAuthorization {
  return parseFile(authorizationSchema, path, 'authorisation file');
}

/** Writes JSON; `secret` files are created owner-only. */
export function writeJsonFile(path: string, value: unknown, secret: boolean): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n', { mode: secret ? 0o600 : 0o644, flag: 'wx' });
}
