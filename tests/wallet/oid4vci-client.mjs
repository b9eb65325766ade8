// Usage: node oid4vci-client.mjs flow OFFER ALG KEY   (ALG: EdDSA | ES256, KEY: did | jwk)
//        node oid4vci-client.mjs refusals OFFER
// An independent OpenID4VCI 1.0 wallet (@openid4vc/openid4vci, pre-authorized code flow)
// against badge-kiosk's hub. OFFER is the openid-credential-offer:// link of a claim page.
// Prints one JSON object per step. Trust the hub's CA with NODE_EXTRA_CA_CERTS.
import crypto from 'node:crypto';
import {Openid4vciClient} from '@openid4vc/openid4vci';
import {clientAuthenticationAnonymous} from '@openid4vc/oauth2';
import {encode as base58} from '@digitalcredentials/base58-universal';

const [mode, offer, alg = 'EdDSA', keyMode = 'did'] = process.argv.slice(2);
if(!mode || !offer) {
  console.error('usage: node oid4vci-client.mjs flow|refusals OFFER [EdDSA|ES256] [did|jwk]');
  process.exit(2);
}

const b64url = bytes => Buffer.from(bytes).toString('base64url');

/** A fresh holder key: its did:key, its public JWK, and a JWS signer. */
function holderKey(alg) {
  if(alg === 'ES256') {
    const {privateKey, publicKey} = crypto.generateKeyPairSync('ec', {namedCurve: 'P-256'});
    const jwk = publicKey.export({format: 'jwk'});
    const compressed = publicKey.export({format: 'der', type: 'spki'}).subarray(-65);
    const point = Buffer.concat([Buffer.from([compressed[64] % 2 ? 3 : 2]), compressed.subarray(1, 33)]);
    const did = `did:key:z${base58(Buffer.concat([Buffer.from([0x80, 0x24]), point]))}`;
    const sign = data => crypto.sign('sha256', data, {key: privateKey, dsaEncoding: 'ieee-p1363'});
    return {did, jwk: {kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y}, sign};
  }
  const {privateKey, publicKey} = crypto.generateKeyPairSync('ed25519');
  const jwk = publicKey.export({format: 'jwk'});
  const did = `did:key:z${base58(Buffer.concat([Buffer.from([0xed, 0x01]), Buffer.from(jwk.x, 'base64url')]))}`;
  const sign = data => crypto.sign(null, data, privateKey);
  return {did, jwk: {kty: jwk.kty, crv: jwk.crv, x: jwk.x}, sign};
}

function compact(key, header, payload) {
  const signed = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${signed}.${b64url(key.sign(Buffer.from(signed)))}`;
}

const key = holderKey(alg);
const client = new Openid4vciClient({
  callbacks: {
    fetch,
    hash: (data, algorithm) => crypto.createHash(algorithm.replace('-', '')).update(data).digest(),
    generateRandom: length => crypto.randomBytes(length),
    clientAuthentication: clientAuthenticationAnonymous(),
    signJwt: async (signer, {header, payload}) => ({jwt: compact(key, header, payload), signerJwk: key.jwk})
  }
});
const signer = keyMode === 'jwk' ?
  {method: 'jwk', publicJwk: key.jwk, alg} :
  {method: 'did', didUrl: `${key.did}#${key.did.slice('did:key:'.length)}`, alg};

/** The OAuth error an issuer answered (token errors and credential errors differ in shape). */
function failure(step, error) {
  const answer = error?.errorResponse ?? error?.response?.credentialErrorResponseResult?.data;
  return {step, error: answer?.error ?? String(error?.message ?? error), description: answer?.error_description};
}

async function attempt(step, work) {
  try {
    const result = await work();
    console.log(JSON.stringify({step, ...result}));
    return result;
  } catch(error) {
    console.log(JSON.stringify(failure(step, error)));
    return undefined;
  }
}

const credentialOffer = await client.resolveCredentialOffer(offer);
const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
const [configuration] = credentialOffer.credential_configuration_ids;
const {accessTokenResponse} = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
  credentialOffer, issuerMetadata
});
const accessToken = accessTokenResponse.access_token;

async function credentialWith(jwt) {
  const response = await client.retrieveCredentials({
    issuerMetadata, accessToken, credentialConfigurationId: configuration, proofs: {jwt: [jwt]}
  });
  if(!response.credentialResponse?.credentials) {
    throw Object.assign(new Error('refused'), {errorResponse: response.credentialErrorResponseResult?.data ?? response.credentialResponse});
  }
  return {credential: response.credentialResponse.credentials[0].credential, holder: key.did};
}

if(mode === 'refusals') {
  const iat = Math.floor(Date.now() / 1000);
  const header = {typ: 'openid4vci-proof+jwt', alg, kid: signer.didUrl ?? undefined, jwk: signer.publicJwk};
  await attempt('wrong-nonce', async () => {
    const {jwt} = await client.createCredentialRequestJwtProof({
      issuerMetadata, signer, nonce: 'not-a-nonce-from-this-issuer', credentialConfigurationId: configuration
    });
    return credentialWith(jwt);
  });
  await attempt('wrong-audience', async () => {
    const {c_nonce: nonce} = await client.requestNonce({issuerMetadata});
    return credentialWith(compact(key, header, {aud: 'https://other-issuer.example', iat, nonce}));
  });
}
await attempt('credential', async () => {
  const {c_nonce: nonce} = await client.requestNonce({issuerMetadata});
  const {jwt} = await client.createCredentialRequestJwtProof({
    issuerMetadata, signer, nonce, credentialConfigurationId: configuration
  });
  return credentialWith(jwt);
});
await attempt('code-again', async () => {
  const again = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({credentialOffer, issuerMetadata});
  return {access_token: again.accessTokenResponse.access_token};
});
