// Usage: node verify.mjs FILE…
// Verifies each credential with the DCC verifier (@digitalcredentials/vc, DataIntegrityProof,
// eddsa-rdfc-2022) and prints one JSON verdict per line:
//   {"file": "…", "verified": true|false, "errors": ["…"]}
// Exit status: 0 if every file verified, 1 if any did not, 2 on a usage error.
import {readFile} from 'node:fs/promises';
import * as vc from '@digitalcredentials/vc';
import {documentLoader, verifySuite} from './dcc.mjs';

const files = process.argv.slice(2);
if(files.length === 0) {
  console.error('usage: node verify.mjs FILE…');
  process.exit(2);
}

function messages(error) {
  if(!error) {
    return [];
  }
  const nested = Array.isArray(error.errors) ? error.errors.flatMap(messages) : [];
  return [String(error.message ?? error), ...nested];
}

let everyFileVerified = true;
for(const file of files) {
  let verdict;
  try {
    const credential = JSON.parse(await readFile(file, 'utf8'));
    const result = await vc.verifyCredential({credential, suite: verifySuite(), documentLoader});
    const errors = [
      ...messages(result.error),
      ...(result.results ?? []).flatMap(r => messages(r.error))
    ];
    verdict = {file, verified: result.verified === true, errors: [...new Set(errors)]};
  } catch(error) {
    verdict = {file, verified: false, errors: messages(error)};
  }
  everyFileVerified &&= verdict.verified;
  console.log(JSON.stringify(verdict));
}
process.exit(everyFileVerified ? 0 : 1);
