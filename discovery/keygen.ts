/**
 * `edge-offload discovery keygen …`: the three steps an operator takes to put a node on discovery.
 *
 *   keygen operator --name acme --out acme.key.json      operator key; prints its trust entry
 *   keygen node --out node-1.key.json                     node key
 *   keygen authorize --operator acme.key.json --node node-1.key.json --id node-1 --out node-1.auth.json
 */
import { parseArgs } from 'node:util';
import { authorizeNode, generateKeyPair } from './identity.js';
import { readNodeKey, readOperatorKey, writeJsonFile } from './keyFiles.js';

export const KEYGEN_HELP = `Usage: edge-offload discovery keygen <operator|node|authorize> [options]

  operator --name NAME --out FILE   New operator key (private, 0600). Prints the entry to add to
                                    the discovery's operators file: {"operators":[ … ]}.
  node --out FILE                   New node key (private, 0600). Prints the public key.
  authorize --operator FILE --node FILE --id NODE_ID [--out FILE]
                                    The operator authorises a node key for one node id.
                                    Writes (or prints) the authorisation the node presents.

Existing files are never overwritten.`;

export async function runKeygenCommand(argv: string[], out: (line: string) => void = console.log): Promise<number> {
  if (argv[0] === undefined || argv[0].startsWith('-')) {
    out(KEYGEN_HELP);
    return argv[0] === '--help' || argv[0] === '-h' ? 0 : 1;
  }
  const [kind, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { name: { type: 'string' }, out: { type: 'string' }, operator: { type: 'string' }, node: { type: 'string' }, id: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help || kind === undefined || kind === 'help') {
    out(KEYGEN_HELP);
    return kind === undefined ? 1 : 0;
  }
  const need = (flag: keyof typeof values): string => {
    const v = values[flag];
    if (typeof v !== 'string' || v === '') throw new TypeError(`keygen ${kind} needs --${flag}; see --help`);
    return v;
  };
  switch (kind) {
    case 'operator': {
      const name = need('name');
      if (!/^[A-Za-z0-9._:-]{1,128}$/.test(name)) throw new TypeError('--name must be 1-128 characters of A-Z a-z 0-9 . _ : -');
      const key = generateKeyPair();
      writeJsonFile(need('out'), { name, ...key }, true);
      out(JSON.stringify({ name, publicKey: key.publicKey }));
      return 0;
    }
    case 'node': {
      const key = generateKeyPair();
      writeJsonFile(need('out'), key, true);
      out(key.publicKey);
      return 0;
    }
    case 'authorize': {
      const operator = readOperatorKey(need('operator'));
      const node = readNodeKey(need('node'));
      const auth = authorizeNode({ name: operator.name, privateKeyPem: operator.privateKeyPem }, need('id'), node.publicKey);
      if (values.out) writeJsonFile(values.out, auth, false);
      else out(JSON.stringify(auth));
      return 0;
    }
    default:
      throw new TypeError(`unknown keygen kind '${kind}'; use operator, node or authorize (see --help)`);
  }
}
