/**
 * A self-signed certificate for localhost / 127.0.0.1, made by the `openssl` CLI (node:crypto
 * cannot make X.509), in a fresh temporary folder. Also its SPKI hash, the form Chromium's
 * --ignore-certificate-errors-spki-list takes to trust exactly this key.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
  /** base64 SHA-256 of the DER SubjectPublicKeyInfo. */
  spki: string;
  remove(): void;
}

export function makeSelfSignedCertificate(): TestCertificate {
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-offload-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', keyFile, '-out', certFile,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`openssl could not make a test certificate (apt-get install openssl): ${(err as Error).message}`);
  }
  const cert = readFileSync(certFile);
  const key = readFileSync(keyFile);
  const der = createPublicKey(cert).export({ type: 'spki', format: 'der' });
  return { certFile, keyFile, cert, key, spki: createHash('sha256').update(der).digest('base64'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
