/**
 * The discovery API as a contract shared by discovery (server, node agent) and the client SDK's
 * locator: routes, error codes, and a schema for every body either side receives. Each side
 * parses what the other sent with these schemas (protocol/schema.ts), so the TypeScript types
 * and the runtime checks cannot drift apart, and a client treats discovery's answers as the
 * untrusted peer input they are. Browser-safe: no Node imports.
 *
 * Two ways in, one port:
 * - HTTP + the request/answer ws (`/v1/ws`): register, heartbeat (signed, one per interval),
 *   query, report.
 * - The node channel (`/v1/node`, ws): a node authenticates once by signing a registration over
 *   the connection's challenge, then stays alive by answering ws pings and pushes its load only
 *   when it changes. See `NodeChannel` below.
 */
import { CAPABILITIES, NODE_TIERS } from './messages.js';
import { array, boolean, fail, literal, number, object, oneOf, optional, string, uint, type Infer, type Schema } from './schema.js';

export const DiscoveryRoute = {
  register: '/v1/register',
  heartbeat: '/v1/heartbeat',
  query: '/v1/query',
  report: '/v1/report',
  /** POST evidence that a node answered wrongly (protocol/evidence.ts) → `EvidenceAnswer`. */
  evidence: '/v1/evidence',
  /** POST `{ ids }` → `{ ejected }`: a session's check that its node was not ejected meanwhile. */
  standing: '/v1/standing',
  /**
   * POST an infer trap's `{ model, input }` (protocol/inferEvidence.ts) → `{ payload, signature }`:
   * discovery's engine runs it and signs the result (served only with `--verify-infer --reference-key`).
   */
  inferReference: '/v1/reference/infer',
  /** POST a frame trap's `{ request, frame }` → `{ payload, signature }`: its PSNR against discovery's render (`--verify-render --reference-key`). */
  frameReference: '/v1/reference/frame',
  /** GET the stake ledger's signed audit log (JSON lines) for `edge-offload audit verify`. */
  audit: '/v1/audit',
  health: '/healthz',
  ws: '/v1/ws',
  node: '/v1/node',
} as const;

/**
 * Stable error codes of the discovery API. Every rejection a node or client can see carries one;
 * callers switch on `code`, never on the message text.
 */
export const DiscoveryErrorCode = {
  /** The body is not JSON. */
  BAD_JSON: 'BAD_JSON',
  /** JSON, but not the shape the endpoint expects (field path in the message). */
  MALFORMED: 'MALFORMED',
  /** The body is over the endpoint's size cap. */
  TOO_LARGE: 'TOO_LARGE',
  /** A registration or heartbeat without a signature. */
  UNSIGNED: 'UNSIGNED',
  /** The node signature does not verify against the node's public key. */
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** No operator authorisation, an operator this discovery does not trust, or a bad operator signature. */
  UNAUTHORISED_OPERATOR: 'UNAUTHORISED_OPERATOR',
  /** The signed timestamp is outside the accepted clock-skew window. */
  STALE_TIMESTAMP: 'STALE_TIMESTAMP',
  /** The nonce was already used inside the skew window. */
  REPLAYED_NONCE: 'REPLAYED_NONCE',
  /** The id is registered under another public key that is still alive. */
  ID_TAKEN: 'ID_TAKEN',
  /** A heartbeat for a node the registry does not hold (expired or never registered): register again. */
  UNKNOWN_NODE: 'UNKNOWN_NODE',
  /** Node channel: a registration not signed over this connection's challenge (replayed from another connection). */
  BAD_CHALLENGE: 'BAD_CHALLENGE',
  /** Node channel: a status update before the connection registered. */
  NOT_AUTHENTICATED: 'NOT_AUTHENTICATED',
  /** Node channel: an update naming another node than the one this connection registered. */
  WRONG_CONNECTION: 'WRONG_CONNECTION',
  /** Node channel: an update whose sequence number is not above the last one accepted (a replay). */
  STALE_SEQUENCE: 'STALE_SEQUENCE',
  /** This IP (IPv6: its /64) sent too many requests; retry after the `Retry-After` seconds. */
  RATE_LIMITED: 'RATE_LIMITED',
  /** This IP's subnet (IPv4 /24, IPv6 /56) sent too many requests together; retry after `Retry-After`. */
  SUBNET_RATE_LIMITED: 'SUBNET_RATE_LIMITED',
  /** Too many requests for one identity: a node key (register), node id (heartbeat) or ticket (report). */
  KEY_RATE_LIMITED: 'KEY_RATE_LIMITED',
  /** No such endpoint. */
  NOT_FOUND: 'NOT_FOUND',
  /** The endpoint exists but not for this method. */
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  /** The registry backend failed (Redis down…); retry later. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** A bug in discovery. */
  INTERNAL: 'INTERNAL',
  /** Client side: discovery's answer broke this contract (not JSON, wrong shape, too large). */
  BAD_ANSWER: 'BAD_ANSWER',
  // --- trust (discovery/trustErrors.ts; TRUST.md): report tickets, evidence, the stake ledger ---
  /** A report's ticket does not verify: forged or altered. */
  TICKET_FORGED: 'TICKET_FORGED',
  /** A report's ticket is older than its lifetime (or from the future). */
  TICKET_EXPIRED: 'TICKET_EXPIRED',
  /** A report's ticket was issued to another client. */
  TICKET_WRONG_CLIENT: 'TICKET_WRONG_CLIENT',
  /** Evidence: the accused answer for these requests is not in the block the node sealed (forged or edited). */
  NOT_SIGNED_BY_NODE: 'NOT_SIGNED_BY_NODE',
  /** Evidence: discovery cannot recompute the answer (a predictor it does not run, no poses before the predict). */
  UNVERIFIABLE: 'UNVERIFIABLE',
  /** Evidence: the node's answer matches discovery's recomputation within tolerance; nothing to punish. */
  NOT_WRONG: 'NOT_WRONG',
  /** Evidence: this offence was already judged. */
  DUPLICATE: 'DUPLICATE',
  /** Ledger: an operator without enough stake. */
  INSUFFICIENT_STAKE: 'INSUFFICIENT_STAKE',
  /** Ledger: the audit log does not verify. */
  AUDIT_BROKEN: 'AUDIT_BROKEN',
} as const;
export type DiscoveryErrorCode = (typeof DiscoveryErrorCode)[keyof typeof DiscoveryErrorCode];

