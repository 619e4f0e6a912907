/**
 * TokenPurger's scheduling over a scripted repository: a pass repeats its DELETE while batches
 * come back full, within maxBatches; concurrent passes are one; a failure is reported with what
 * was deleted before it; the timer fires, re-arms, never keeps the process alive, and stop()
 * waits for the pass under way.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import type { PurgedTokens } from '../../src/repositories/tokens.js';
import { TokenPurger } from '../../src/services/token-purge.js';

/** A repository that answers `answers` in order (then nothing), recording each limit it was given. */
function scripted(answers: (PurgedTokens | Error)[], delayMs = 0) {
  const limits: number[] = [];
  return {
    limits,
    async purgeExpired(limit: number): Promise<PurgedTokens> {
      limits.push(limit);
      if (delayMs > 0) await sleep(delayMs);
      const next = answers.shift() ?? { access: 0, refresh: 0 };
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

t.test('a pass deletes batch after batch while one comes back full', async (t) => {
  const repo = scripted([
    { access: 10, refresh: 3 },
    { access: 4, refresh: 10 },
    { access: 2, refresh: 1 },
    { access: 10, refresh: 10 },
  ]);
  const reported: PurgedTokens[] = [];
  const purger = new TokenPurger(repo, { intervalMs: 0, batchSize: 10, onPurged: (p) => reported.push(p) });
  t.strictSame(await purger.runOnce(), { access: 16, refresh: 14 });
  t.strictSame(repo.limits, [10, 10, 10], 'stopped at the first batch that was not full');
  t.strictSame(reported, [{ access: 16, refresh: 14 }]);
});

t.test('maxBatches bounds one pass; the rest waits for the next', async (t) => {
  const full = { access: 5, refresh: 0 };
  const repo = scripted([full, full, full, full, full]);
  const purger = new TokenPurger(repo, { intervalMs: 0, batchSize: 5, maxBatches: 2 });
  t.strictSame(await purger.runOnce(), { access: 10, refresh: 0 });
  t.strictSame(await purger.runOnce(), { access: 10, refresh: 0 });
  t.equal(repo.limits.length, 4);
});

t.test('nothing deleted: nothing reported', async (t) => {
  let reports = 0;
  const purger = new TokenPurger(scripted([]), { intervalMs: 0, onPurged: () => reports++ });
  t.strictSame(await purger.runOnce(), { access: 0, refresh: 0 });
  t.equal(reports, 0);
});

t.test('concurrent calls join the pass under way', async (t) => {
  const repo = scripted([{ access: 1, refresh: 0 }], 30);
  const purger = new TokenPurger(repo, { intervalMs: 0 });
  const [a, b] = await Promise.all([purger.runOnce(), purger.runOnce()]);
  t.strictSame(a, { access: 1, refresh: 0 });
  t.equal(a, b, 'the same pass');
  t.equal(repo.limits.length, 1, 'one DELETE, not two');
});

t.test('a failure is reported, with what went before it; the next pass runs again', async (t) => {
  const outage = new Error('database unavailable');
  const repo = scripted([{ access: 5, refresh: 5 }, outage, { access: 1, refresh: 0 }]);
  const errors: unknown[] = [];
  const reported: PurgedTokens[] = [];
  const purger = new TokenPurger(repo, { intervalMs: 0, batchSize: 5, onError: (err) => errors.push(err), onPurged: (p) => reported.push(p) });
  t.strictSame(await purger.runOnce(), { access: 5, refresh: 5 });
  t.strictSame(errors, [outage]);
  t.strictSame(reported, [{ access: 5, refresh: 5 }]);
  t.strictSame(await purger.runOnce(), { access: 1, refresh: 0 });
});

t.test('the timer: first pass after firstDelayMs, then every intervalMs, until stop()', async (t) => {
  const repo = scripted([]);
  const purger = new TokenPurger(repo, { intervalMs: 40, firstDelayMs: 10 });
  purger.start();
  purger.start();
  await sleep(150);
  await purger.stop();
  const passes = repo.limits.length;
  t.ok(passes >= 2 && passes <= 5, `one timer, re-armed after each pass (${passes} passes in 150 ms)`);
  await sleep(100);
  t.equal(repo.limits.length, passes, 'no pass after stop()');
  purger.start();
  await sleep(60);
  t.equal(repo.limits.length, passes, 'a stopped purger does not start again');
});

t.test('stop() waits for the pass under way, which ends after its current DELETE', async (t) => {
  const full = { access: 5, refresh: 0 };
  const repo = scripted([full, full, full, full], 40);
  const purger = new TokenPurger(repo, { intervalMs: 1_000, firstDelayMs: 1, batchSize: 5 });
  purger.start();
  await sleep(20);
  await purger.stop();
  t.equal(repo.limits.length, 1, 'the pass stopped after the DELETE it was in');
});

t.test('intervalMs 0: start() schedules nothing', async (t) => {
  const repo = scripted([]);
  const purger = new TokenPurger(repo, { intervalMs: 0, firstDelayMs: 1 });
  purger.start();
  await sleep(30);
  t.equal(repo.limits.length, 0);
  await purger.stop();
});
