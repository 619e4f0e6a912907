/**
 * Minimal typings for the benchmark's untyped devDependencies (autocannon 8, oidc-provider 9):
 * only what scripts/bench.ts and scripts/bench/ use.
 */
declare module 'autocannon' {
  namespace autocannon {
    interface Request {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
      setupRequest?: (request: Request, context: Record<string, unknown>) => Request | undefined;
    }
    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p97_5: number;
      p99: number;
      [key: string]: number;
    }
    interface Options {
      url: string;
      connections?: number;
      duration?: number;
      amount?: number;
      timeout?: number;
      /** ms between samples; a run stops at the first sample past `duration` (default 1000). */
      sampleInt?: number;
      pipelining?: number;
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      requests?: Request[];
      idReplacement?: boolean;
      /** Resolve with the unaggregated result (RawResult), for aggregateResult. */
      skipAggregateResult?: boolean;
      /** Called with every answer's body; false counts it in `mismatches`. */
      verifyBody?: (body: string) => boolean;
    }
    /** A run's result with skipAggregateResult: histograms still encoded. */
    interface RawResult {
      latencies: string;
      totalCompletedRequests: number;
      duration: number;
      statusCodeStats: Record<string, { count: number }>;
      [key: string]: unknown;
    }
    interface Result {
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
      mismatches: number;
      '1xx': number;
      '2xx': number;
      '3xx': number;
      '4xx': number;
      '5xx': number;
      resets: number;
      statusCodeStats?: Record<string, { count: number }>;
      latency: Histogram;
      requests: Histogram & { sent: number };
      throughput: Histogram;
    }
    interface Instance extends NodeJS.EventEmitter {
      stop(): void;
    }
  }
  function autocannon(options: autocannon.Options, callback?: (err: Error | null, result: autocannon.Result) => void): autocannon.Instance & PromiseLike<autocannon.Result>;
  namespace autocannon {
    function aggregateResult(results: RawResult[], options: Pick<Options, 'url' | 'connections' | 'sampleInt'>): Result;
  }
  export default autocannon;
}

/** autocannon's histogram helpers (lib/histUtil.js): the codec of RawResult.latencies. */
declare module 'autocannon/lib/histUtil.js' {
  interface Histogram {
    add(other: Histogram): void;
    getValueAtPercentile(percentile: number): number;
  }
  export function decodeHist(encoded: string | null): Histogram | null;
}

declare module 'oidc-provider' {
  import type { Server } from 'node:http';
  export interface Configuration {
    [key: string]: unknown;
  }
  export default class Provider {
    constructor(issuer: string, configuration?: Configuration);
    proxy: boolean;
    listen(port: number, host: string, callback?: () => void): Server;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}
