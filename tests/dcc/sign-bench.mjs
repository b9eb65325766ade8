// Usage: node sign-bench.mjs [N] [FILE]
// Signs the same unsigned credential N times (default 200) with the DCC libraries
// (@digitalcredentials/vc issue, DataIntegrityProof, eddsa-rdfc-2022) on one thread and prints
//   {"credentials": N, "seconds": …, "perSecond": …, "proofValue": "z…"}
// FILE defaults to bench-credential.json, the credential that badge-kiosk's bench_signing()
// signs; the key is derived from the same seed (32 bytes of 7) and `created` is the same, so
// the proofValue must equal the one badge-kiosk produces.
import {readFile} from 'node:fs/promises';
import {fileURLToPath} from 'node:url';
import * as Ed25519Multikey from '@digitalcredentials/ed25519-multikey';
import * as vc from '@digitalcredentials/vc';
import {documentLoader, signSuite} from './dcc.mjs';

const count = Number(process.argv[2] ?? 200);
const file = process.argv[3] ?? fileURLToPath(new URL('bench-credential.json', import.meta.url));
if(!Number.isInteger(count) || count < 1) {
  console.error('usage: node sign-bench.mjs [N] [FILE]');
  process.exit(2);
}

const unsigned = JSON.parse(await readFile(file, 'utf8'));
const seed = new Uint8Array(32).fill(7);
const {publicKeyMultibase} = await Ed25519Multikey.generate({seed});
const keyPair = await Ed25519Multikey.generate({seed, controller: `did:key:${publicKeyMultibase}`});
const suite = signSuite({signer: keyPair.signer(), date: '2025-05-02T10:15:00Z'});

// One warm-up signature outside the timing (module loading, context caches).
const first = await vc.issue({credential: structuredClone(unsigned), suite, documentLoader});

const start = process.hrtime.bigint();
for(let i = 0; i < count; i++) {
  await vc.issue({credential: structuredClone(unsigned), suite, documentLoader});
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
console.log(JSON.stringify({
  credentials: count,
  seconds,
  perSecond: count / seconds,
  proofValue: first.proof.proofValue
}));
