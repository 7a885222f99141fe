// PgStore against a real PostgreSQL (node --test; AUTHSERVER_TEST_DATABASE=postgresql://...).
// Run by tests/e2e/test_authserver_pg.py, which starts a throwaway cluster. Two PgStore objects
// on one database play two auth-server instances; the races are interleaved step by step.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import test, { after, before } from 'node:test';

import { PgStore } from '../pg_store.mjs';

const url = process.env.AUTHSERVER_TEST_DATABASE;
let one;
let two;

before(async () => {
  if (!url) return;
  [one, two] = await Promise.all([PgStore.open(url), PgStore.open(url)]);
});
after(async () => {
  await one?.close();
  await two?.close();
});

const skip = !url && 'AUTHSERVER_TEST_DATABASE is not set';
const RT = (store) => new (store.adapter())('RefreshToken');
const newGrant = () => `g-${crypto.randomBytes(6).toString('hex')}`;
// What oidc-provider copies from a refresh token to its successor.
const token = (grantId, rotations, extra = {}) => ({
  grantId, iiat: 1700000000, sessionUid: 's1', scope: 'openid urn:matrix:client:device:D1', rotations, ...extra,
});
const rejects = (promise) => assert.rejects(promise, (e) => e.error === 'invalid_grant');

test('refresh tokens: the previous stays valid until the new one is used, across instances', { skip }, async () => {
  const g = newGrant();
  const [a, b, c, d] = ['A', 'B', 'C', 'D'].map((x) => `${g}-${x}`);
  await RT(one).upsert(a, token(g, 0), 3600);
  await RT(one).consume(a); // rotated at instance one: B issued
  await RT(one).upsert(b, token(g, 1), 3600);
  assert.equal((await RT(two).find(a)).consumed, undefined, 'A in grace while B is unused');
  await RT(two).consume(a); // A retried at instance two: C issued, B (never received) dropped
  await RT(two).upsert(c, token(g, 1), 3600);
  assert.equal(await RT(one).find(b), undefined);
  assert.equal((await RT(one).find(a)).consumed, undefined, 'A still in grace while C is unused');
  await RT(one).consume(c); // C used: D issued
  await RT(one).upsert(d, token(g, 2), 3600);
  assert.ok((await RT(two).find(a)).consumed, 'A spent once its successor was used');
  assert.equal((await RT(two).find(c)).consumed, undefined, 'C in grace while D is unused');
  // A restarted instance (a new pool) sees the same.
  const again = await PgStore.open(url);
  try {
    assert.ok(await RT(again).find(d));
    await RT(again).revokeByGrantId(g);
    assert.equal(await RT(one).find(d), undefined);
    assert.equal(await RT(one).find(c), undefined);
  } finally {
    await again.close();
  }
});

test('old token retried while the new one is used elsewhere: exactly one wins', { skip }, async () => {
  for (const oldFirst of [false, true]) {
    const g = newGrant();
    const [a, b] = [`${g}-A`, `${g}-B`];
    await RT(one).upsert(a, token(g, 0), 3600);
    await RT(one).consume(a);
    await RT(one).upsert(b, token(g, 1), 3600);
    // Both requests passed oidc-provider's checks: B unused, A in grace.
    assert.equal((await RT(one).find(b)).consumed, undefined);
    assert.equal((await RT(two).find(a)).consumed, undefined);
    if (oldFirst) {
      await RT(two).consume(a); // the retry wins: B is dropped ...
      await rejects(RT(one).consume(b)); // ... so its first use fails
    } else {
      await RT(one).consume(b); // B's first use wins: A is spent ...
      await rejects(RT(two).consume(a)); // ... so the late retry fails
    }
  }
});

test('the same token redeemed at two instances at once leaves one live successor', { skip }, async () => {
  const g = newGrant();
  const a = `${g}-A`;
  await RT(one).upsert(a, token(g, 0), 3600);
  assert.equal((await RT(one).find(a)).consumed, undefined);
  assert.equal((await RT(two).find(a)).consumed, undefined);
  await Promise.all([RT(one).consume(a), RT(two).consume(a)]);
  await Promise.all([RT(one).upsert(`${g}-B1`, token(g, 1), 3600), RT(two).upsert(`${g}-B2`, token(g, 1), 3600)]);
  const live = [];
  for (const id of [`${g}-B1`, `${g}-B2`]) if (await RT(one).find(id)) live.push(id);
  assert.equal(live.length, 1, `live successors: ${live}`);
  await RT(two).consume(live[0]);
  assert.ok((await RT(one).find(a)).consumed, 'A spent once the surviving successor was used');
});

