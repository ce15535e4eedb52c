// The admin CLI as an operator runs it: a child process of `scripts/admin.ts`, against a fresh database
// (DATABASE_URL) and against the embedded PostgreSQL of a data folder, both when that server is already
// running (it is reused and left running) and when it is not (it is started and stopped again).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findRunningEmbeddedPostgres } from '../../src/db/embedded.js';
import { dropDatabase, ensureDatabase } from '../../src/db/database.js';
import { type EmbeddedDatabase, startEmbeddedPostgres, withDatabase } from '../../src/db/embedded.js';
import { runScript } from '../support/script.js';
import { sqlRows } from '../support/sql.js';

/** Runs `scripts/admin.ts` with only the given configuration (none inherited from this process). */
const runCli = (args: string[], env: Record<string, string>) => runScript('admin.ts', args, env);

interface UserRow {
  id: string;
  email: string;
  staff_role: string | null;
}
interface AuditRow {
  action: string;
  actor_type: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

const userByEmail = (url: string, email: string) =>
  sqlRows<UserRow>(url, 'select id, email, staff_role from users where email = $1', [email]);
const grantsOf = (url: string, userId: string) =>
  sqlRows<AuditRow>(
    url,
    `select action, actor_type, before, after from audit_events
      where action = 'staff.role_granted' and target_id = $1 order by id`,
    [userId],
  );

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

describe('npm run admin -- create-staff, against DATABASE_URL', () => {
  const serverUrl = inject('databaseServerUrl');
  const database = `t_${randomBytes(6).toString('hex')}`;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await ensureDatabase(serverUrl, database, inject('templateDatabase'));
  });
  afterAll(async () => {
    await dropDatabase(serverUrl, database);
  });

