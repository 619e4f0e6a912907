import type { FastifyReply } from 'fastify';
import type { components, operations } from '../../../generated/platform-api.js';
import { ApiError, notFound } from '../../domain/errors.js';
import type { Metrics } from '../../observability/metrics.js';
import type { OperationHandlers } from './operations.js';

type Health = components['schemas']['Health'];

/**
 * What /health/ready needs to know: have migrations run, and does the database answer? With
 * revocation events pushed to API Manager, also how their delivery keeps up (a detail: a
 * receiver that is down does not make this server unready).
 */
export interface Readiness {
  check(): Promise<{ ready: true; revocationEvents?: Health['revocationEvents'] } | { ready: false; failing: Record<string, string> }>;
}

/** /health/live, /health/ready and /metrics. */
export class HealthHandlers implements OperationHandlers<Pick<operations, 'healthLive' | 'healthReady' | 'getMetrics'>> {
  constructor(
    private readonly readiness: Readiness,
    private readonly metrics: Metrics | undefined,
  ) {}

  /** Prometheus text format; 404 when metrics are turned off (DCR_METRICS=false). */
  async getMetrics(_request: unknown, reply: FastifyReply): Promise<string> {
    if (!this.metrics) throw notFound('Metrics are turned off (DCR_METRICS=false)');
    reply.type(this.metrics.contentType).header('cache-control', 'no-store');
    return this.metrics.render();
  }

  async healthLive(): Promise<Health> {
    return { status: 'UP' };
  }

  async healthReady(_request: unknown, reply: FastifyReply): Promise<Health> {
    const result = await this.readiness.check();
    reply.header('cache-control', 'no-store');
    if (!result.ready) {
      const failing = Object.entries(result.failing);
      throw new ApiError(
        503,
        'Service Unavailable',
        `Not ready: ${failing.map(([name, state]) => `${name} ${state}`).join(', ')}`,
        failing.map(([name, state]) => ({ code: name, message: state })),
        { 'retry-after': '1' },
      );
    }
    return { status: 'UP', checks: { database: 'UP', migrations: 'UP' }, ...(result.revocationEvents ? { revocationEvents: result.revocationEvents } : {}) };
  }
}
