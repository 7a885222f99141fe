// Unit tests of the auth server's pure parts (node --test; run by tests/unit/test_authserver_logic.py).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { after } from 'node:test';

import { FileStore, adapterFor, signingKeys } from '../store.mjs';
import { FailureWindow, accountKey } from '../throttle.mjs';

test('failures block at the limit until the oldest leaves the window', () => {
  const w = new FailureWindow({ limit: 3, windowMs: 60_000 });
  for (const t of [0, 1000, 2000]) {
    assert.equal(w.retryAfter('a', t), 0);
    w.fail('a', t);
  }
  assert.equal(w.retryAfter('a', 2000), 58);
  assert.equal(w.retryAfter('b', 2000), 0);
  assert.equal(w.retryAfter('a', 60_001), 0);
  w.clear('a');
  assert.equal(w.retryAfter('a', 2001), 0);
});

test('the failure map stays bounded under a spray of keys', () => {
  const w = new FailureWindow({ limit: 2, windowMs: 60_000, maxKeys: 100 });
  for (let i = 0; i < 1000; i++) w.fail(`k${i}`, i);
  assert.equal(w.failures.size, 100);
  assert.ok(w.failures.has('k999'));
});

test('one account, several spellings', () => {
  assert.equal(accountKey(' Alice@ACME '), 'alice@acme');
  assert.equal(accountKey('@alice_acme:example.org'), 'alice_acme');
});

const made = [];
function tmpdir() {
  made.push(fs.mkdtempSync(path.join(os.tmpdir(), 'authstore-')));
  return made[made.length - 1];
}
after(() => { for (const d of made) fs.rmSync(d, { recursive: true, force: true }); });

test('refresh tokens: the previous stays valid until the new one is used', async () => {
  const dir = tmpdir();
  const store = new FileStore(path.join(dir, 'state.json'));
  const RT = new (adapterFor(store))('RefreshToken');
  await RT.upsert('A', { grantId: 'g' }, 3600);
  await RT.consume('A'); // rotated: B issued
  await RT.upsert('B', { grantId: 'g', rotations: 1 }, 3600);
  assert.equal((await RT.find('A')).consumed, undefined, 'A in grace while B is unused');
  await RT.consume('A'); // A retried: C issued, B (never received) dropped
  await RT.upsert('C', { grantId: 'g', rotations: 1 }, 3600);
  assert.equal(await RT.find('B'), undefined);
  assert.equal((await RT.find('A')).consumed, undefined, 'A still in grace while C is unused');
  await RT.consume('C'); // C used: D issued
  await RT.upsert('D', { grantId: 'g', rotations: 2 }, 3600);
  assert.ok((await RT.find('A')).consumed, 'A spent once its successor was used');
  assert.ok((await RT.find('C')).consumed === undefined, 'C in grace while D is unused');
  // Everything survives a restart, written 0600.
  const again = new (adapterFor(new FileStore(path.join(dir, 'state.json'))))('RefreshToken');
  assert.ok(await again.find('D'));
  assert.equal(fs.statSync(path.join(dir, 'state.json')).mode & 0o777, 0o600);
  await again.revokeByGrantId('g');
  assert.equal(await again.find('D'), undefined);
});

test('refresh tokens: two families in one grant (two devices) keep their own grace', async () => {
  const store = new FileStore(path.join(tmpdir(), 'state.json'));
  const RT = new (adapterFor(store))('RefreshToken');
  const one = { grantId: 'g', iiat: 1, scope: 'urn:matrix:client:device:D1' };
  const two = { grantId: 'g', iiat: 2, scope: 'urn:matrix:client:device:D2' };
  await RT.upsert('A', { ...one }, 3600);
  await RT.consume('A');
  await RT.upsert('B', { ...one, rotations: 1 }, 3600);
  await RT.upsert('X', { ...two }, 3600); // the second device signs in under the same grant
  assert.equal((await RT.find('A')).consumed, undefined, 'A in grace while B is unused');
  await RT.consume('X');
  await RT.upsert('Y', { ...two, rotations: 1 }, 3600);
  assert.equal((await RT.find('A')).consumed, undefined, "the other device's rotation leaves A's grace");
  assert.equal((await RT.find('X')).consumed, undefined);
  assert.ok(await RT.find('B'));
  await RT.revokeByGrantId('g');
  assert.deepEqual(store.data.chains, {});
});

test('a corrupt state file stops the server instead of signing everybody out', () => {
  const dir = tmpdir();
  fs.writeFileSync(path.join(dir, 'state.json'), '{"version": 1, "entries": ');
  assert.throws(() => new FileStore(path.join(dir, 'state.json')), /not valid JSON/);
});

test('signing keys are generated once, private, 0600', () => {
  const file = path.join(tmpdir(), 'keys.json');
  const first = signingKeys(file);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.ok(first.keys[0].d && first.keys[0].kid);
  assert.deepEqual(signingKeys(file), first);
});
