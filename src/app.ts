// Builds one whole application from a config: database (with pending migrations applied), background
// jobs, services and the HTTP server. Returns it with a close(). main.ts only reads the environment.
import { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Config } from './config/config.js';
import { ormOptions } from './db/orm-options.js';
import { createHttpServer, type HttpServer } from './http/server.js';
import { Jobs } from './jobs/jobs.js';
import { type Clock, systemClock } from './lib/clock.js';
import { createLogger, type Logger } from './lib/logger.js';
import { RateLimits } from './lib/rate-limits.js';
import { redisEventTarget } from './lib/redis-events.js';
import { deliverDueMail } from './mail/delivery.js';
import { type Mailer, smtpMailer } from './mail/mailer.js';
import { createServices, type Services } from './services.js';

export interface AppOptions {
  config: Config;
  /** The database to use; main.ts resolves it (DATABASE_URL or the embedded server). */
  databaseUrl: string;
  clock?: Clock;
  logger?: Logger;
  mailer?: Mailer;
}

export interface App {
  services: Services;
  http: HttpServer;
  orm: MikroORM;
  jobs: Jobs;
  /** Listens on config.host:config.port (0 picks a free port) and returns the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export const MAIL_QUEUE = 'mail.deliver';
export const MERGE_EXPIRY_QUEUE = 'merge.expire';
export const DOMAIN_CHECK_QUEUE = 'domains.check';
export const SSO_CLEANUP_QUEUE = 'sso.cleanup';
export const RATE_LIMIT_PURGE_QUEUE = 'rate-limits.purge';
const MIGRATION_LOCK = 72_707_101;

/** Applies pending migrations; an advisory lock keeps instances that start together from racing. */
export async function migrate(orm: MikroORM, databaseUrl: string): Promise<void> {
  const lock = new pg.Client({ connectionString: databaseUrl });
  await lock.connect();
  try {
    await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await orm.getMigrator().up();
  } finally {
    await lock.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    await lock.end();
  }
}

export async function createApp(options: AppOptions): Promise<App> {
  const { config, databaseUrl } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? systemClock;
  const mailer = options.mailer ?? smtpMailer(config.smtp);
  const orm = await MikroORM.init(ormOptions(databaseUrl));
  const cleanups: Array<() => Promise<void> | void> = [() => orm.close(true), () => mailer.close()];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    await migrate(orm, databaseUrl);
    const rateLimitPool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    // An idle client's error (the server restarted) would otherwise be an uncaught exception.
    rateLimitPool.on('error', (error) => logger.warn({ err: error }, 'rate-limit pool connection lost'));
    cleanups.push(() => rateLimitPool.end());
    const rateLimits = new RateLimits(rateLimitPool, config.rateLimits);
    const eventTarget = config.redisUrl ? await redisEventTarget(config.redisUrl, logger) : undefined;
    if (eventTarget) cleanups.push(() => eventTarget.close());
    const jobs = new Jobs(databaseUrl, config.jobPollSeconds, logger);
    const secondsUntil = (date: Date) => Math.max(0, (date.getTime() - clock.now().getTime()) / 1000);
    const services = createServices({
      config,
      clock,
      logger,
      orm,
      rateLimits,
      eventTarget,
      wakeMailWorker: () => jobs.trigger(MAIL_QUEUE),
    });
    await jobs.start([
      {
        queue: MAIL_QUEUE,
        cron: '* * * * *',
        run: async () => {
          const result = await deliverDueMail(orm, mailer, clock, config.mail, logger);
          if (result.retryAt) await jobs.trigger(MAIL_QUEUE, secondsUntil(result.retryAt));
        },
      },
      {
        queue: DOMAIN_CHECK_QUEUE,
        cron: '* * * * *',
        run: async () => {
          const next = await services.domains.checkDue(orm.em.fork());
          // Pending claims want checks every 30 s early on, more often than the cron's minute.
          if (next && secondsUntil(next) < 60) await jobs.trigger(DOMAIN_CHECK_QUEUE, secondsUntil(next));
        },
      },
      {
        queue: SSO_CLEANUP_QUEUE,
        cron: '17 * * * *',
        run: async () => {
          await services.ssoLogin.purgeExpired(orm.em.fork());
        },
      },
      {
        queue: RATE_LIMIT_PURGE_QUEUE,
        cron: '41 * * * *',
        run: () => rateLimits.purgeExpired(),
      },
      {
        queue: MERGE_EXPIRY_QUEUE,
        cron: '* * * * *',
        run: async () => {
          await services.merges.expireDue(orm.em.fork());
        },
      },
    ]);
    cleanups.push(() => jobs.stop());
    const http = await createHttpServer(services);
    cleanups.push(() => http.close());
    return {
      services,
      http,
      orm,
      jobs,
      async listen() {
        await http.app.listen({ host: config.host, port: config.port });
        const address = http.app.server.address();
        const port = typeof address === 'object' && address ? address.port : config.port;
        return `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
