// The demo's OAuth 2.0 / OpenID server, in the role matrix-authentication-service (MAS) plays for
// Synapse's `matrix_authentication_service` delegation. The protocol work is done by the certified
// `oidc-provider`; this file is the thin adapter Synapse's contract needs (see docs/auth.md):
//   - discovery with account_management_uri and prompt_values_supported (Synapse serves it to
//     clients as /_matrix/client/v1/auth_metadata),
//   - POST /oauth2/introspect answering Synapse, which authenticates with `Bearer <secret>`,
//   - users and devices provisioned in Synapse (/_synapse/mas/...) when tokens are issued, and the
//     device deleted when its grant is revoked,
//   - a login page checking the demo platform's users through its accounts endpoint.
//
// Usage: node authserver/server.mjs <config.json>   (written by pyapp/server/auth_server.py)
// Prints one line `READY <url>` on stdout once it listens.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import querystring from 'node:querystring';

import Provider, { interactionPolicy } from 'oidc-provider';

import { PgStore } from './pg_store.mjs';
import {
  FileStore, checkSigningKeys, newSigningKeys, readSigningKeys, signingKeys,
} from './store.mjs';
import { FailureWindow, accountKey } from './throttle.mjs';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const issuer = config.issuer.replace(/\/$/, '');
const synapseUrl = config.synapse_url.replace(/\/$/, '');
const secret = config.synapse_secret;
const log = (...args) => { if (config.verbose) console.error('[authserver]', ...args); };
if (!config.data_dir) throw new Error('config.data_dir is required (keys and grants live there)');
const keysFile = path.join(config.data_dir, 'signing-keys.json');
const cookieSecret = config.cookie_secret || crypto.randomBytes(32).toString('hex');
// `database` (postgresql://...): the state, the signing key and the cookie key in PostgreSQL,
// shared by every instance of this issuer; the first instance to start stores its own (or a new)
// key there and the others take it. Otherwise everything lives in files in data_dir.
const store = config.database
  ? await PgStore.open(config.database)
  : new FileStore(path.join(config.data_dir, 'state.json'));
const jwks = config.database
  ? checkSigningKeys(await store.shared('signing-keys', () => readSigningKeys(keysFile) || newSigningKeys()), 'in the database')
  : signingKeys(keysFile);
const cookieKeys = config.database ? await store.shared('cookie-keys', () => [cookieSecret]) : [cookieSecret];

