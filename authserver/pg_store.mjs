// The auth server's state in PostgreSQL, for deployments whose platform already runs on it:
// several auth-server instances behind one issuer URL share grants, tokens, sessions, the
// adapter's records (accounts' display names, which device each grant owns) and the signing and
// cookie keys. Same behaviour as FileStore (store.mjs), which stays the default.
//
// Every step that decides who may redeem something is one transaction with row locks, so two
// instances cannot both win:
//   - a code (or any other consumable) is consumed by a conditional UPDATE; the loser's
//     consume() throws invalid_grant;
//   - a refresh token's rotation locks its family's chain row (family: the tokens rotated from
//     one original, familyOf in store.mjs). The chain names the newest token (`current`) and
//     the one it replaced (`previous`). `previous` stays redeemable (MAS's grace) while
//     `current` is unused; using `current` spends `previous`, and redeeming `previous` again
//     drops `current` (its answer never reached the client). A consumed token whose successor
//     is not stored yet has `current` NULL: retries of it are still in grace.
//
// Expired rows are invisible to reads and deleted every few minutes by whichever instance gets
// there (harmless if several do).

import pg from 'pg';
import { errors } from 'oidc-provider';

import { familyOf } from './store.mjs';

const GRANTABLE = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
]);

const SCHEMA = `
CREATE TABLE IF NOT EXISTS authserver_entries (
  model text NOT NULL,
  id text NOT NULL,
  payload text NOT NULL,      -- JSON (text: jsonb refuses NUL characters in strings)
  consumed bigint,            -- seconds since the epoch, as oidc-provider's payload.consumed
  expires_ms bigint,          -- NULL: no expiry
  grant_id text,              -- only for the models a grant revocation removes
  uid text,                   -- Session only
  user_code text,
  family text,                -- RefreshToken only
  PRIMARY KEY (model, id)
);
CREATE INDEX IF NOT EXISTS authserver_entries_grant ON authserver_entries (grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS authserver_entries_uid ON authserver_entries (uid) WHERE uid IS NOT NULL;
CREATE INDEX IF NOT EXISTS authserver_entries_user_code ON authserver_entries (user_code) WHERE user_code IS NOT NULL;
CREATE INDEX IF NOT EXISTS authserver_entries_expiry ON authserver_entries (expires_ms) WHERE expires_ms IS NOT NULL;
CREATE TABLE IF NOT EXISTS authserver_chains (
  family text PRIMARY KEY,
  grant_id text NOT NULL,
  current text,
  previous text
);
CREATE INDEX IF NOT EXISTS authserver_chains_grant ON authserver_chains (grant_id);
CREATE TABLE IF NOT EXISTS authserver_records (
  name text NOT NULL,
  key text NOT NULL,
  value text NOT NULL,        -- JSON
  PRIMARY KEY (name, key)
);
CREATE TABLE IF NOT EXISTS authserver_secrets (
  name text PRIMARY KEY,
  value text NOT NULL         -- JSON
);`;

// Any constant: instances starting together create the schema one after the other.
const SCHEMA_LOCK = 7_310_517_001;
const LIVE = '(expires_ms IS NULL OR expires_ms > $now)';

const generation = (payload) => payload?.rotations || 0;

// $now in a query is the caller's clock (as the file store's), the rest are positional.
function bind(sql, params) {
  if (!sql.includes('$now')) return { text: sql, values: params };
  return { text: sql.replaceAll('$now', `$${params.length + 1}`), values: [...params, Date.now()] };
}

// PostgreSQL text cannot hold NUL: a value with one (only ever from a client's request) is
// simply not there.
const storable = (s) => typeof s === 'string' && !s.includes('\0');

function withConsumed(row) {
  const payload = JSON.parse(row.payload);
  if (row.consumed !== null && row.consumed !== undefined) payload.consumed = Number(row.consumed);
  else delete payload.consumed;
  return payload;
}

export class PgStore {
  constructor(pool, { pruneEveryMs = 10 * 60 * 1000 } = {}) {
    this.pool = pool;
    this.pruneEveryMs = pruneEveryMs;
    this.timer = null;
  }

  static async open(url, options = {}) {
    const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
    // An idle connection dropped by the server must not end the process; the next query
    // opens a new one.
    pool.on('error', (e) => console.error('[authserver] database connection lost:', e.message));
    const store = new PgStore(pool, options);
    try {
      await store.transaction(async (q) => {
        await q('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await q(SCHEMA);
      });
      await store.prune();
    } catch (e) {
      await pool.end();
      throw new Error(`auth server database ${redact(url)}: ${e.message}`);
    }
    if (store.pruneEveryMs) {
      store.timer = setInterval(() => {
        store.prune().catch((e) => console.error('[authserver] pruning expired state failed:', e.message));
      }, store.pruneEveryMs);
      store.timer.unref();
    }
    return store;
  }

  async close() {
    if (this.timer) clearInterval(this.timer);
    await this.pool.end();
  }

  async query(sql, params = []) {
    return this.pool.query(bind(sql, params));
  }

  async transaction(work) {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work((sql, params = []) => client.query(bind(sql, params)));
      await client.query('COMMIT');
      return result;
    } catch (e) {
      try { await client.query('ROLLBACK'); } catch { /* the connection is gone; so is the transaction */ }
      throw e;
    } finally {
      client.release();
    }
  }

