/** `edge-offload admin health|drain`: operator-signed calls to a node's admin endpoint. */
import { readOperatorKey } from '../../discovery/keyFiles.js';
import { signAdminRequest } from '../../edge-server/admin/index.js';
import { intFlag, parseCommandArgs, stringFlag } from './args.js';

const HELP = `Usage: edge-offload admin <health|drain> [options]

Calls a node's admin endpoint, signed with an operator key the node trusts (its
--admin-operators-file lists the operator's public key).

  health              print the node's detailed health (sessions, limits, engines, errors)
  drain               ask every client to move away and refuse new ones

Options:
  --url URL           the node's HTTP address, e.g. http://10.0.0.5:8765   (required)
  --node-id ID        the node's id (the signature is bound to it)          (required)
  --operator-key FILE operator key file from \`edge-offload discovery keygen operator\` (required)
  --deadline-ms N     drain: how long clients get to move               [default: the node's]
  --reason TEXT       drain: told to clients and logged
  -h, --help          show this help`;

export async function runAdminCommand(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { url: { type: 'string' }, 'node-id': { type: 'string' }, 'operator-key': { type: 'string' }, 'deadline-ms': { type: 'string' }, reason: { type: 'string' } }, HELP);
  if (!args) return;
  const [action] = args.positionals;
  if (action !== 'health' && action !== 'drain') throw new Error(`say what to do: health or drain\n\n${HELP}`);
  const need = (name: string) => stringFlag(args.values[name]) ?? fail(`--${name} is required; see --help`);
  const base = need('url').replace(/\/+$/, '');
  const nodeId = need('node-id');
  const key = readOperatorKey(need('operator-key'));
  const path = action === 'health' ? '/admin/health' : '/admin/drain';
  const method = action === 'health' ? 'GET' : 'POST';
  const deadlineMs = intFlag(args.values['deadline-ms'], 'deadline-ms', 0, 600_000);
  const reason = stringFlag(args.values.reason);
  const body = method === 'POST' ? JSON.stringify({ ...(deadlineMs !== undefined ? { deadlineMs } : {}), ...(reason ? { reason } : {}) }) : '';
  const headers = signAdminRequest({ method, path, nodeId, body: Buffer.from(body) }, { publicKey: key.publicKey, privateKeyPem: key.privateKeyPem });
  const res = await fetch(base + path, { method, headers: { ...headers, 'content-type': 'application/json' }, ...(method === 'POST' ? { body } : {}) });
  const text = await res.text();
  console.log(text);
  if (!res.ok) throw new Error(`the node answered ${res.status}; check --node-id, the operator key, and the clocks`);
}

function fail(message: string): never {
  throw new Error(message);
}