  it('creates the account under its canonical address with the role, and audits the grant once', async () => {
    const result = await runCli(['create-staff', '  Staff.Person@Example.COM ', 'SALES'], {
      DATABASE_URL: databaseUrl,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Created staff.person@example.com');
    expect(result.stdout).toContain('staff role SALES');

    const [user, ...others] = await userByEmail(databaseUrl, 'staff.person@example.com');
    expect(others).toEqual([]);
    expect(user).toMatchObject({ staff_role: 'SALES' });
    expect(await grantsOf(databaseUrl, user!.id)).toEqual([
      {
        action: 'staff.role_granted',
        actor_type: 'SYSTEM',
        before: null,
        after: { email: 'staff.person@example.com', staffRole: 'SALES' },
      },
    ]);
  });

  it('changes the role of an existing account, and does nothing when it already has the role', async () => {
    const email = `manager-${randomBytes(3).toString('hex')}@example.com`;
    expect((await runCli(['create-staff', email, 'SALES'], { DATABASE_URL: databaseUrl })).code).toBe(0);

    const again = await runCli(['create-staff', email, 'SALES'], { DATABASE_URL: databaseUrl });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already has staff role SALES; nothing changed');

    const changed = await runCli(['create-staff', email, 'ACCOUNT_MANAGER'], { DATABASE_URL: databaseUrl });
    expect(changed.code).toBe(0);
    expect(changed.stdout).toContain('from SALES to ACCOUNT_MANAGER');

    const [user] = await userByEmail(databaseUrl, email);
    expect(user).toMatchObject({ staff_role: 'ACCOUNT_MANAGER' });
    const grants = await grantsOf(databaseUrl, user!.id);
    expect(grants.map((g) => [g.before, g.after])).toEqual([
      [null, { email, staffRole: 'SALES' }],
      [{ staffRole: 'SALES' }, { email, staffRole: 'ACCOUNT_MANAGER' }],
    ]);
  });

  // Each refusal is its own process and database-independent: run them side by side.
  describe.concurrent('refusals', () => {
    it('refuses an unknown role with exit code 2, naming the valid roles, and writes nothing', async ({
      expect,
    }) => {
      const email = `boss-${randomBytes(3).toString('hex')}@example.com`;
      const result = await runCli(['create-staff', email, 'BOSS'], { DATABASE_URL: databaseUrl });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('INVALID_ROLE');
      expect(result.stderr).toContain('"BOSS"');
      expect(result.stderr).toContain('ACCOUNT_MANAGER, SALES');
      expect(await userByEmail(databaseUrl, email)).toEqual([]);
    });

    it.for([
      ['no domain', 'someone@', 'needs a local part and a domain'],
      ['an invalid local part', 'a b@example.com', 'part before "@" is not valid'],
      ['a single-label domain', 'root@localhost', 'domain of the address is not valid'],
    ] as const)(
      'refuses an e-mail address with %s, naming the problem',
      async ([, email, problem], { expect }) => {
        const result = await runCli(['create-staff', email, 'SALES'], { DATABASE_URL: databaseUrl });
        expect(result.code).toBe(2);
        expect(result.stderr).toContain('INVALID_EMAIL');
        expect(result.stderr).toContain(problem);
      },
    );

    it.for([
      ['no command', []],
      ['an unknown command', ['delete-everything']],
      ['a missing role', ['create-staff', 'someone@example.com']],
    ] as const)('prints the usage and exits 2 for %s', async ([, args], { expect }) => {
      const result = await runCli([...args], { DATABASE_URL: databaseUrl });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('Usage: npm run admin -- <command>');
      expect(result.stderr).toContain('create-staff <email> <ACCOUNT_MANAGER|SALES>');
    });

    it('exits 2 naming the variable when the configuration is invalid', async ({ expect }) => {
      const result = await runCli(['create-staff', 'someone@example.com', 'SALES'], {
        DATABASE_URL: 'mysql://nope',
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('DATABASE_URL');
    });
  });
});

describe('npm run admin -- create-staff, against the embedded PostgreSQL', () => {
  let base: string;
  let dir: string;
  let server: EmbeddedDatabase | undefined;

  beforeAll(() => {
    base = mkdtempSync(path.join(os.tmpdir(), 'console-identity-admin-'));
    chmodSync(base, 0o755); // PostgreSQL runs as the OS user postgres when the tests run as root
    dir = path.join(base, 'pg');
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('starts the server of EMBEDDED_PG_DIR when none runs, and stops it afterwards', async () => {
    const result = await runCli(['create-staff', 'first@example.com', 'SALES'], { EMBEDDED_PG_DIR: dir });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Created first@example.com');
    expect(result.stdout).toContain(`Database: embedded PostgreSQL (${dir})\n`);
    expect(findRunningEmbeddedPostgres(dir)).toBeUndefined();
  });

  it('reuses the server already running on EMBEDDED_PG_DIR and leaves it running', async () => {
    server = await startEmbeddedPostgres({ dir });
    const running = findRunningEmbeddedPostgres(dir);
    expect(running?.port).toBe(server.port);

    const result = await runCli(['create-staff', 'first@example.com', 'ACCOUNT_MANAGER'], {
      EMBEDDED_PG_DIR: dir,
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      `embedded PostgreSQL (${dir}) run by another process, port ${server.port}`,
    );
    expect(isAlive(running!.pid)).toBe(true);
    // Same data as the first run: the account made while no server ran is the one changed now.
    const url = withDatabase(server.url, 'console_identity');
    const [user] = await userByEmail(url, 'first@example.com');
    expect(user).toMatchObject({ staff_role: 'ACCOUNT_MANAGER' });
    expect((await grantsOf(url, user!.id)).length).toBe(2);
  });
});

describe('findRunningEmbeddedPostgres', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'console-identity-pidfile-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const pidFile = (pid: number | string, port: number | string) =>
    writeFileSync(path.join(dir, 'postmaster.pid'), `${pid}\n${dir}\n1795896932\n${port}\n/tmp\nlocalhost\n`);

  it('is undefined without a postmaster.pid', () => {
    mkdirSync(path.join(dir, 'empty'));
    expect(findRunningEmbeddedPostgres(path.join(dir, 'empty'))).toBeUndefined();
  });

  it('reads the pid from line 1 and the port from line 4 when the process is alive', () => {
    pidFile(process.pid, 54321);
    expect(findRunningEmbeddedPostgres(dir)).toEqual({ pid: process.pid, port: 54321 });
  });

  it('is undefined when the process of the pid file is gone (a crash left it behind)', () => {
    const exited = spawnSync(process.execPath, ['-e', '']).pid;
    pidFile(exited, 54321);
    expect(findRunningEmbeddedPostgres(dir)).toBeUndefined();
  });

  it('is undefined when the pid file is garbage', () => {
    pidFile('not-a-pid', 'nope');
    expect(findRunningEmbeddedPostgres(dir)).toBeUndefined();
  });
});
