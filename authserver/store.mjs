// The auth server's state on disk: oidc-provider's models (grants, refresh and access tokens,
// sessions, registered clients, ...) and the adapter's own records (which device each grant
// owns, users' display names), so a restart signs nobody out and a later logout still deletes
// the right device.
//
// One JSON file, replaced atomically (write a 0600 temporary file, fsync, rename). It is the
// default, for the embedded stack whose platform runs on SQLite - but not SQLite itself: Node 20
// has no built-in SQLite module (node:sqlite arrives in 22) and native modules such as
// better-sqlite3 need a prebuilt binary that cannot be fetched where this runs, while the
// demo's state is small. Writes are coalesced - every change awaits the write that contains
// it, so a token is on disk before its response leaves. The file belongs to one process: for
// several instances, PgStore (pg_store.mjs) keeps the same state in PostgreSQL.
//
// Refresh-token rotation with grace (MAS's behaviour): after a refresh, the previous token stays
// usable until the new one is first used. A client whose answer was lost retries with the old
// token and gets a fresh pair (the unused lost pair's refresh token is dropped); once the new
// token has been used, the old one is spent and oidc-provider's reuse detection applies.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

function empty() {
  // entries: "Model:id" -> { p: payload, e: expiry (ms epoch) | null }
  // grants: grantId -> [entry keys]; uids: session uid -> id; userCodes: code -> id
  // chains: token family (familyOf) -> { current, previous, grantId } refresh token ids;
  // app: the adapter's records
  return { version: 1, entries: {}, grants: {}, uids: {}, userCodes: {}, chains: {}, app: {} };
}