export function isDiscoveryErrorCode(value: unknown): value is DiscoveryErrorCode {
  return typeof value === 'string' && Object.hasOwn(DiscoveryErrorCode, value);
}

/** Adds a check to a schema; the message names the field path like the protocol's own errors. */
export function refine<T>(inner: Schema<T>, check: (value: T) => string | undefined): Schema<T> {
  return {
    parse(value, path, limits) {
      const parsed = inner.parse(value, path, limits);
      const problem = check(parsed);
      if (problem !== undefined) fail(path, problem);
      return parsed;
    },
  };
}

/** Node ids and operator names. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** Ed25519 public keys travel as the raw 32 bytes in base64url: 43 characters. */
const KEY_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Ed25519 signatures: 64 bytes in base64url, 86 characters. */
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{86}$/;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;

export const nodeId = () => refine(string(128), (v) => (ID_PATTERN.test(v) ? undefined : 'must be 1-128 characters of A-Z a-z 0-9 . _ : -'));
export const publicKeyField = () => refine(string(64), (v) => (KEY_PATTERN.test(v) ? undefined : 'is not a base64url Ed25519 public key'));
export const signatureField = () => refine(string(128), (v) => (SIGNATURE_PATTERN.test(v) ? undefined : 'is not a base64url Ed25519 signature'));
export const nonceField = () => refine(string(64), (v) => (NONCE_PATTERN.test(v) ? undefined : 'must be 16-64 base64url characters'));
const sessionUrl = () =>
  refine(string(2048), (v) => {
    try {
      const url = new URL(v);
      return url.protocol === 'ws:' || url.protocol === 'wss:' ? undefined : 'must be a ws:// or wss:// URL';
    } catch {
      return 'is not a URL';
    }
  });
const capabilities = () => array(oneOf(CAPABILITIES), () => CAPABILITIES.length);
const epochMs = () => uint(8_640_000_000_000_000);
const latField = () => optional(number(-90, 90));
const lonField = () => optional(number(-180, 180));
/** Load as nodes report it: 0 idle … 1 saturated. */
const loadField = () => number(0, 1);
/** Sessions a node can still accept. */
const freeCapacityField = () => uint(1_000_000);

// --- node → discovery ---

