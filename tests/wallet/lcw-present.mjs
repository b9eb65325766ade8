// Usage: node lcw-present.mjs SEED_HEX CHALLENGE DOMAIN
// Signs a DIDAuthentication presentation the way the Learner Credential Wallet does
// (app/lib/composeVp.ts: @digitalcredentials/vc createPresentation + signPresentation with
// Ed25519Signature2020 over the holder's did:key) and prints it as JSON. Offline.
import * as vc from '@digitalcredentials/vc';
import {Ed25519VerificationKey2020} from '@digitalcredentials/ed25519-verification-key-2020';
import {Ed25519Signature2020} from '@digitalcredentials/ed25519-signature-2020';
import {securityLoader} from '@digitalcredentials/security-document-loader';

const [seedHex, challenge, domain] = process.argv.slice(2);
if(!seedHex || !challenge || !domain) {
  console.error('usage: node lcw-present.mjs SEED_HEX CHALLENGE DOMAIN');
  process.exit(2);
}
const key = await Ed25519VerificationKey2020.generate({seed: Buffer.from(seedHex, 'hex')});
const did = `did:key:${key.fingerprint()}`;
key.controller = did;
key.id = `${did}#${key.fingerprint()}`;
const documentLoader = securityLoader({fetchRemoteContexts: false}).build();
const presentation = vc.createPresentation({holder: did, verify: false});
const signed = await vc.signPresentation({
  presentation,
  challenge,
  domain,
  documentLoader,
  suite: new Ed25519Signature2020({signer: key.signer()})
});
console.log(JSON.stringify(signed));
