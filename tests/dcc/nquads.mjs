// Usage: node nquads.mjs FILE…
// Prints, per credential, the RDFC-1.0 canonical N-Quads that jsonld.js (npm `jsonld`, with the
// DCC offline document loader, safe mode) produces for the document without its proof and, if
// there is a proof, for the proof options (proof minus proofValue, with the credential's
// @context) — the two inputs that eddsa-rdfc-2022 hashes. One JSON object per line:
//   {"file": "…", "document": "…", "proof": "…"|null} or {"file": "…", "error": "…"}
import {readFile} from 'node:fs/promises';
import jsonld from 'jsonld';
import {documentLoader} from './dcc.mjs';

const files = process.argv.slice(2);
if(files.length === 0) {
  console.error('usage: node nquads.mjs FILE…');
  process.exit(2);
}

const canonize = input => jsonld.canonize(input, {
  algorithm: 'RDFC-1.0',
  format: 'application/n-quads',
  documentLoader,
  safe: true
});

let failures = 0;
for(const file of files) {
  try {
    const {proof, ...document} = JSON.parse(await readFile(file, 'utf8'));
    let proofCanon = null;
    if(proof) {
      const {proofValue, ...options} = proof;
      proofCanon = await canonize({'@context': document['@context'], ...options});
    }
    console.log(JSON.stringify({file, document: await canonize(document), proof: proofCanon}));
  } catch(error) {
    failures++;
    console.log(JSON.stringify({file, error: String(error.message ?? error)}));
  }
}
process.exit(failures === 0 ? 0 : 1);