export class FileStore {
  constructor(file) {
    this.file = file;
    this.data = empty();
    this.writing = null;
    this.waiter = null;
    let text = null;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
    if (text !== null) {
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        // Starting empty would sign everybody out and forget their devices: refuse instead.
        throw new Error(`auth server state ${file} is not valid JSON (${e.message}); fix or move it away`);
      }
      if (!parsed || parsed.version !== 1 || typeof parsed.entries !== 'object') {
        throw new Error(`auth server state ${file} has an unknown format`);
      }
      this.data = { ...empty(), ...parsed };
    }
  }

  app(name) {
    if (!this.data.app[name]) this.data.app[name] = {};
    return this.data.app[name];
  }

  // The adapter's own records as an async map (PgStore's interface); a change is on disk when
  // its promise resolves.
  records(name) {
    const records = this.app(name);
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    return {
      get: async (key) => (Object.hasOwn(records, key) ? records[key] : undefined),
      set: async (key, value) => {
        records[key] = value;
        await this.flush();
      },
      take: async (key) => {
        if (!Object.hasOwn(records, key)) return undefined;
        const value = records[key];
        delete records[key];
        await this.flush();
        return value;
      },
      deleteIf: async (key, expected) => {
        if (!Object.hasOwn(records, key) || !same(records[key], expected)) return false;
        delete records[key];
        await this.flush();
        return true;
      },
    };
  }

  adapter() {
    return adapterFor(this);
  }

  live(key) {
    const entry = this.data.entries[key];
    if (!entry) return undefined;
    if (entry.e !== null && entry.e <= Date.now()) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  remove(key) {
    const entry = this.data.entries[key];
    if (!entry) return;
    delete this.data.entries[key];
    const { grantId, uid, userCode } = entry.p;
    if (grantId && this.data.grants[grantId]) {
      this.data.grants[grantId] = this.data.grants[grantId].filter((k) => k !== key);
      if (!this.data.grants[grantId].length) delete this.data.grants[grantId];
    }
    if (uid && this.data.uids[uid] === key) delete this.data.uids[uid];
    if (userCode && this.data.userCodes[userCode] === key) delete this.data.userCodes[userCode];
  }

  purgeExpired() {
    const now = Date.now();
    for (const [key, entry] of Object.entries(this.data.entries)) {
      if (entry.e !== null && entry.e <= now) this.remove(key);
    }
    for (const [family, chain] of Object.entries(this.data.chains)) {
      if (!this.data.entries[`RefreshToken:${chain.current}`]) delete this.data.chains[family];
    }
  }

  // Resolves once every change made before the call is on disk.
  flush() {
    if (!this.waiter) {
      this.waiter = (async () => {
        await null; // this.waiter must hold this promise before the line that clears it runs
        while (this.writing) {
          try { await this.writing; } catch { /* reported to its own waiters */ }
        }
        this.waiter = null; // changes from now on need the next write
        this.purgeExpired();
        const text = JSON.stringify(this.data);
        this.writing = this.write(text);
        try {
          await this.writing;
        } finally {
          this.writing = null;
        }
      })();
    }
    return this.waiter;
  }

  async write(text) {
    const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${crypto.randomBytes(6).toString('hex')}.tmp`);
    // Created 0600: tokens are secrets, there is no readable window.
    const fh = await fs.promises.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, this.file);
  }
}

const generation = (payload) => payload?.rotations || 0;

// The refresh tokens rotated from one original: what oidc-provider copies from a token to its
// successor. A grant can hold several families (each device signed in under it has its own), and
// each has its own grace.
export function familyOf(payload) {
  return crypto.createHash('sha256')
    .update(JSON.stringify([payload.grantId, payload.iiat ?? null, payload.sessionUid ?? null, payload.scope ?? null]))
    .digest('base64url');
}

// oidc-provider's adapter interface over a FileStore.
export function adapterFor(store) {
  const { data } = store;

  return class FileAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      store.remove(key);
      if (this.model === 'RefreshToken' && payload.grantId) this.chain(id, payload);
      data.entries[key] = { p: payload, e: typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : null };
      if (GRANTABLE.has(this.model) && payload.grantId) {
        (data.grants[payload.grantId] ||= []).push(key);
      }
      if (this.model === 'Session' && payload.uid) data.uids[payload.uid] = key;
      if (payload.userCode) data.userCodes[payload.userCode] = key;
      await store.flush();
    }

    // Which refresh token of the grant is current and which one it replaced.
    chain(id, payload) {
      const family = familyOf(payload);
      const chain = data.chains[family];
      if (chain?.current === id) return;
      const current = chain && store.live(`RefreshToken:${chain.current}`);
      const gen = generation(payload);
      if (current && gen > 0 && gen === generation(current.p) && !current.p.consumed) {
        // A sibling of the current token: the previous one was presented again within its
        // grace, so the current pair never reached the client. It is dropped; the previous
        // stays the one that may be retried.
        store.remove(`RefreshToken:${chain.current}`);
        chain.current = id;
      } else if (current && gen === generation(current.p) + 1) {
        data.chains[family] = { current: id, previous: chain.current, grantId: payload.grantId };
      } else {
        data.chains[family] = { current: id, previous: null, grantId: payload.grantId };
      }
    }

    async find(id) {
      const entry = store.live(this.key(id));
      if (!entry) return undefined;
      const payload = { ...entry.p };
      if (this.model === 'RefreshToken' && payload.consumed && payload.grantId) {
        const chain = data.chains[familyOf(payload)];
        const next = chain?.previous === id && store.live(`RefreshToken:${chain.current}`);
        if (next && !next.p.consumed) delete payload.consumed; // grace: the new one is unused
      }
      return payload;
    }

    async findByUid(uid) {
      const key = data.uids[uid];
      return key ? this.find(key.slice(key.indexOf(':') + 1)) : undefined;
    }

    async findByUserCode(userCode) {
      const key = data.userCodes[userCode];
      return key ? this.find(key.slice(key.indexOf(':') + 1)) : undefined;
    }

    async consume(id) {
      const entry = store.live(this.key(id));
      if (!entry) return;
      entry.p.consumed = Math.floor(Date.now() / 1000);
      await store.flush();
    }

    async destroy(id) {
      store.remove(this.key(id));
      await store.flush();
    }

    async revokeByGrantId(grantId) {
      for (const key of data.grants[grantId] || []) store.remove(key);
      delete data.grants[grantId];
      for (const [family, chain] of Object.entries(data.chains)) {
        if (chain.grantId === grantId) delete data.chains[family];
      }
      await store.flush();
    }
  };
}

// The ID-token signing key: generated on first start, kept in the data directory (0600 from
// creation), never the library's published development keys.
export function signingKeys(file) {
  const found = readSigningKeys(file);
  if (found) return found;
  const jwks = newSigningKeys();
  const tmp = `${file}.${crypto.randomBytes(6).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, JSON.stringify(jwks));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return jwks;
}

// The key set in `file`, or null when there is none yet.
export function readSigningKeys(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (e.code === 'ENOENT') return null;
    throw e;
  }
  let jwks;
  try {
    jwks = JSON.parse(text);
  } catch (e) {
    throw new Error(`signing keys ${file} are not valid JSON (${e.message})`);
  }
  checkSigningKeys(jwks, file);
  if ((fs.statSync(file).mode & 0o077) !== 0) fs.chmodSync(file, 0o600);
  return jwks;
}

export function checkSigningKeys(jwks, where) {
  if (!Array.isArray(jwks?.keys) || !jwks.keys.length || !jwks.keys.every((k) => k.d)) {
    throw new Error(`signing keys ${where} hold no private keys`);
  }
  return jwks;
}

export function newSigningKeys() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, kid: crypto.randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' }] };
}
