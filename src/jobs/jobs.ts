// Background work on pg-boss: jobs live in PostgreSQL, so every instance of the API shares one queue and
// a job runs on exactly one of them. Each capability registers its workers here.
import PgBoss from 'pg-boss';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import type { Logger } from '../lib/logger.js';

export interface JobWorker {
  queue: string;
  /** Runs the job; a thrown error makes pg-boss retry it. */
  run(): Promise<void>;
  /** Cron schedule that also triggers the job, as a safety net for wake-ups lost in a crash. */
  cron?: string;
}

export class Jobs {
  private readonly boss: PgBoss;
  private started = false;

  constructor(
    databaseUrl: string,
    private readonly pollSeconds: number,
    private readonly logger: Logger,
  ) {
    this.boss = new PgBoss({
      connectionString: databaseUrl,
      schema: 'pgboss',
      max: 4,
      application_name: 'console-identity-jobs',
    });
    // pg-boss reconnects by itself after an outage, which the API reports on its own: not an error here.
    this.boss.on('error', (error) =>
      isDatabaseUnavailable(error)
        ? this.logger.warn({ err: error }, 'pg-boss lost the database')
        : this.logger.error({ err: error }, 'pg-boss error'),
    );
  }

  async start(workers: JobWorker[]): Promise<void> {
    await this.boss.start();
    this.started = true;
    for (const worker of workers) {
      await this.boss.createQueue(worker.queue);
      await this.boss.work(
        worker.queue,
        { pollingIntervalSeconds: this.pollSeconds, batchSize: 1 },
        async () => {
          await worker.run();
        },
      );
      if (worker.cron) await this.boss.schedule(worker.queue, worker.cron);
    }
  }

  /**
   * Asks for a run of `queue` now, or in `afterSeconds` (relative, because the app's clock may be a test
   * clock while pg-boss schedules by the database's).
   */
  async trigger(queue: string, afterSeconds = 0): Promise<void> {
    if (!this.started) return;
    await this.boss.send(queue, {}, afterSeconds > 0 ? { startAfter: Math.ceil(afterSeconds) } : {});
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: true, wait: true, timeout: 5_000 });
  }
}
