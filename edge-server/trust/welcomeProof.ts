/** The node's half of protocol/nodeIdentity.ts: signs the client's hello nonce into the welcome. */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { welcomeBytes, type WelcomeClaim } from '../../protocol/nodeIdentity.js';

export function signWelcome(privateKey: KeyObject | string, claim: WelcomeClaim): string {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  return sign(null, welcomeBytes(claim), key).toString('base64url');
}
