/**
 * src/db/batcher.ts: calls of one turn go as one batch, at most maxInFlight batches are out, the
 * rest wait and go together; each call gets its own answer or its own failure.
 */
import t from 'tap';
import { Batcher, ItemFailure, lookupBatcher } from '../../src/db/batcher.js';

/** A `run` whose batches are recorded and answered when the test says so. */
function controlled<I, O>(answer: (item: I) => O | ItemFailure) {
  const batches: I[][] = [];
  const pending: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  const run = (items: I[]) =>
    new Promise<(O | ItemFailure)[]>((resolve, reject) => {
      batches.push(items);
      pending.push({ resolve: () => resolve(items.map(answer)), reject });
    });
  return { batches, pending, run };
}

/** A few turns of the event loop: enough for the batcher to send what it has queued. */
const turn = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

t.test('the calls of one turn are one batch, answered each with its own result in order', async (t) => {
  const { batches, pending, run } = controlled((n: number) => n * 10);
  const batcher = new Batcher(run);
  const answers = Promise.all([1, 2, 3].map((n) => batcher.load(n)));
  await turn();
  t.same(batches, [[1, 2, 3]]);
  pending[0]!.resolve();
  t.same(await answers, [10, 20, 30]);
});

t.test('at most maxInFlight batches are out; the calls arriving meanwhile go together next', async (t) => {
  const { batches, pending, run } = controlled((n: number) => n);
  const batcher = new Batcher(run, { maxInFlight: 1 });
  const first = batcher.load(1);
  await turn();
  const later = [2, 3, 4].map((n) => batcher.load(n));
  await turn();
  t.same(batches, [[1]], 'nothing more goes out while one batch is out');
  pending[0]!.resolve();
  t.equal(await first, 1);
  await turn();
  t.same(batches, [[1], [2, 3, 4]]);
  pending[1]!.resolve();
  t.same(await Promise.all(later), [2, 3, 4]);
});

t.test('maxBatch splits a burst', async (t) => {
  const { batches, pending, run } = controlled((n: number) => n);
  const batcher = new Batcher(run, { maxBatch: 2, maxInFlight: 5 });
  const answers = Promise.all([1, 2, 3, 4, 5].map((n) => batcher.load(n)));
  await turn();
  t.same(batches, [[1, 2], [3, 4], [5]]);
  for (const p of pending) p.resolve();
  t.same(await answers, [1, 2, 3, 4, 5]);
});

t.test('a failed batch rejects each of its calls; the batcher goes on', async (t) => {
  const { pending, run } = controlled((n: number) => n);
  const batcher = new Batcher(run);
  const answers = [1, 2].map((n) => batcher.load(n));
  await turn();
  pending[0]!.reject(new Error('database unavailable'));
  for (const answer of answers) await t.rejects(answer, { message: 'database unavailable' });
  const next = batcher.load(3);
  await turn();
  pending[1]!.resolve();
  t.equal(await next, 3);
});

t.test('isolate: a failed batch is retried call by call, so one bad item fails alone', async (t) => {
  const batches: number[][] = [];
  const batcher = new Batcher(
    async (items: number[]) => {
      batches.push(items);
      if (items.includes(13)) throw new Error(`13 is refused`);
      return items.map((n) => -n);
    },
    { isolate: (err) => err instanceof Error && err.message.endsWith('refused') },
  );
  const results = await Promise.allSettled([12, 13, 14].map((n) => batcher.load(n)));
  t.same(batches, [[12, 13, 14], [12], [13], [14]]);
  t.match(results, [
    { status: 'fulfilled', value: -12 },
    { status: 'rejected', reason: { message: '13 is refused' } },
    { status: 'fulfilled', value: -14 },
  ]);
});

t.test('an error isolate does not accept fails the whole batch at once', async (t) => {
  let runs = 0;
  const batcher = new Batcher(
    async () => {
      runs++;
      throw new Error('outage');
    },
    { isolate: () => false },
  );
  const results = await Promise.allSettled([1, 2].map((n) => batcher.load(n)));
  t.equal(runs, 1, 'not retried item by item');
  t.match(results, [{ status: 'rejected' }, { status: 'rejected' }]);
});

t.test('ItemFailure rejects that call only; a wrong number of answers fails the batch', async (t) => {
  const batcher = new Batcher(async (items: number[]) => items.map((n) => (n === 2 ? new ItemFailure(new Error('two')) : n)));
  const results = await Promise.allSettled([1, 2, 3].map((n) => batcher.load(n)));
  t.match(results, [{ status: 'fulfilled', value: 1 }, { status: 'rejected', reason: { message: 'two' } }, { status: 'fulfilled', value: 3 }]);

  const short = new Batcher(async (items: number[]) => items.slice(1));
  await t.rejects(Promise.all([short.load(1), short.load(2)]), { message: 'batch of 2 answered 1' });
});

t.test('a run that throws synchronously rejects its calls', async (t) => {
  const batcher = new Batcher<number, number>(() => {
    throw new Error('sync');
  });
  await t.rejects(batcher.load(1), { message: 'sync' });
});

t.test('lookupBatcher asks for each distinct key once and answers undefined for a missing one', async (t) => {
  const asked: string[][] = [];
  const lookup = lookupBatcher(async (keys: string[]) => {
    asked.push(keys);
    return new Map(keys.filter((key) => key !== 'missing').map((key) => [key, key.toUpperCase()]));
  });
  const answers = await Promise.all(['a', 'b', 'a', 'missing'].map((key) => lookup.load(key)));
  t.same(asked, [['a', 'b', 'missing']]);
  t.same(answers, ['A', 'B', 'A', undefined]);
});

t.test('deadline: calls stuck behind statements that never answer get onDeadline() in time, and are never sent', async (t) => {
  const sent: number[][] = [];
  const batcher = new Batcher(
    (items: number[]) => {
      sent.push(items);
      return new Promise<number[]>(() => {}); // a dead database: no answer, ever
    },
    { maxInFlight: 1, deadlineMs: 50, onDeadline: () => new Error('503') },
  );
  const started = Date.now();
  const first = batcher.load(1);
  await turn();
  const queued = batcher.load(2);
  const results = await Promise.allSettled([first, queued]);
  t.match(results, [
    { status: 'rejected', reason: { message: '503' } },
    { status: 'rejected', reason: { message: '503' } },
  ]);
  t.ok(Date.now() - started < 1000, 'answered at the deadline, not never');
  await turn();
  t.same(sent, [[1]], 'the queued call expired before it was sent, and is not sent later');
});

t.test('deadline: an answer in time clears the timer', async (t) => {
  const batcher = new Batcher(async (items: number[]) => items, { deadlineMs: 10_000 });
  const started = Date.now();
  t.equal(await batcher.load(7), 7);
  t.ok(Date.now() - started < 1000);
});
