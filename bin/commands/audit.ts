/** `edge-offload audit verify <file>`: checks a stake ledger audit log offline (chain, signatures, arithmetic). */
import { readFile } from 'node:fs/promises';
import { verifyAuditLog } from '../../discovery/ledger/AuditLog.js';
import { TrustError } from '../../discovery/trustErrors.js';
import { parseCommandArgs, stringFlag } from './args.js';

const HELP = `Usage: edge-offload audit verify <file | https://discovery/v1/audit> [--key=PUBLIC_KEY]

Verifies a discovery stake-ledger audit log (JSON lines, as discovery serves it at GET /v1/audit;
give the file you saved, or the URL to fetch it now): every entry
chains to the one before by SHA-256, carries a valid Ed25519 signature, and its recorded balances
are what the ledger's rules give when every change is replayed from the start.

Options:
  --key=KEY     base64url Ed25519 public key the log must be signed with (discovery's audit key;
                write it with '=': a base64url key may start with '-'); without it the key named
                in the file's header is used, so check that one yourself
  -h, --help    show this help

Exit status 0 when the log verifies (prints {"ok":true,"entries":N,"publicKey":…,"pool":…}),
1 when it does not (prints the first broken line and why).`;

export async function runAuditCommand(argv: string[]): Promise<void> {
  const args = parseCommandArgs(argv, { key: { type: 'string' } }, HELP);
  if (!args) return;
  const [sub, file, ...extra] = args.positionals;
  if (sub !== 'verify' || !file || extra.length > 0) throw new Error(`expected 'audit verify <file>'\n\n${HELP}`);
  const text = /^https?:\/\//.test(file) ? await download(file) : await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new Error(`cannot read ${file} (${err.code ?? err.message}); give the path of a saved audit log, or discovery's /v1/audit URL`);
  });
  try {
    const report = verifyAuditLog(text, stringFlag(args.values.key));
    console.log(JSON.stringify({ ok: true, entries: report.entries, publicKey: report.publicKey, pool: report.state.pool }));
  } catch (err) {
    if (!(err instanceof TrustError)) throw err;
    console.log(JSON.stringify({ ok: false, code: err.code, error: err.message }));
    process.exitCode = 1;
  }
}

async function download(url: string): Promise<string> {
  const res = await fetch(url).catch((err: Error) => {
    throw new Error(`cannot reach ${url} (${(err.cause as Error | undefined)?.message ?? err.message}); is discovery running there?`);
  });
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return res.text();
}
