// Rate limits on actions an attacker would repeat: asking for sign-in codes, starting SSO logins,
// guessing approval links or SCIM tokens, forcing domain checks. Counters live in PostgreSQL
// (rate-limiter-flexible), so every instance behind a load balancer counts against the same budget.
// Counting happens per call, inside the action, so aliases in one GraphQL request each count.
import type pg from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { AccessError } from './errors.js';

export interface RateLimit {
  points: number;
  durationSeconds: number;
}

export const RATE_LIMIT_NAMES = [
  'loginCodesPerIp',
  'ssoStartsPerIp',
  'approvalFailuresPerIp',
  'scimAuthFailuresPerIp',
  'domainChecksPerUser',
] as const;
export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];

const MESSAGES: Record<RateLimitName, string> = {
  loginCodesPerIp: 'Too many sign-in codes were requested from this network.',
  ssoStartsPerIp: 'Too many sign-ins were started from this network.',
  approvalFailuresPerIp: 'Too many invalid approval links were tried from this network.',
  scimAuthFailuresPerIp: 'Too many requests with an invalid SCIM token came from this network.',
  domainChecksPerUser: 'You have checked domains too often.',
};

export const RATE_LIMIT_TABLE = 'rate_limits';

export class RateLimits {
  private readonly limiters: Record<RateLimitName, RateLimiterPostgres>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly limits: Record<RateLimitName, RateLimit>,
  ) {
    this.limiters = Object.fromEntries(
      RATE_LIMIT_NAMES.map((name) => [
        name,
        new RateLimiterPostgres({
          storeClient: pool,
          tableName: RATE_LIMIT_TABLE,
          // The table comes from a migration; expired rows go in the hourly purge job, not a timer per limiter.
          tableCreated: true,
          clearExpiredByTimeout: false,
          keyPrefix: name,
          points: limits[name].points,
          duration: limits[name].durationSeconds,
        }),
      ]),
    ) as Record<RateLimitName, RateLimiterPostgres>;
  }

  /** Counts one action; throws RATE_LIMITED when the budget of `key` is spent. */
  async consume(name: RateLimitName, key: string): Promise<void> {
    try {
      await this.limiters[name].consume(key);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw this.limited(name, rejection);
      throw rejection;
    }
  }

  /** For limits on failures: throws RATE_LIMITED while `key` has failed too often, counts nothing. */
  async assertOpen(name: RateLimitName, key: string): Promise<void> {
    const state = await this.limiters[name].get(key);
    if (state && state.consumedPoints >= this.limits[name].points) throw this.limited(name, state);
  }

  /** Counts one failure of `key`; the next assertOpen refuses once the budget is spent. */
  async failed(name: RateLimitName, key: string): Promise<void> {
    await this.limiters[name].penalty(key);
  }

  async purgeExpired(): Promise<void> {
    await this.pool.query(`delete from ${RATE_LIMIT_TABLE} where expire < $1`, [Date.now()]);
  }

  private limited(name: RateLimitName, state: RateLimiterRes): AccessError {
    const retryAfterSeconds = Math.max(1, Math.ceil(state.msBeforeNext / 1000));
    return new AccessError('RATE_LIMITED', `${MESSAGES[name]} Try again in ${retryAfterSeconds} s.`, {
      retryAfterSeconds,
    });
  }
}
