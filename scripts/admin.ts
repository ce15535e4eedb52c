// Operator commands that have no GraphQL surface (`npm run admin -- <command>`). The database is the one
// `npm start` would use: DATABASE_URL when set, else the embedded PostgreSQL of EMBEDDED_PG_DIR, reused
// when a server of that folder is running and started (then stopped) for the command when it is not.
// Exit codes: 0 done, 2 usage or invalid input, 1 anything else.
import 'reflect-metadata';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MikroORM } from '@mikro-orm/postgresql';
import { migrate } from '../src/app.js';
import { type Config, ConfigError, loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/open.js';
import { parseEmail } from '../src/lib/names.js';
import { ormOptions } from '../src/db/orm-options.js';
import { systemClock } from '../src/lib/clock.js';
import { DomainError } from '../src/lib/errors.js';
import { uuidv7 } from '../src/lib/ids.js';
import { AuditService } from '../src/modules/audit/audit.service.js';
import { OrganizationAccess } from '../src/modules/organizations/organization.access.js';
import {
  parseStaffRole,
  STAFF_ROLES,
  type StaffGrant,
  StaffService,
} from '../src/modules/sessions/staff.service.js';

export const USAGE = `Usage: npm run admin -- <command>

Commands:
  create-staff <email> <${STAFF_ROLES.join('|')}>
      Creates the account of <email> if needed and gives it the staff role.`;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function describeGrant(grant: StaffGrant): string {
  const who = `${grant.user.email} (user ${grant.user.id})`;
  if (grant.created) return `Created ${who} with staff role ${grant.user.staffRole}.`;
  if (!grant.changed) return `${who} already has staff role ${grant.user.staffRole}; nothing changed.`;
  return `Changed the staff role of ${who} from ${grant.previousRole ?? 'none'} to ${grant.user.staffRole}.`;
}

async function createStaff(config: Config, rawEmail: string, rawRole: string): Promise<void> {
  const database = await openDatabase(config);
  try {
    const orm = await MikroORM.init(ormOptions(database.url));
    try {
      await migrate(orm, database.url);
      const staff = new StaffService(systemClock, new AuditService(systemClock, new OrganizationAccess()));
      const grant = await staff.grantRole(
        { em: orm.em.fork(), viewer: null, requestId: uuidv7() },
        rawEmail,
        rawRole,
      );
      console.log(describeGrant(grant));
      console.log(`Database: ${database.description}`);
    } finally {
      await orm.close(true);
    }
  } finally {
    await database.close();
  }
}

/** Runs one command; returns the exit code. */
export async function run(
  args: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      (command === undefined ? console.error : console.log)(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command !== 'create-staff') throw new UsageError(`Unknown command "${command}".`);
    if (rest.length !== 2) throw new UsageError('create-staff takes exactly two arguments: <email> <role>.');
    const [rawEmail, rawRole] = rest as [string, string];
    // Refuse bad input before starting or migrating any database.
    parseEmail(rawEmail);
    parseStaffRole(rawRole);
    const config = loadConfig(env);
    await createStaff(config, rawEmail, rawRole);
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof DomainError) {
      console.error(`${error.code}: ${error.message}`);
      return 2;
    }
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    return 1;
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(path.resolve(entry)) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // Exit explicitly: a pool or timer left open by a library must not keep a finished command alive.
  process.exit(await run(process.argv.slice(2)));
}
