// pg-boss 10 (the last major that runs on Node 20) completes and fails a job without awaiting it
// (manager.js, work()). If the database goes away at that moment, the rejection reaches the process with
// no handler, and Node would end the process. The job is fetched again once its lease expires, so a
// rejection that is a database outage is logged and survived; any other stays fatal, as Node has it.
import { isDatabaseUnavailable } from '../db/unavailable.js';
import type { Logger } from './logger.js';

/** Whether the process outlives an unhandled rejection of `reason`: only a database outage. */
export function survivesRejection(reason: unknown): boolean {
  return isDatabaseUnavailable(reason);
}

/** The process's unhandled-rejection handler: logs and survives an outage, logs and exits on anything else. */
export function rejectionHandler(logger: Logger, exit: (code: number) => void) {
  return (reason: unknown): void => {
    if (survivesRejection(reason)) {
      logger.warn({ err: reason }, 'a background database call failed during an outage; it is retried');
      return;
    }
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    exit(1);
  };
}