export const nodeDescriptorSchema = refine(
  object({
    id: nodeId(),
    publicKey: publicKeyField(),
    url: sessionUrl(),
    tier: oneOf(NODE_TIERS),
    lat: latField(),
    lon: lonField(),
    /** The node's public IP, located with geoip when lat/lon are absent. */
    ip: optional(string(64)),
    caps: capabilities(),
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

export const registrationSchema = object({
  descriptor: nodeDescriptorSchema,
  /** Unix epoch ms when signed. */
  timestamp: epochMs(),
  /** Fresh per registration; on the node channel, the connection's challenge. */
  nonce: nonceField(),
  /**
   * The node's load when it registers (signed with the rest when present): without it a busy node
   * that (re)registered ranked as idle until its first status push. Absent: idle, full capacity.
   */
  status: optional(object({ load: loadField(), freeCapacity: freeCapacityField() })),
  /** Node signature over (descriptor, timestamp, nonce[, status]). Optional here so its absence gets its own code. */
  signature: optional(signatureField()),
  authorization: optional(authorizationSchema),
});
export type Registration = Infer<typeof registrationSchema>;

export const heartbeatSchema = object({
  id: nodeId(),
  timestamp: epochMs(),
  nonce: nonceField(),
  load: loadField(),
  freeCapacity: freeCapacityField(),
  signature: optional(signatureField()),
});
export type Heartbeat = Infer<typeof heartbeatSchema>;

// --- client → discovery ---

export const querySchema = object({
  lat: latField(),
  lon: lonField(),
  k: optional(uint(64)),
  kCloud: optional(uint(16)),
  caps: optional(capabilities()),
  maxPrice: optional(number(0)),
  /** ms of estimated RTT the client trades for one unit of price per minute (score = RTT + weight × price). */
  priceWeight: optional(number(0, 1e6)),
  /** The client's RTT budget: discovery's placement pick (the first edge candidate) stays within it. */
  budgetMs: optional(number(0, 60_000)),
});
export type Query = Infer<typeof querySchema>;

/** A ticket names at most 96 nodes of ≤ 64 characters, base64url-encoded with its MAC. */
export const REPORT_TICKET_MAX = 12_288;

export const reportSchema = object({
  lat: latField(),
  lon: lonField(),
  reports: array(object({ id: nodeId(), rttMs: optional(number(0, 60_000)) }), () => 64),
  /** The `ticket` of the query answer that shortlisted these nodes; discovery learns nothing without it. */
  ticket: optional(string(REPORT_TICKET_MAX)),
});
export type ReportBatch = Infer<typeof reportSchema>;

// --- discovery → node / client ---

export const registerAnswerSchema = object({ id: nodeId(), heartbeatIntervalMs: number(1, 86_400_000), ttlMs: number(1, 86_400_000) });
export type RegisterAnswer = Infer<typeof registerAnswerSchema>;

export const heartbeatAnswerSchema = object({ id: nodeId(), ttlMs: number(1, 86_400_000) });
export type HeartbeatAnswer = Infer<typeof heartbeatAnswerSchema>;

/** One shortlisted node as clients see it. */
export const candidateSchema = object({
  id: nodeId(),
  url: sessionUrl(),
  tier: oneOf(NODE_TIERS),
  caps: capabilities(),
  estimatedRttMs: number(0, 1e6),
  distanceKm: number(0, 30_000),
  pricePerMinute: number(0, 1_000_000),
  freeCapacity: freeCapacityField(),
  load: loadField(),
  /** The node's registered Ed25519 key: the client refuses a node whose welcome is not signed with it. */
  publicKey: optional(publicKeyField()),
});
export type Candidate = Infer<typeof candidateSchema>;

export const queryAnswerSchema = object({
  location: object({ lat: number(-90, 90), lon: number(-180, 180), source: oneOf(['client', 'geoip', 'default'] as const) }),
  /** Bounded by querySchema's k (64) and kCloud (16). */
  edge: array(candidateSchema, () => 64),
  cloud: array(candidateSchema, () => 16),
  /**
   * Discovery's placement pick, one of `edge`: the less loaded of two random candidates within the
   * client's budget (spreads a metro's sessions). Absent when no edge candidate is within budget.
   */
  pick: optional(nodeId()),
  /** Report ticket (discovery/tickets.ts): probe reports on these candidates must bring it back. */
  ticket: optional(string(REPORT_TICKET_MAX)),
});
export type QueryAnswer = Infer<typeof queryAnswerSchema>;

export const reportAnswerSchema = object({ learned: uint(64) });
export type ReportAnswer = Infer<typeof reportAnswerSchema>;

/** What a confirmed offence did: the verdict, the node's standing after it, and what the ledger moved. */
export const evidenceAnswerSchema = object({
  node: nodeId(),
  offenceId: string(512),
  /** What was wrong (absent from older discovery: a prediction). */
  kind: optional(oneOf(['predict', 'infer', 'frame'] as const)),
  /** The predictor, or for `infer` the model. */
  predictor: string(128),
  angleRad: number(0),
  positionM: number(0),
  /** `infer`: largest |result − discovery's recomputation|. */
  maxAbsError: optional(number(0)),
  /** `frame`: PSNR of the node's frame against discovery's reference render, dB. */
  psnrDb: optional(number(0)),
  ejected: boolean(),
  offences: uint(),
  /** Stake moved (absent when discovery runs without a ledger). */
  slashed: optional(uint()),
  /** The reporter's share of it, credited to `reporter`. */
  reward: optional(uint()),
});
export type EvidenceAnswer = Infer<typeof evidenceAnswerSchema>;

/** A verifier's signed reference (discovery/trapReference.ts): JSON payload, Ed25519 signature. */
export const signedReferenceSchema = object({ payload: string(128 * 1024), signature: string(128) });
export type SignedReference = Infer<typeof signedReferenceSchema>;

/** `POST /v1/standing`: a few node ids (the session's active node, its standby). */
export const standingSchema = object({ ids: array(nodeId(), () => 16) });
export const standingAnswerSchema = object({ ejected: array(nodeId(), () => 16) });
export type StandingAnswer = Infer<typeof standingAnswerSchema>;

export const healthAnswerSchema = object({
  ok: boolean(),
  backend: string(32),
  nodes: object({ edge: uint(), cloud: uint() }),
});
export type HealthAnswer = Infer<typeof healthAnswerSchema>;

/** Every refusal, over HTTP (with the status from discovery/errors.ts) and ws alike. */
export const errorBodySchema = object({ error: object({ code: string(64), message: string(4096) }) });
export type ErrorBody = Infer<typeof errorBodySchema>;

// --- the request/answer ws (`/v1/ws`): the HTTP operations as text frames ---

export const WS_OPERATIONS = ['register', 'heartbeat', 'query', 'report'] as const;
export type WsOperation = (typeof WS_OPERATIONS)[number];
/** A request frame is `{ op, id?, body }`: `id` (a safe integer or a string ≤ 64 chars) is echoed in the answer, `body` is the HTTP body of `op`. */

// --- the node channel (`/v1/node`) ---

/**
 * The node channel, JSON text frames tagged by `t`:
 *
 *   discovery → node  { t: 'challenge', nonce, intervalMs, pingIntervalMs }   on open
 *   node → discovery  a ws pong frame every intervalMs (unsolicited, RFC 6455 §5.5.3)
 *   discovery → node  a ws ping every pingIntervalMs (the node's sign that discovery is alive)
 *   node → discovery  { t: 'register', registration }           registration.nonce = the challenge
 *   discovery → node  { t: 'registered', id, heartbeatIntervalMs, ttlMs }
 *   node → discovery  { t: 'status', seq, load, freeCapacity, id? }   only on change, rate-capped
 *   discovery → node  { t: 'ack', seq }  or  { t: 'error', code, message, seq? }
 *
 * After the one signature check, liveness is a bare ws pong frame the node sends each interval:
 * no signature, no JSON, nothing discovery writes back, no per-node store write (pongs are
 * folded into one batched registry write per interval). Discovery pings far less often, so the
 * node can tell when discovery is gone. The signature covers the challenge, so a captured
 * registration cannot bind any other connection; status updates are bound to the connection
 * that registered, and `seq` must rise, so they cannot be replayed or cross connections.
 */
export const nodeChannelInSchema = {
  register: object({ t: literal('register'), registration: registrationSchema }),
  status: object({ t: literal('status'), seq: uint(), load: loadField(), freeCapacity: freeCapacityField(), id: optional(nodeId()) }),
} as const;
export type NodeRegisterMessage = Infer<typeof nodeChannelInSchema.register>;
export type NodeStatusMessage = Infer<typeof nodeChannelInSchema.status>;

export const nodeChannelOutSchema = {
  challenge: object({ t: literal('challenge'), nonce: nonceField(), intervalMs: number(1, 86_400_000), pingIntervalMs: optional(number(1, 86_400_000)) }),
  registered: object({ t: literal('registered'), id: nodeId(), heartbeatIntervalMs: number(1, 86_400_000), ttlMs: number(1, 86_400_000) }),
  ack: object({ t: literal('ack'), seq: uint() }),
  error: object({ t: literal('error'), code: string(64), message: string(4096), seq: optional(uint()) }),
} as const;
export type NodeChallengeMessage = Infer<typeof nodeChannelOutSchema.challenge>;
export type NodeRegisteredMessage = Infer<typeof nodeChannelOutSchema.registered>;
export type NodeErrorMessage = Infer<typeof nodeChannelOutSchema.error>;

/** ws close codes of the node channel. */
export const NodeChannelClose = {
  /** Registration refused (bad signature, untrusted operator…): fix the configuration. */
  REFUSED: 4401,
  /** No pong for the allowed number of intervals. */
  SILENT: 4408,
  /** No registration within the allowed time after the challenge. */
  REGISTER_TIMEOUT: 4409,
  /** The registry no longer holds this node (swept after an outage, flushed): register again. */
  UNKNOWN: 4404,
  /** A newer connection of the same node registered on this replica. */
  REPLACED: 4410,
  /** More messages than the channel's cap (garbage floods included). */
  RATE_LIMITED: 4429,
  /** Discovery is shutting down; reconnect (to another replica). */
  GOING_AWAY: 1001,
} as const;