const API_SCOPE = 'urn:matrix:client:api:*';
const API_SCOPE_UNSTABLE = 'urn:matrix:org.matrix.msc2967.client:api:*';
const DEVICE_PREFIXES = ['urn:matrix:client:device:', 'urn:matrix:org.matrix.msc2967.client:device:'];
// MAS accepts device ids of this shape; anything else could smuggle odd values into Synapse.
const DEVICE_ID = /^[A-Za-z0-9._~!$&'()*+,;=:@\/-]{1,255}$/;
// The one resource server: the homeserver's client API. Clients do not send `resource`;
// every grant gets this one (oidc-provider v9 keeps non-OIDC scopes only per resource).
const RESOURCE = 'urn:matrix:client';

function deviceIdOf(scope) {
  const ids = new Set();
  for (const s of (scope || '').split(' ')) {
    for (const p of DEVICE_PREFIXES) {
      if (s.startsWith(p)) ids.add(s.slice(p.length));
    }
  }
  return ids.size === 1 ? [...ids][0] : null;
}

function deviceScopes(scope) {
  return (scope || '').split(' ').filter(
    (s) => DEVICE_PREFIXES.some((p) => s.startsWith(p)) && DEVICE_ID.test(deviceIdOfOne(s)),
  );
}

function deviceIdOfOne(s) {
  const p = DEVICE_PREFIXES.find((x) => s.startsWith(x));
  return p ? s.slice(p.length) : '';
}

// -- Synapse's side of the contract -------------------------------------------------------------
async function synapse(path, body) {
  const r = await fetch(`${synapseUrl}/_synapse/mas/${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!r.ok) {
    const text = await r.text();
    throw new Error(`Synapse ${path} answered ${r.status}: ${text.slice(0, 200)}`);
  }
}

// The adapter's records (async maps: a change is stored when its promise resolves).
const accounts = store.records('accounts'); // localpart -> { display_name }
const provisioned = new Set(); // `${localpart}\0${device}` already upserted by this process
const deviceGrant = store.records('deviceGrant'); // `${localpart}\0${device}` -> newest grant id using that device
const grantDevice = store.records('grantDevice'); // grant id -> { localpart, device }

async function provision(localpart, device, grantId, always) {
  const key = `${localpart}\0${device}`;
  if (always || !provisioned.has(key)) {
    const displayname = (await accounts.get(localpart))?.display_name;
    await synapse('provision_user', { localpart, ...(displayname ? { set_displayname: displayname } : {}) });
    await synapse('upsert_device', { localpart, device_id: device, display_name: 'Community chat (web)' });
    provisioned.add(key);
  }
  if (grantId && (await deviceGrant.get(key)) !== grantId) {
    await grantDevice.set(grantId, { localpart, device });
    await deviceGrant.set(key, grantId);
  }
}

async function deleteDeviceOfGrant(grantId) {
  // take/deleteIf are atomic: with several instances only one deletes the device.
  const d = await grantDevice.take(grantId);
  if (!d) return;
  const key = `${d.localpart}\0${d.device}`;
  // A later login may have reused the device id (re-login keeps the device): only the grant that
  // owns the device now may delete it.
  if (!(await deviceGrant.deleteIf(key, grantId))) return;
  provisioned.delete(key);
  try {
    await synapse('delete_device', { localpart: d.localpart, device_id: d.device });
    log('deleted device', d.device, 'of', d.localpart);
  } catch (e) {
    console.error('[authserver] delete_device failed:', e.message);
  }
}

// -- the platform's accounts ------------------------------------------------------------------
async function accountsCall(action, body) {
  if (!config.accounts_url) return { status: 503, body: { error: 'No account directory is configured.' } };
  try {
    const r = await fetch(`${config.accounts_url.replace(/\/$/, '')}/${action}`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...(config.accounts_secret ? { Authorization: `Bearer ${config.accounts_secret}` } : {}),
      },
      body: JSON.stringify(body),
    });
    let parsed = null;
    try { parsed = await r.json(); } catch { parsed = null; }
    return { status: r.status, body: parsed };
  } catch (e) {
    console.error('[authserver] accounts endpoint unreachable:', e.message);
    return { status: 503, body: { error: 'The account directory is unreachable; try again.' } };
  }
}

// -- sign-in throttling -------------------------------------------------------------------------
// Failed sign-ins per account name and per client address (the socket's: this server is not
// behind a proxy that it would have to trust). While either is over its limit the form answers
// 429 with Retry-After and does not check the password at all.
const limits = config.login_throttle || {};
const perAccount = new FailureWindow({
  limit: limits.account_failures ?? 5, windowMs: (limits.account_window ?? 600) * 1000,
});
const perAddress = new FailureWindow({
  limit: limits.address_failures ?? 30, windowMs: (limits.address_window ?? 600) * 1000,
});
// A refused sign-in is answered no sooner than this after the form arrived, so an unknown user
// (no password hash to check) cannot be told from a known one with a wrong password by timing.
const FAILURE_FLOOR_MS = limits.failure_floor_ms ?? 400;

function inWords(seconds) {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

// -- provider -----------------------------------------------------------------------------------
const policy = interactionPolicy.base();
// prompt=create (MSC2964 / Matrix spec): the client asks to show sign-up first.
policy.add(new interactionPolicy.Prompt({ name: 'create', requestable: true }), 0);

// The deployment's own chat clients (from the launcher's config): signing in is their consent.
// Every other client - anything registered dynamically - gets the consent screen, which names
// where the browser will be sent, because a stranger can register any name it likes.
const trustedClients = (config.trusted_clients || []).map((c) => ({
  client_id: String(c.client_id),
  client_name: c.client_name || 'Community chat',
  redirect_uris: c.redirect_uris,
  application_type: 'web',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
}));
const TRUSTED = new Set(trustedClients.map((c) => c.client_id));
if (TRUSTED.has('synapse')) throw new Error('"synapse" is reserved for the homeserver');

const provider = new Provider(issuer, {
  clients: [{
    // Synapse is the one confidential client; it only introspects.
    client_id: 'synapse',
    client_secret: secret,
    grant_types: [],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }, ...trustedClients],
  // Browsers may call the token, revocation and userinfo endpoints only from the origin of one
  // of the calling client's redirect URIs; discovery and keys are open (oidc-provider's routes),
  // registration is open below; the sign-in and consent pages never answer cross-origin reads.
  clientBasedCORS: (ctx, origin, client) => origin !== 'null'
    && (ctx.oidc.route === 'userinfo' || client.clientAuthMethod === 'none')
    && client.redirectUris.some((uri) => URL.parse(uri)?.origin === origin),
  cookies: { keys: cookieKeys },
  adapter: store.adapter(),
  jwks,
  // The Matrix scopes are resource scopes only (of RESOURCE below), never OIDC scopes.
  scopes: ['openid', 'offline_access'],
  claims: { openid: ['sub'], profile: ['name'] },
  pkce: { required: () => true },
  routes: {
    authorization: '/authorize',
    token: '/oauth2/token',
    registration: '/oauth2/registration',
    revocation: '/oauth2/revoke',
    introspection: '/oauth2/introspect',
    jwks: '/oauth2/keys.json',
    userinfo: '/oauth2/userinfo',
    end_session: '/oauth2/logout',
  },
  ttl: {
    AccessToken: config.access_token_ttl ?? 300,
    RefreshToken: config.refresh_token_ttl ?? 14 * 24 * 3600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 24 * 3600,
    Grant: config.refresh_token_ttl ?? 14 * 24 * 3600,
    IdToken: 3600,
  },
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true, initialAccessToken: false },
    revocation: { enabled: true, allowedPolicy: async (ctx, client, token) => client.clientId === token.clientId },
    introspection: {
      enabled: true,
      // Only Synapse may learn who a token belongs to.
      allowedPolicy: async (ctx, client) => client.clientId === 'synapse',
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resource) => {
        if (resource !== RESOURCE) throw new Provider.errors.InvalidTarget();
        // v9 has no dynamic scopes: the allowed set is computed per request, adding the device
        // scope the request (or the code / refresh token being redeemed) carries.
        const { params, entities } = ctx.oidc;
        const source = [params?.scope, entities.AuthorizationCode?.scope, entities.RefreshToken?.scope]
          .filter(Boolean).join(' ');
        return {
          scope: [API_SCOPE, API_SCOPE_UNSTABLE, ...deviceScopes(source)].join(' '),
          accessTokenFormat: 'opaque',
          audience: RESOURCE,
        };
      },
    },
  },
  // Matrix clients are public (no secret): refresh tokens are their only way to stay signed in.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  extraTokenClaims: async (ctx, token) => {
    if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
    const device = deviceIdOf(token.scope);
    if (device) {
      const always = ctx.oidc.params?.grant_type === 'authorization_code';
      await provision(token.accountId, device, token.grantId, always);
    }
    return { username: token.accountId };
  },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, name: (await accounts.get(sub))?.display_name }),
  }),
  interactions: { policy, url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  discovery: {
    account_management_uri: `${issuer}/account`,
    account_management_actions_supported: ['org.matrix.profile', 'org.matrix.session_end'],
    prompt_values_supported: ['none', 'login', 'consent', 'create'],
    code_challenge_methods_supported: ['S256'],
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Sign-in problem', `<p class="error">${esc(out.error_description || out.error)}</p>`);
  },
});
provider.proxy = false;

// Events cannot be awaited, so the deletion is tracked and the token/revocation response waits
// for it (middleware below): once a client hears "revoked", the homeserver refuses the token.
const pendingDeletions = new Set();
provider.on('grant.revoked', (ctx, grantId) => {
  const p = deleteDeviceOfGrant(grantId).finally(() => pendingDeletions.delete(p));
  pendingDeletions.add(p);
});
provider.on('server_error', (ctx, err) => console.error('[authserver] server_error', err));

// -- adapter middleware ---------------------------------------------------------------------------
provider.use(async (ctx, next) => {
  // Synapse authenticates introspection with `Bearer <shared secret>`; oidc-provider wants client
  // authentication, so the secret becomes the `synapse` client's Basic credentials.
  if (ctx.path === '/oauth2/introspect' && ctx.method === 'POST') {
    const auth = ctx.get('authorization');
    if (auth === `Bearer ${secret}`) {
      ctx.request.headers.authorization = `Basic ${Buffer.from(`synapse:${encodeURIComponent(secret)}`).toString('base64')}`;
    }
    await next();
    if (ctx.status === 200 && ctx.body?.active && typeof ctx.body.exp === 'number') {
      // Synapse caches introspection results and expires them by `expires_in`.
      ctx.body.expires_in = Math.max(0, ctx.body.exp - Math.floor(Date.now() / 1000));
    }
    return;
  }
  // Dynamic registration comes from the chat page (another origin); registration is open anyway.
  if (ctx.path === '/oauth2/registration') {
    const origin = ctx.get('origin');
    if (origin) {
      ctx.set('Access-Control-Allow-Origin', origin);
      ctx.set('Vary', 'Origin');
    }
    if (ctx.method === 'OPTIONS') {
      ctx.set('Access-Control-Allow-Methods', 'POST');
      ctx.set('Access-Control-Allow-Headers', 'Content-Type');
      ctx.set('Access-Control-Max-Age', '3600');
      ctx.status = 204;
      return;
    }
  }
  if (ctx.path === '/oauth2/token' || ctx.path === '/oauth2/revoke') {
    try {
      await next();
    } finally {
      await Promise.all([...pendingDeletions]);
    }
    return;
  }
  if (ctx.path === '/account') {
    ctx.type = 'html';
    ctx.body = page('Your account', '<p>Manage your profile on the community platform.</p>');
    return;
  }
  if (ctx.path === '/healthz') {
    ctx.body = { ok: true };
    return;
  }
  const m = ctx.path.match(/^\/interaction\/([^/]+)(?:\/(login|create|abort|allow))?$/);
  if (m) {
    await interaction(ctx, m[1], m[2]);
    return;
  }
  await next();
});

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 16384) throw new Error('form too large');
    chunks.push(c);
  }
  return querystring.parse(Buffer.concat(chunks).toString('utf8'));
}

// Sign-in and consent pages must not be framed (clickjacking the Allow button) nor leak the
// interaction URL through a referrer; they load nothing from anywhere.
function pageHeaders(ctx) {
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('Referrer-Policy', 'no-referrer');
}

async function interaction(ctx, uid, action) {
  pageHeaders(ctx);
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch {
    ctx.status = 400;
    ctx.body = page('Sign-in expired', '<p class="error">This sign-in page has expired. Go back to the chat and sign in again.</p>');
    return;
  }
  if (details.uid !== uid) {
    ctx.status = 400;
    ctx.body = page('Sign-in problem', '<p class="error">This sign-in page does not belong to your browser session.</p>');
    return;
  }
  const client = await provider.Client.find(details.params.client_id);
  const trusted = TRUSTED.has(details.params.client_id);
  const wantsCreate = details.prompt.name === 'create';
  // After sign-in (or with a live session) a client that is not the deployment's own waits
  // for the user's explicit Allow.
  const asking = details.prompt.name === 'consent' && !trusted && Boolean(details.session?.accountId);
  log('interaction', details.prompt.name, details.prompt.reasons.join(','), trusted ? 'trusted' : 'third-party');

  if (ctx.method === 'GET') {
    if (asking) {
      ctx.body = consentPage(uid, client, details);
      return;
    }
    // The sign-up page links to the sign-in form of the same interaction (?mode=login).
    // login_hint (OpenID Connect): the chat passes the platform user its host page knows.
    const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint.slice(0, 200) : '';
    ctx.body = formPage(uid, client, wantsCreate && ctx.query.mode !== 'login', { username: hint });
    return;
  }
  if (ctx.method !== 'POST') {
    ctx.status = 405;
    return;
  }
  const form = await readForm(ctx.req);
  if (action === 'abort') {
    ctx.respond = false;
    await provider.interactionFinished(ctx.req, ctx.res, {
      error: 'access_denied',
      error_description: asking ? 'The user denied access.' : 'The user cancelled the sign-in.',
    }, { mergeWithLastSubmission: false });
    return;
  }
  if (action === 'allow') {
    if (!asking) {
      ctx.status = 400;
      ctx.body = page('Sign-in problem', '<p class="error">There is nothing to allow on this page. Go back to the app and sign in again.</p>');
      return;
    }
    const grantId = await saveGrant(details, details.session.accountId);
    log('consent given', details.session.accountId, details.params.client_id);
    ctx.respond = false;
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  const username = String(form.username || '').trim();
  const password = String(form.password || '');
  const creating = action === 'create';
  if (!username || !password) {
    ctx.body = formPage(uid, client, creating, { username, error: 'Enter your username and password.' });
    return;
  }
  const address = ctx.req.socket.remoteAddress || 'unknown';
  const account = accountKey(username);
  const wait = Math.max(perAddress.retryAfter(address, Date.now()),
    creating ? 0 : perAccount.retryAfter(account, Date.now()));
  if (wait) {
    log('throttled', creating ? 'create' : 'login', 'for', wait, 's');
    ctx.status = 429;
    ctx.set('Retry-After', String(wait));
    ctx.body = formPage(uid, client, creating, {
      username, error: `Too many failed sign-in attempts. Please wait ${inWords(wait)} and try again.`,
    });
    return;
  }
  const started = Date.now();
  const result = await accountsCall(creating ? 'register' : 'verify', {
    username, password, ...(creating && form.display_name ? { display_name: String(form.display_name) } : {}),
  });
  if (result.status !== 200 || !result.body?.localpart) {
    if (result.status < 500) {
      perAddress.fail(address, Date.now());
      if (!creating) perAccount.fail(account, Date.now());
      const rest = FAILURE_FLOOR_MS - (Date.now() - started);
      if (rest > 0) await new Promise((resolve) => { setTimeout(resolve, rest); });
    }
    ctx.status = result.status >= 500 ? 503 : 200;
    const error = result.body?.error || (creating ? 'The account could not be created.' : 'Wrong username or password.');
    ctx.body = formPage(uid, client, creating, { username, error });
    return;
  }
  if (!creating) perAccount.clear(account);
  const localpart = result.body.localpart;
  await accounts.set(localpart, { display_name: result.body.display_name || null });
  log('signed in', localpart);

  ctx.respond = false;
  if (!trusted) {
    // Signed in; the provider comes back with a consent interaction for this client.
    await provider.interactionFinished(ctx.req, ctx.res, {
      login: { accountId: localpart },
      ...(wantsCreate ? { create: {} } : {}),
    }, { mergeWithLastSubmission: false });
    return;
  }
  // The deployment's own client: the sign-in itself is the consent, so the grant is completed
  // here and the browser goes straight back to the chat (one redirect, no consent screen).
  const grantId = await saveGrant(details, localpart);
  await provider.interactionFinished(ctx.req, ctx.res, {
    login: { accountId: localpart },
    consent: { grantId },
    ...(wantsCreate ? { create: {} } : {}),
  }, { mergeWithLastSubmission: false });
}

// The grant for what the authorization request asks (OIDC scopes and the Matrix API and device
// scopes of the one resource), on top of the grant this client already has for this account.
async function saveGrant(details, accountId) {
  let grant;
  if (details.grantId) {
    grant = await provider.Grant.find(details.grantId);
  }
  if (!grant || grant.accountId !== accountId) {
    grant = new provider.Grant({ accountId, clientId: details.params.client_id });
  }
  const requested = String(details.params.scope || '').split(' ').filter(Boolean);
  const oidcScopes = requested.filter((s) => s === 'openid' || s === 'offline_access');
  if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
  const resourceScopes = requested.filter((s) => s === API_SCOPE || s === API_SCOPE_UNSTABLE || deviceScopes(s).length);
  if (resourceScopes.length) grant.addResourceScope(RESOURCE, resourceScopes.join(' '));
  return grant.save();
}

// What each scope lets the app do, in the user's words.
function scopeWords(scope) {
  const words = [];
  const asked = String(scope || '').split(' ').filter(Boolean);
  if (asked.includes(API_SCOPE) || asked.includes(API_SCOPE_UNSTABLE)) {
    words.push('Read and send messages in all your chats, see your rooms and contacts, and act in the chat as you');
  }
  const devices = asked.filter((s) => deviceScopes(s).length).map(deviceIdOfOne);
  if (devices.length) {
    words.push(`Sign in to the chat as a new session (device ${devices.map(esc).join(', ')})`);
  }
  if (asked.includes('openid')) words.push('Know your chat user name');
  if (asked.includes('offline_access')) words.push('Stay signed in while you are away');
  const unknown = asked.filter((s) => s !== API_SCOPE && s !== API_SCOPE_UNSTABLE && s !== 'openid'
    && s !== 'offline_access' && !deviceScopes(s).length);
  if (unknown.length) words.push(`Other access: ${unknown.map(esc).join(', ')}`);
  return words;
}

function hostOf(uri) {
  const u = URL.parse(String(uri || ''));
  if (!u) return String(uri || '');
  return u.protocol === 'https:' || u.protocol === 'http:' ? u.host : `${u.protocol}//${u.host}`;
}

function consentPage(uid, client, details) {
  const name = client?.clientName ? esc(client.clientName) : 'An app';
  const host = esc(hostOf(details.params.redirect_uri));
  const site = client?.clientUri && hostOf(client.clientUri) !== hostOf(details.params.redirect_uri)
    ? `<p class="muted">It says its home page is ${esc(hostOf(client.clientUri))}.</p>` : '';
  const items = scopeWords(details.params.scope).map((w) => `<li>${w}</li>`).join('');
  return page('Allow access?', `
<p><strong id="client-name">${name}</strong> wants to use your account <strong id="account">${esc(details.session.accountId)}</strong>.</p>
<p class="warn">If you allow it, you will be sent to <strong id="redirect-host">${host}</strong>, and that site will be able to:</p>
<ul id="scopes">${items}</ul>
${site}
<p class="muted">This app is not part of this community's own chat, and its name is chosen by whoever
registered it. Allow only if you trust <strong>${host}</strong>.</p>
<form method="post" action="/interaction/${esc(uid)}/allow"><button type="submit" id="allow">Allow</button></form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit" id="deny">Deny</button></form>`);
}

// -- pages ----------------------------------------------------------------------------------------
function esc(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(title)}</title>
<style>
body{font:16px/1.4 system-ui,sans-serif;background:#f4f5f7;margin:0;display:flex;justify-content:center}
main{background:#fff;margin:4rem 1rem;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:100%;max-width:22rem}
h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .2rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font:inherit}
button{margin-top:1.2rem;padding:.6rem 1rem;font:inherit;width:100%;cursor:pointer}
.error{color:#a40000}.warn{background:#fff4e5;padding:.5rem;border-radius:4px}ul{padding-left:1.2rem}.muted{color:#555;font-size:.9rem}.link{background:none;border:0;color:#0645ad;width:auto;padding:0}
</style></head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

function formPage(uid, client, creating, { username = '', error = null }) {
  const app = client?.clientName ? esc(client.clientName) : 'the chat';
  const action = creating ? 'create' : 'login';
  const err = error ? `<p class="error" role="alert" id="form-error">${esc(error)}</p>` : '';
  const name = creating
    ? '<label for="display_name">Display name</label><input id="display_name" name="display_name" autocomplete="name">'
    : '';
  const other = creating
    ? `<p class="muted">Already have an account? <a href="/interaction/${esc(uid)}?mode=login">Sign in</a></p>`
    : '';
  return page(creating ? 'Create your account' : 'Sign in', `
<p class="muted">to continue to ${app}</p>${err}
<form method="post" action="/interaction/${esc(uid)}/${action}" autocomplete="on">
<label for="username">Username</label>
<input id="username" name="username" value="${esc(username)}" autocomplete="username" autocapitalize="none" required${username ? '' : ' autofocus'}>
${name}
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="${creating ? 'new-password' : 'current-password'}" required${username ? ' autofocus' : ''}>
<button type="submit" id="submit">${creating ? 'Create account' : 'Sign in'}</button>
</form>
<form method="post" action="/interaction/${esc(uid)}/abort"><button class="link" type="submit" id="cancel">Cancel</button></form>
${other}`);
}

// -- listen ---------------------------------------------------------------------------------------
const server = http.createServer(provider.callback());
server.listen(config.port, config.host || '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