test('two token families in one grant keep their own grace', { skip }, async () => {
  const g = newGrant();
  const other = { scope: 'openid urn:matrix:client:device:D2' };
  await RT(one).upsert(`${g}-A`, token(g, 0), 3600);
  await RT(one).upsert(`${g}-X`, token(g, 0, other), 3600); // a second device signs in
  await RT(one).consume(`${g}-A`);
  await RT(one).upsert(`${g}-B`, token(g, 1), 3600);
  await RT(one).consume(`${g}-X`);
  await RT(one).upsert(`${g}-Y`, token(g, 1, other), 3600);
  assert.equal((await RT(two).find(`${g}-A`)).consumed, undefined);
  assert.equal((await RT(two).find(`${g}-X`)).consumed, undefined);
  assert.ok(await RT(two).find(`${g}-B`));
});

test('a code is consumed by one instance only', { skip }, async () => {
  const Code = (store) => new (store.adapter())('AuthorizationCode');
  const id = `code-${crypto.randomBytes(6).toString('hex')}`;
  await Code(one).upsert(id, { grantId: newGrant() }, 60);
  const results = await Promise.allSettled([Code(one).consume(id), Code(two).consume(id)]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  assert.ok((await Code(two).find(id)).consumed);
});

test('lookups by uid and user code; expired rows are invisible and pruned', { skip }, async () => {
  const Session = new (one.adapter())('Session');
  const uid = `uid-${crypto.randomBytes(6).toString('hex')}`;
  await Session.upsert(`sess-${uid}`, { uid, accountId: 'alice' }, 3600);
  assert.equal((await new (two.adapter())('Session').findByUid(uid)).accountId, 'alice');
  const Device = new (one.adapter())('DeviceCode');
  await Device.upsert(`dc-${uid}`, { userCode: `UC-${uid}` }, 3600);
  assert.ok(await Device.findByUserCode(`UC-${uid}`));
  await Session.upsert(`old-${uid}`, { uid: `${uid}-old` }, -1);
  assert.equal(await Session.find(`old-${uid}`), undefined);
  assert.equal(await Session.findByUid(`${uid}-old`), undefined);
  await one.prune();
  const left = await one.query(`SELECT count(*)::int AS n FROM authserver_entries WHERE id = $1`, [`old-${uid}`]);
  assert.equal(left.rows[0].n, 0);
  await Session.destroy(`sess-${uid}`);
  assert.equal(await Session.findByUid(uid), undefined);
});

test('records: shared, and take/deleteIf act once', { skip }, async () => {
  const key = `k-${crypto.randomBytes(6).toString('hex')}`;
  await one.records('grantDevice').set(key, { localpart: 'alice', device: 'D1' });
  assert.deepEqual(await two.records('grantDevice').get(key), { localpart: 'alice', device: 'D1' });
  const taken = await Promise.all([one.records('grantDevice').take(key), two.records('grantDevice').take(key)]);
  assert.equal(taken.filter(Boolean).length, 1);
  await one.records('deviceGrant').set(key, 'g1');
  assert.equal(await two.records('deviceGrant').deleteIf(key, 'g2'), false);
  const deleted = await Promise.all([one.records('deviceGrant').deleteIf(key, 'g1'), two.records('deviceGrant').deleteIf(key, 'g1')]);
  assert.deepEqual(deleted.sort(), [false, true]);
});

test('NUL in keys and payloads is kept (or not found), never a server error', { skip }, async () => {
  const key = `alice\0D-${crypto.randomBytes(6).toString('hex')}`;
  await one.records('deviceGrant').set(key, 'g\0x');
  assert.equal(await two.records('deviceGrant').get(key), 'g\0x');
  const Client = new (one.adapter())('Client');
  const id = `c-${crypto.randomBytes(6).toString('hex')}`;
  await Client.upsert(id, { client_id: id, client_name: 'odd\0name' });
  assert.equal((await Client.find(id)).client_name, 'odd\0name');
  assert.equal(await Client.find(`${id}\0`), undefined);
  await rejects(RT(one).consume('x\0y'));
});

test('shared values: the first instance to ask decides', { skip }, async () => {
  const name = `secret-${crypto.randomBytes(6).toString('hex')}`;
  const [x, y] = await Promise.all([one.shared(name, () => ['from one']), two.shared(name, () => ['from two'])]);
  assert.deepEqual(x, y);
});