  async prune() {
    await this.query(`DELETE FROM authserver_entries WHERE expires_ms IS NOT NULL AND expires_ms <= $now`);
    await this.query(`DELETE FROM authserver_chains c WHERE NOT EXISTS (
      SELECT 1 FROM authserver_entries e WHERE e.model = 'RefreshToken' AND e.id IN (c.current, c.previous))`);
  }

  // A value every instance must agree on (signing keys, cookie keys): the first instance to
  // ask stores what `make` returns, everyone gets the stored one.
  async shared(name, make) {
    const found = await this.query('SELECT value FROM authserver_secrets WHERE name = $1', [name]);
    if (found.rows.length) return JSON.parse(found.rows[0].value);
    await this.query('INSERT INTO authserver_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
      [name, JSON.stringify(make())]);
    return JSON.parse((await this.query('SELECT value FROM authserver_secrets WHERE name = $1', [name])).rows[0].value);
  }

  // The adapter's own records as an async map; take() and deleteIf() are atomic, so two
  // instances cannot both act on the same record (e.g. both delete a grant's device). Keys are
  // stored as JSON strings: the server's keys join parts with NUL.
  records(name) {
    const value = (r) => (r.rows[0] ? JSON.parse(r.rows[0].value) : undefined);
    return {
      get: async (key) => value(await this.query(
        'SELECT value FROM authserver_records WHERE name = $1 AND key = $2', [name, JSON.stringify(key)])),
      set: async (key, v) => {
        await this.query(`INSERT INTO authserver_records (name, key, value) VALUES ($1, $2, $3)
          ON CONFLICT (name, key) DO UPDATE SET value = EXCLUDED.value`, [name, JSON.stringify(key), JSON.stringify(v)]);
      },
      take: async (key) => value(await this.query(
        'DELETE FROM authserver_records WHERE name = $1 AND key = $2 RETURNING value', [name, JSON.stringify(key)])),
      deleteIf: async (key, expected) => (await this.query(
        'DELETE FROM authserver_records WHERE name = $1 AND key = $2 AND value = $3',
        [name, JSON.stringify(key), JSON.stringify(expected)])).rowCount > 0,
    };
  }

  adapter() {
    return pgAdapter(this);
  }
}

