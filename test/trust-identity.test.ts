import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPair } from '../discovery/identity.js';
import { signWelcome } from '../edge-server/trust/welcomeProof.js';
import { helloNonce, verifyWelcome, type WelcomeClaim } from '../protocol/index.js';

const test = suite('trust-identity');
const node = generateKeyPair();

const codeOf = async (p: Promise<unknown>) => ((await p.then(() => ({ code: 'verified' }), (e) => e)) as { code: string }).code;

test('a welcome signed over the hello nonce verifies against the vouched key', async () => {
  const claim: WelcomeClaim = { nonce: helloNonce(), node: 'edge-1', session: 'sess-1', tier: 'edge' };
  assert.is(await codeOf(verifyWelcome(node.publicKey, claim, signWelcome(node.privateKeyPem, claim))), 'verified');
});

test('another key, another nonce, another node id, or no signature is NODE_IDENTITY', async () => {
  const claim: WelcomeClaim = { nonce: helloNonce(), node: 'edge-1', session: 'sess-1', tier: 'edge' };
  const signature = signWelcome(node.privateKeyPem, claim);
  assert.is(await codeOf(verifyWelcome(generateKeyPair().publicKey, claim, signature)), 'NODE_IDENTITY');
  assert.is(await codeOf(verifyWelcome(node.publicKey, { ...claim, nonce: helloNonce() }, signature)), 'NODE_IDENTITY', 'a replayed welcome');
  assert.is(await codeOf(verifyWelcome(node.publicKey, { ...claim, node: 'edge-2' }, signature)), 'NODE_IDENTITY');
  assert.is(await codeOf(verifyWelcome(node.publicKey, claim, undefined)), 'NODE_IDENTITY');
  assert.is(await codeOf(verifyWelcome(node.publicKey, claim, 'not base64!')), 'NODE_IDENTITY');
  assert.is(await codeOf(verifyWelcome('short', claim, signature)), 'NODE_IDENTITY');
  assert.is.not(helloNonce(), helloNonce());
});

test.run();
