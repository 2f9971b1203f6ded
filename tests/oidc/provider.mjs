// A real OpenID Connect provider for the tests: the certified `oidc-provider`
// package (npm, devDependencies), run with Node.js by tests/oidc/conftest.py.
//
//   node tests/oidc/provider.mjs --port 43123 --admin-token SECRET
//
// The issuer is http://127.0.0.1:<port>. What the provider knows is set by the
// tests through a small admin endpoint, guarded by the admin token:
//
//   PUT /__test__/state   {"clients": [{client_id, client_secret, redirect_uris}],
//                          "accounts": {"<sub>": {email, name, groups, ...}},
//                          "next": {"sub": "...", "amr": ["pwd", "mfa"], "acr": "..."},
//                          "fault": null | "issuer" | "audience" | "nonce" | "signature" | "expired"}
//   GET  /__test__/state  the state as it is
//
// Who signs in: there is no login form. When the provider asks for a login,
// the account named by `next` signs in at once (with `next.amr` and
// `next.acr`), and consent is given for whatever the client asked.
//
// Faults: everything is the real provider's doing except `fault`, which
// rewrites the ID token of the next token response the way a broken or hostile
// provider (or someone in between) would: another issuer, another audience,
// another nonce, an expiry in the past (each signed with the provider's real
// key), or a signature by a key the provider does not publish. The fault
// applies to one token response and is then cleared.

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import * as jose from 'jose';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'admin-token': { type: 'string' },
  },
});
const port = Number(args.port);
const adminToken = args['admin-token'];
if (!port || !adminToken) {
  console.error('usage: node provider.mjs --port N --admin-token T');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const state = { clients: [], accounts: {}, next: null, fault: null };

// Storage: oidc-provider's models in memory; clients come from `state`.
const stores = new Map();
class TestAdapter {
  constructor(model) {
    this.model = model;
    if (!stores.has(model)) stores.set(model, new Map());
    this.store = stores.get(model);
  }

  async upsert(id, payload) {
    this.store.set(id, { ...payload });
  }

  async find(id) {
    if (this.model === 'Client') {
      const client = state.clients.find((c) => c.client_id === id);
      return client ? { grant_types: ['authorization_code'], response_types: ['code'], ...client } : undefined;
    }
    return this.store.get(id);
  }

  async findByUid(uid) {
    for (const payload of this.store.values()) if (payload.uid === uid) return payload;
    return undefined;
  }

  async findByUserCode() {
    return undefined;
  }

  async consume(id) {
    const payload = this.store.get(id);
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const [id, payload] of this.store) if (payload.grantId === grantId) this.store.delete(id);
  }
}

async function signingKey(kid) {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid, use: 'sig', alg: 'RS256' };
}

const realKey = await signingKey('samverkan-test-key');

const provider = new Provider(issuer, {
  adapter: TestAdapter,
  jwks: { keys: [realKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  // Like Entra ID: the user's claims (e-mail, name, groups) are in the ID token itself.
  conformIdTokenClaims: false,
  claims: {
    // amr and acr (how the person signed in) with every ID token, as Entra ID and Sweden Connect send them.
    openid: ['sub', 'amr', 'acr'],
    email: ['email', 'email_verified'],
    profile: ['name', 'groups'],
  },
  features: { devInteractions: { enabled: false } },
  pkce: { required: () => false },
  async findAccount(_ctx, sub) {
    const claims = state.accounts[sub];
    if (!claims) return undefined;
    return { accountId: sub, async claims() { return { ...claims, sub }; } };
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { Session: 60, Interaction: 60, Grant: 600, AuthorizationCode: 60, AccessToken: 300, IdToken: 300 },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.proxy = false;

async function rewriteIdToken(idToken, fault) {
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key = realKey;
  if (fault === 'issuer') claims.iss = 'http://127.0.0.1:1/someone-else';
  if (fault === 'audience') claims.aud = 'another-application';
  if (fault === 'nonce') claims.nonce = 'a-nonce-from-another-sign-in';
  if (fault === 'expired') Object.assign(claims, { iat: now - 3600, exp: now - 1800 });
  if (fault === 'signature') key = await signingKey(realKey.kid); // same kid, unpublished key
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
    .sign(await jose.importJWK(key, 'RS256'));
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test__/state') {
    if (ctx.get('authorization') !== `Bearer ${adminToken}`) {
      ctx.status = 401;
      return;
    }
    if (ctx.method === 'PUT') {
      const chunks = [];
      for await (const chunk of ctx.req) chunks.push(chunk);
      Object.assign(state, JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}'));
    }
    ctx.type = 'json';
    ctx.body = state;
    return;
  }

  if (ctx.path.startsWith('/interaction/')) {
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    let result;
    if (details.prompt.name === 'login') {
      if (!state.next || !state.accounts[state.next.sub]) {
        result = { error: 'access_denied', error_description: 'no test account is set to sign in' };
      } else {
        const { sub, amr, acr } = state.next;
        result = { login: { accountId: sub, ...(amr ? { amr } : {}), ...(acr ? { acr } : {}), remember: false } };
      }
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
      const missing = details.prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      result = { consent: { grantId: await grant.save() } };
    }
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(returnTo);
    return;
  }

  await next();

  if (ctx.path === '/token' && state.fault && ctx.status === 200 && ctx.body?.id_token) {
    const fault = state.fault;
    state.fault = null;
    ctx.body = { ...ctx.body, id_token: await rewriteIdToken(ctx.body.id_token, fault) };
  }
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc test provider listening on ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