function redact(url) {
  return String(url).replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

// Locks the family's chain row (creating it if needed) and returns it.
async function lockChain(q, family, grantId) {
  await q(`INSERT INTO authserver_chains (family, grant_id) VALUES ($1, $2) ON CONFLICT (family) DO NOTHING`,
    [family, grantId]);
  return (await q('SELECT current, previous FROM authserver_chains WHERE family = $1 FOR UPDATE', [family])).rows[0];
}

async function liveToken(q, id, lock = false) {
  const r = await q(`SELECT payload, consumed FROM authserver_entries
    WHERE model = 'RefreshToken' AND id = $1 AND ${LIVE}${lock ? ' FOR UPDATE' : ''}`, [id]);
  return r.rows[0] && { payload: JSON.parse(r.rows[0].payload), consumed: r.rows[0].consumed };
}

function pgAdapter(store) {
  return class PgAdapter {
    constructor(model) {
      this.model = model;
    }

    async upsert(id, payload, expiresIn) {
      const expires = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : null;
      const { consumed, ...rest } = payload;
      const grantId = GRANTABLE.has(this.model) && payload.grantId ? payload.grantId : null;
      const family = this.model === 'RefreshToken' && grantId ? familyOf(payload) : null;
      const row = [this.model, id, JSON.stringify(rest), consumed ?? null, expires, grantId,
        this.model === 'Session' ? payload.uid ?? null : null, payload.userCode ?? null, family];
      const write = (q) => q(`INSERT INTO authserver_entries
          (model, id, payload, consumed, expires_ms, grant_id, uid, user_code, family)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, consumed = EXCLUDED.consumed,
          expires_ms = EXCLUDED.expires_ms, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
          user_code = EXCLUDED.user_code, family = EXCLUDED.family`, row);
      if (!family) {
        await store.transaction(write);
        return;
      }
      await store.transaction(async (q) => {
        const chain = await lockChain(q, family, grantId);
        await write(q);
        if (chain.current === id) return;
        const gen = generation(payload);
        const current = chain.current && await liveToken(q, chain.current);
        const previous = chain.previous && await liveToken(q, chain.previous);
        let next;
        if (current && gen > 0 && generation(current.payload) === gen && current.consumed === null) {
          // A sibling: the previous token was redeemed again (here or at another instance)
          // while this family's newest one was unused, so that one never reached its client.
          await q(`DELETE FROM authserver_entries WHERE model = 'RefreshToken' AND id = $1`, [chain.current]);
          next = [id, chain.previous];
        } else if (!chain.current && previous && generation(previous.payload) + 1 === gen) {
          next = [id, chain.previous]; // the successor of the token just consumed
        } else if (current && generation(current.payload) + 1 === gen) {
          next = [id, chain.current];
        } else {
          next = [id, null]; // a new family
        }
        await q('UPDATE authserver_chains SET current = $2, previous = $3 WHERE family = $1', [family, ...next]);
      });
    }

    async find(id) {
      if (!storable(id)) return undefined;
      if (this.model !== 'RefreshToken') {
        const r = await store.query(`SELECT payload, consumed FROM authserver_entries
          WHERE model = $1 AND id = $2 AND ${LIVE}`, [this.model, id]);
        return r.rows[0] ? withConsumed(r.rows[0]) : undefined;
      }
      const r = await store.query(`SELECT e.payload, e.consumed, c.current, c.previous,
          cur.id AS current_live, cur.consumed AS current_consumed
        FROM authserver_entries e
        LEFT JOIN authserver_chains c ON c.family = e.family
        LEFT JOIN authserver_entries cur ON cur.model = 'RefreshToken' AND cur.id = c.current
          AND (cur.expires_ms IS NULL OR cur.expires_ms > $now)
        WHERE e.model = 'RefreshToken' AND e.id = $1 AND (e.expires_ms IS NULL OR e.expires_ms > $now)`, [id]);
      const row = r.rows[0];
      if (!row) return undefined;
      const payload = withConsumed(row);
      const grace = row.previous === id
        && (row.current === null || (row.current_live !== null && row.current_consumed === null));
      if (payload.consumed && grace) delete payload.consumed;
      return payload;
    }

    async findByUid(uid) {
      if (!storable(uid)) return undefined;
      const r = await store.query(`SELECT payload, consumed FROM authserver_entries
        WHERE model = $1 AND uid = $2 AND ${LIVE}`, [this.model, uid]);
      return r.rows[0] ? withConsumed(r.rows[0]) : undefined;
    }

    async findByUserCode(userCode) {
      if (!storable(userCode)) return undefined;
      const r = await store.query(`SELECT payload, consumed FROM authserver_entries
        WHERE model = $1 AND user_code = $2 AND ${LIVE}`, [this.model, userCode]);
      return r.rows[0] ? withConsumed(r.rows[0]) : undefined;
    }

    async consume(id) {
      if (!storable(id)) throw new errors.InvalidGrant(`${this.model} not found`);
      const now = Math.floor(Date.now() / 1000);
      const found = this.model === 'RefreshToken' ? await liveToken(store.query.bind(store), id) : undefined;
      if (!found?.payload.grantId) {
        const r = await store.query(`UPDATE authserver_entries SET consumed = $3
          WHERE model = $1 AND id = $2 AND consumed IS NULL AND ${LIVE}`, [this.model, id, now]);
        if (!r.rowCount) throw new errors.InvalidGrant(`${this.model} already used or not found`);
        return;
      }
      const family = familyOf(found.payload);
      await store.transaction(async (q) => {
        const chain = await lockChain(q, family, found.payload.grantId);
        const token = await liveToken(q, id, true);
        // Dropped or revoked since it was read: another instance redeemed what this one saw.
        if (!token) throw new errors.InvalidGrant('refresh token not found');
        if (token.consumed === null) {
          await q(`UPDATE authserver_entries SET consumed = $2 WHERE model = 'RefreshToken' AND id = $1`, [id, now]);
          await q('UPDATE authserver_chains SET current = NULL, previous = $2 WHERE family = $1', [family, id]);
          return;
        }
        const current = chain.current && await liveToken(q, chain.current, true);
        if (chain.previous === id && (chain.current === null || (current && current.consumed === null))) {
          // Redeemed again within its grace: the unused successor is dropped now, so a
          // concurrent first use of it fails instead of both succeeding.
          if (chain.current) {
            await q(`DELETE FROM authserver_entries WHERE model = 'RefreshToken' AND id = $1`, [chain.current]);
            await q('UPDATE authserver_chains SET current = NULL WHERE family = $1', [family]);
          }
          return;
        }
        // Its successor was used between this request's read and now.
        throw new errors.InvalidGrant('refresh token already used');
      });
    }

    async destroy(id) {
      if (!storable(id)) return;
      await store.query('DELETE FROM authserver_entries WHERE model = $1 AND id = $2', [this.model, id]);
    }

    async revokeByGrantId(grantId) {
      if (!storable(grantId)) return;
      await store.transaction(async (q) => {
        // Chains first: the same lock order as consume(), so the two never deadlock.
        await q('SELECT 1 FROM authserver_chains WHERE grant_id = $1 FOR UPDATE', [grantId]);
        await q('DELETE FROM authserver_entries WHERE grant_id = $1', [grantId]);
        await q('DELETE FROM authserver_chains WHERE grant_id = $1', [grantId]);
      });
    }
  };
}
