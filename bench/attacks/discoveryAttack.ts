/** `bench attacks`, attack 8: discovery's per-address and per-subnet limits against 20 addresses and a NAT. */
import { DiscoveryServer } from '../../discovery/DiscoveryServer.js';
import { TrustedOperators } from '../../discovery/trust.js';
import { authorizeNode, generateKeyPair, signRegistration } from '../../discovery/identity.js';
import { addr, type Outcome } from './outcome.js';

export /** Attack 8 against discovery's defaults: 20 addresses × 20 fresh registrations; a NAT's queries. */
async function discoveryAttack(): Promise<Outcome> {
  const operator = { name: 'op', ...generateKeyPair() };
  const server = new DiscoveryServer({ operators: new TrustedOperators([{ name: 'op', publicKey: operator.publicKey }]) });
  const { url } = await server.listen();
  try {
    const post = (path: string, body: unknown, localAddress: string) => fetchFrom(url + path, body, localAddress);
    const codes: Record<string, number> = {};
    await Promise.all(Array.from({ length: 400 }, async (_, i) => {
      const key = generateKeyPair();
      const d = { id: `n${i}`, publicKey: key.publicKey, url: 'ws://127.0.0.1:1/x', tier: 'edge' as const, lat: 1, lon: 1, caps: ['predict' as const], capacity: 1, pricePerMinute: 0, operator: 'op' };
      const code = await post('/v1/register', signRegistration(d, key.privateKeyPem, authorizeNode(operator, d.id, key.publicKey)), addr(i));
      codes[code] = (codes[code] ?? 0) + 1;
    }));
    const nat: Record<string, number> = {};
    await Promise.all(Array.from({ length: 400 }, async () => {
      const code = await post('/v1/query', { lat: 1, lon: 1 }, '127.0.3.2');
      nat[code] = (nat[code] ?? 0) + 1;
    }));
    return { attack: '8 discovery: 400 registrations from 20 addresses; 400 NAT queries', admitted: (nat['200'] ?? 0) === 400, rssMiB: null, bystander: null, node: null, detail: { registrations: codes, natQueries: nat } };
  } finally {
    await server.close();
  }
}

async function fetchFrom(url: string, body: unknown, localAddress: string): Promise<string> {
  const { request, Agent } = await import('node:http');
  const data = Buffer.from(JSON.stringify(body));
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', agent: new Agent({ localAddress } as never), headers: { 'content-type': 'application/json', 'content-length': data.byteLength } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(res.statusCode === 200 ? '200' : ((JSON.parse(Buffer.concat(chunks).toString()) as { error?: { code?: string } }).error?.code ?? String(res.statusCode))));
    });
    req.once('error', (e) => resolve(`error ${e.message}`));
    req.end(data);
  });
}
