/**
 * What a node tells discovery about itself, and the signed envelopes that carry it. Schemas are
 * built from the protocol's combinators, so a registration is checked field by field (and only
 * known fields survive) before any signature is even looked at.
 */
import { CAPABILITIES, NODE_TIERS, DEFAULT_LIMITS, ProtocolError, type WireLimits } from '../protocol/index.js';
import { array, fail, number, object, oneOf, optional, string, uint, type Infer, type Schema } from '../protocol/schema.js';
import { DiscoveryError, DiscoveryErrorCode } from './errors.js';

/** Adds a check to a schema; the message names the field path like the protocol's own errors. */
function refine<T>(inner: Schema<T>, check: (value: T) => string | undefined): Schema<T> {
  return {
    parse(value, path, limits) {
      const parsed = inner.parse(value, path, limits);
      const problem = check(parsed);
      if (problem !== undefined) fail(path, problem);
      return parsed;
    },
  };
}

const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** Ed25519 public keys travel as the raw 32 bytes in base64url: 43 characters. */
const KEY_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Ed25519 signatures: 64 bytes in base64url, 86 characters. */
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{86}$/;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

export const nodeId = () => refine(string(128), (v) => (ID_PATTERN.test(v) ? undefined : 'must be 1-128 characters of A-Z a-z 0-9 . _ : -'));
export const publicKeyField = () => refine(string(64), (v) => (KEY_PATTERN.test(v) ? undefined : 'is not a base64url Ed25519 public key'));
export const signatureField = () => refine(string(128), (v) => (SIGNATURE_PATTERN.test(v) ? undefined : 'is not a base64url Ed25519 signature'));
const nonceField = () => refine(string(64), (v) => (NONCE_PATTERN.test(v) ? undefined : 'must be 16-64 base64url characters'));
const sessionUrl = () =>
  refine(string(2048), (v) => {
    try {
      const url = new URL(v);
      return url.protocol === 'ws:' || url.protocol === 'wss:' ? undefined : 'must be a ws:// or wss:// URL';
    } catch {
      return 'is not a URL';
    }
  });

export const nodeDescriptorSchema = refine(
  object({
    id: nodeId(),
    publicKey: publicKeyField(),
    url: sessionUrl(),
    tier: oneOf(NODE_TIERS),
    lat: optional(number(-90, 90)),
    lon: optional(number(-180, 180)),
    /** The node's public IP, located with geoip when lat/lon are absent. */
    ip: optional(string(64)),
    caps: array(oneOf(CAPABILITIES), () => CAPABILITIES.length),
    /** Concurrent sessions the node accepts. */
    capacity: uint(1_000_000),
    pricePerMinute: number(0, 1_000_000),
    /** Name of the operator whose key authorises this node. */
    operator: nodeId(),
  }),
  (d) => ((d.lat === undefined) !== (d.lon === undefined) ? 'needs both lat and lon, or neither' : d.lat === undefined && d.ip === undefined ? 'needs lat/lon or ip' : undefined),
);
export type NodeDescriptor = Infer<typeof nodeDescriptorSchema>;

export const authorizationSchema = object({
  operator: nodeId(),
  /** The operator's public key; discovery looks it up in its trusted set. */
  operatorKey: publicKeyField(),
  /** Operator signature over (node id, node public key). */
  signature: optional(signatureField()),
});
export type OperatorAuthorization = Infer<typeof authorizationSchema>;

const epochMs = () => uint(8_640_000_000_000_000);

export const registrationSchema = object({
  descriptor: nodeDescriptorSchema,
  /** Unix epoch ms when signed. */
  timestamp: epochMs(),
  nonce: nonceField(),
  /** Node signature over (descriptor, timestamp, nonce). Optional here so its absence gets its own code. */
  signature: optional(signatureField()),
  authorization: optional(authorizationSchema),
});
export type Registration = Infer<typeof registrationSchema>;

export const heartbeatSchema = object({
  id: nodeId(),
  timestamp: epochMs(),
  nonce: nonceField(),
  /** 0 idle … 1 saturated. */
  load: number(0, 1),
  /** Sessions the node can still accept. */
  freeCapacity: uint(1_000_000),
  signature: optional(signatureField()),
});
export type Heartbeat = Infer<typeof heartbeatSchema>;

const latField = () => optional(number(-90, 90));
const lonField = () => optional(number(-180, 180));

export const querySchema = object({
  lat: latField(),
  lon: lonField(),
  k: optional(uint(64)),
  kCloud: optional(uint(16)),
  caps: optional(array(oneOf(CAPABILITIES), () => CAPABILITIES.length)),
  maxPrice: optional(number(0)),
});
export type Query = Infer<typeof querySchema>;

export const reportSchema = object({
  lat: latField(),
  lon: lonField(),
  reports: array(object({ id: nodeId(), rttMs: optional(number(0, 60_000)) }), () => 64),
});
export type ReportBatch = Infer<typeof reportSchema>;

/** Parses an untrusted value; schema violations become `MALFORMED` (or `TOO_LARGE`) discovery errors. */
export function parseBody<T>(schema: Schema<T>, value: unknown, what: string, limits: WireLimits = DEFAULT_LIMITS): T {
  try {
    return schema.parse(value, what, limits);
  } catch (err) {
    if (err instanceof ProtocolError) {
      throw new DiscoveryError(err.code === 'TOO_LARGE' ? DiscoveryErrorCode.TOO_LARGE : DiscoveryErrorCode.MALFORMED, err.message);
    }
    throw err;
  }
}
