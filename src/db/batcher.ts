/**
 * Group commit for one hot statement: calls that arrive while earlier ones are being answered
 * are sent to PostgreSQL together, as one statement over arrays, instead of one round trip each.
 *
 * Why: under load, a request's own work in Node is small next to the cost of a statement's round
 * trip (a socket write, waking a backend, parsing the reply), and PostgreSQL spends about as much
 * per statement as per row. One statement for the N calls of a burst divides both by N
 * (docs/performance.md). Nothing is delayed to make batches: a call goes out at the end of the
 * current turn of the event loop when fewer than `maxInFlight` statements are out, and otherwise
 * joins the next statement, sent as soon as one comes back.
 *
 * Each call still gets its own answer and is answered only after its statement has completed
 * (for a write: after it committed), so acknowledging a batched write is as durable as a single
 * one. A statement that fails rejects every call in it with that error, unless `isolate` says the
 * error may be one item's fault (a constraint, a value PostgreSQL refuses, not an outage): the
 * calls are then retried one per statement, so that one bad item fails alone.
 */
export interface BatcherOptions {
  /** The most calls in one statement. */
  maxBatch?: number;
  /** Statements out at once; the rest of the pool stays free for everything else. */
  maxInFlight?: number;
  /** Whether a failed statement of several items is retried item by item. Default: never. */
  isolate?: (err: unknown) => boolean;
  /**
   * A call not answered within this many ms (queued or sent) is rejected with `onDeadline()`.
   * Without it, calls queued behind statements stuck on a dead database would wait for those
   * statements' timeouts and then for their own: an outage must answer 503 within the same bound
   * as one statement. A write sent before its deadline may still complete after it.
   */
  deadlineMs?: number;
  onDeadline?: () => unknown;
}

/** An answer of `run` for one item that failed on its own: that call is rejected with `error`. */
export class ItemFailure {
  constructor(readonly error: unknown) {}
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (reason: unknown) => void;
  /** Past its deadline: already rejected, never sent. */
  expired?: boolean;
}

export class Batcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly isolate: (err: unknown) => boolean;
  private readonly deadlineMs: number | undefined;
  private readonly onDeadline: () => unknown;

  /** `run` answers the items of one batch, in their order (one answer, or ItemFailure, per item). */
  constructor(
    private readonly run: (items: I[]) => Promise<(O | ItemFailure)[]>,
    options: BatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 64;
    this.maxInFlight = options.maxInFlight ?? 2;
    this.isolate = options.isolate ?? (() => false);
    this.deadlineMs = options.deadlineMs;
    this.onDeadline = options.onDeadline ?? (() => new Error(`no answer within ${String(options.deadlineMs)} ms`));
  }

  load(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      if (this.deadlineMs === undefined) {
        this.queue.push({ item, resolve, reject });
      } else {
        const pending: Pending<I, O> = {
          item,
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value);
          },
          reject: (reason) => {
            clearTimeout(timer);
            reject(reason);
          },
        };
        const timer = setTimeout(() => {
          pending.expired = true;
          reject(this.onDeadline());
        }, this.deadlineMs);
        this.queue.push(pending);
      }
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // After the current I/O phase: the requests parsed from the same read of the sockets join.
    setImmediate(() => {
      this.scheduled = false;
      // Calls past their deadline were answered already: they are dropped, not sent.
      if (this.deadlineMs !== undefined) this.queue = this.queue.filter((pending) => !pending.expired);
      while (this.inFlight < this.maxInFlight && this.queue.length > 0) this.flush(this.queue.splice(0, this.maxBatch));
    });
  }

  private flush(batch: Pending<I, O>[]): void {
    this.inFlight++;
    this.answer(batch)
      .catch(async (err: unknown) => {
        if (batch.length === 1 || !this.isolate(err)) throw err;
        await Promise.all(batch.map((pending) => this.answer([pending]).catch(pending.reject)));
      })
      .catch((err: unknown) => {
        for (const pending of batch) pending.reject(err);
      })
      .finally(() => {
        this.inFlight--;
        this.schedule();
      });
  }

  /** Runs one statement for `batch` and settles each call with its answer; rejects if the statement failed. */
  private async answer(batch: Pending<I, O>[]): Promise<void> {
    const results = await this.run(batch.map((pending) => pending.item));
    if (results.length !== batch.length) throw new Error(`batch of ${batch.length} answered ${results.length}`);
    batch.forEach((pending, i) => {
      const result = results[i] as O | ItemFailure;
      if (result instanceof ItemFailure) pending.reject(result.error);
      else pending.resolve(result);
    });
  }
}

/**
 * A Batcher for lookups by key: one statement for the distinct keys of a burst, each call answered
 * with its key's value, or undefined when `fetchMany` found none. Keys are compared with `===`.
 */
export function lookupBatcher<K, V>(fetchMany: (keys: K[]) => Promise<Map<K, V>>, options?: BatcherOptions): Batcher<K, V | undefined> {
  return new Batcher(async (keys: K[]) => {
    const found = await fetchMany([...new Set(keys)]);
    return keys.map((key) => found.get(key));
  }, options);
}
