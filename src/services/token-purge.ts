import type { PurgedTokens, TokenRepository } from '../repositories/tokens.js';

export interface TokenPurgeOptions {
  /** Time between two passes; 0 never starts the timer (runOnce still works). */
  intervalMs: number;
  /** Time from start() to the first pass: a server restarted more often than the interval still purges. */
  firstDelayMs?: number;
  /** Rows per DELETE, so that each statement is a short transaction. */
  batchSize?: number;
  /**
   * DELETEs per pass at most (default 1,000: 5 million rows, more than 10 minutes of the busiest
   * token endpoint measured expire in): beyond it the rest waits for the next pass.
   */
  maxBatches?: number;
  onPurged?: (purged: PurgedTokens) => void;
  onError?: (err: unknown) => void;
}

/**
 * Deletes the tokens that can no longer be used, in the background. Without it access_tokens and
 * refresh_tokens keep every token ever issued: a client_credentials client asking once a second
 * leaves 86,400 rows a day behind. Every instance over one database may run it: the DELETEs skip
 * rows another instance is deleting.
 */
export class TokenPurger {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PurgedTokens> | undefined;
  private stopped = false;
  private readonly batchSize: number;
  private readonly maxBatches: number;

  constructor(
    private readonly tokens: Pick<TokenRepository, 'purgeExpired'>,
    private readonly options: TokenPurgeOptions,
  ) {
    this.batchSize = options.batchSize ?? 5_000;
    this.maxBatches = options.maxBatches ?? 1_000;
  }

  start(): void {
    if (this.options.intervalMs <= 0 || this.timer || this.stopped) return;
    this.schedule(Math.min(this.options.firstDelayMs ?? 60_000, this.options.intervalMs));
  }

  /** One pass now; a pass already under way is joined, never run twice at once. */
  runOnce(): Promise<PurgedTokens> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops the timer and waits for a pass under way (it ends after its current DELETE). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    // A timeout re-armed after each pass rather than an interval: a slow pass never overlaps the next.
    this.timer = setTimeout(() => {
      void this.runOnce().then(() => {
        if (!this.stopped) this.schedule(this.options.intervalMs);
      });
    }, delayMs);
    // The purge never keeps the process alive on its own.
    this.timer.unref();
  }

  private async pass(): Promise<PurgedTokens> {
    const total: PurgedTokens = { access: 0, refresh: 0 };
    try {
      for (let batch = 0; batch < this.maxBatches && !this.stopped; batch++) {
        const purged = await this.tokens.purgeExpired(this.batchSize);
        total.access += purged.access;
        total.refresh += purged.refresh;
        if (purged.access < this.batchSize && purged.refresh < this.batchSize) break;
      }
    } catch (err) {
      // A database outage: what was deleted stays deleted, the rest waits for the next pass.
      this.options.onError?.(err);
    }
    if (total.access > 0 || total.refresh > 0) this.options.onPurged?.(total);
    return total;
  }
}
