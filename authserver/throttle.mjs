// Failed sign-ins counted per key (an account name, a client address) in a sliding window.
// Pure logic with the clock passed in; server.mjs does the I/O.
//
//   const t = new FailureWindow({ limit: 5, windowMs: 600_000 });
//   t.retryAfter(key, now)  -> seconds to wait (0: go ahead)
//   t.fail(key, now); t.clear(key)

export class FailureWindow {
  constructor({ limit, windowMs, maxKeys = 100_000 }) {
    if (!(limit >= 1) || !(windowMs > 0)) throw new Error('throttle needs limit >= 1 and windowMs > 0');
    this.limit = limit;
    this.windowMs = windowMs;
    this.maxKeys = maxKeys;
    this.failures = new Map(); // key -> ascending failure times within the window
  }

  recent(key, now) {
    const times = this.failures.get(key);
    if (!times) return [];
    const cutoff = now - this.windowMs;
    while (times.length && times[0] <= cutoff) times.shift();
    if (!times.length) this.failures.delete(key);
    return times;
  }

  // Blocked while `limit` failures lie within the window: until the oldest of them leaves it.
  retryAfter(key, now) {
    const times = this.recent(key, now);
    if (times.length < this.limit) return 0;
    return Math.max(1, Math.ceil((times[times.length - this.limit] + this.windowMs - now) / 1000));
  }

  fail(key, now) {
    const times = this.recent(key, now);
    times.push(now);
    // Only the newest `limit` matter for the decision; the map must not grow without bound
    // under a spray of names or addresses.
    if (times.length > this.limit) times.splice(0, times.length - this.limit);
    this.failures.delete(key);
    this.failures.set(key, times); // newest last: eviction drops the longest-quiet keys
    if (this.failures.size > this.maxKeys) {
      for (const k of this.failures.keys()) {
        this.failures.delete(k);
        if (this.failures.size <= this.maxKeys) break;
      }
    }
  }

  clear(key) {
    this.failures.delete(key);
  }
}

// One spelling per account for counting: "Alice@Acme", "@alice_acme:server" and " alice@acme "
// count together as far as can be told without asking the directory.
export function accountKey(username) {
  let u = String(username || '').trim().toLowerCase();
  if (u.startsWith('@') && u.includes(':')) u = u.slice(1, u.indexOf(':'));
  return u;
}
