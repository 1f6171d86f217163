/**
 * Verified node identity over real sockets: the SDK sends a nonce in hello and opens a node only
 * if its welcome signs it with the key discovery vouched for; an impostor is refused with
 * NODE_IDENTITY and the session lands on the next candidate.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair } from '../discovery/identity.js';
import { NodeConnection } from '../client-sdk/link/NodeConnection.js';
import { openSession, StaticLocator } from '../client-sdk/node.js';
import { startSessionNode, type SessionNode } from './support/sessionNode.js';

const test = suite('trust-handshake');
const honestKey = generateKeyPair();
const impostorKey = generateKeyPair();
let nodes: SessionNode[] = [];

test.after.each(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

const codeOf = async (p: Promise<unknown>) => ((await p.then((c) => ((c as NodeConnection).close(), { code: 'opened' }), (e) => e)) as { code: string }).code;

test('a welcome signed with the vouched key opens; another key, or no proof, is NODE_IDENTITY', async () => {
  const honest = await startSessionNode('edge-a', 0, { privateKeyPem: honestKey.privateKeyPem });
  const impostor = await startSessionNode('edge-a', 0, { privateKeyPem: impostorKey.privateKeyPem });
  const silent = await startSessionNode('edge-a', 0);
  nodes.push(honest, impostor, silent);
  assert.is(await codeOf(NodeConnection.open(honest.url, { publicKey: honestKey.publicKey })), 'opened');
  assert.is(await codeOf(NodeConnection.open(impostor.url, { publicKey: honestKey.publicKey })), 'NODE_IDENTITY');
  assert.is(await codeOf(NodeConnection.open(silent.url, { publicKey: honestKey.publicKey })), 'NODE_IDENTITY');
  // without a vouched key (a pinned static node) nothing is asked
  assert.is(await codeOf(NodeConnection.open(silent.url)), 'opened');
});

test('a session refuses an impostor at the nearest address and lands on the next candidate', async () => {
  const impostor = await startSessionNode('edge-near', 0, { privateKeyPem: impostorKey.privateKeyPem });
  const honest = await startSessionNode('edge-far', 5, { privateKeyPem: honestKey.privateKeyPem });
  nodes.push(impostor, honest);
  const locator = new StaticLocator({
    edge: [
      { id: 'edge-near', url: impostor.url, tier: 'edge', publicKey: generateKeyPair().publicKey },
      { id: 'edge-far', url: honest.url, tier: 'edge', publicKey: honestKey.publicKey },
    ],
  });
  const session = await openSession({ locator, budgetMs: 200 });
  try {
    assert.is(session.nodeId, 'edge-far');
  } finally {
    session.close();
  }
});

test.run();
