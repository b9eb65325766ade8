// Shared set-up of the Digital Credentials Consortium verifier, strictly offline.
//
// The security document loader serves the credentials v2 and Open Badges contexts from the
// npm packages and resolves did:key locally; remote context fetching stays off, so a
// credential that needs any other document fails instead of reaching the network.
import {DataIntegrityProof} from '@digitalcredentials/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalcredentials/eddsa-rdfc-2022-cryptosuite';
import {securityLoader} from '@digitalcredentials/security-document-loader';

const staticLoader = securityLoader({fetchRemoteContexts: false}).build();

export async function documentLoader(url) {
  try {
    return await staticLoader(url);
  } catch(error) {
    throw new Error(`offline document loader cannot provide ${url}: ${error.message}`);
  }
}

export const cryptosuite = eddsaRdfc2022;

export function verifySuite() {
  return new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
}

export function signSuite({signer, date}) {
  return new DataIntegrityProof({signer, date, cryptosuite: eddsaRdfc2022});
}
