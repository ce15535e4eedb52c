// insertAsOneStatement serves SCIM's concurrent pushes: units of work handed in together share one
// statement, and a unit the database refuses fails alone, with nothing of it written.
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertAsOneStatement } from '../../src/db/one-statement-insert.js';
import { plainRows } from '../../src/db/plain-reads.js';
import { User } from '../../src/modules/sessions/user.entity.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('insertAsOneStatement', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** Starts one unit of work per address (each a new account) at once; returns their outcomes. */
  async function insertTogether(emails: string[]) {
    const units = emails.map((email) => {
      const em = stack.app.orm.em.fork();
      em.persist(new User(email, new Date()));
      return insertAsOneStatement(em);
    });
    return Promise.allSettled(units);
  }

  async function withStatements<T>(run: () => Promise<T>): Promise<{ result: T; inserts: number }> {
    let inserts = 0;
    const knex = stack.app.orm.em.getConnection().getKnex();
    const count = (query: { sql: string }) => {
      if (/^\s*with t0 as \(insert into/i.test(query.sql)) inserts++;
    };
    knex.on('query', count);
    try {
      return { result: await run(), inserts };
    } finally {
      knex.off('query', count);
    }
  }

  const accounts = async (emails: string[]) =>
    (
      await plainRows<{ email: string }>(
        stack.app.orm.em.fork(),
        'select email from users where email = any(?)',
        [emails],
      )
    )
      .map((row) => row.email)
      .sort();

  it('writes units of work handed in together in one statement', async () => {
    const emails = Array.from({ length: 6 }, (_, i) => uniqueEmail(`together${i}`));
    const { result, inserts } = await withStatements(() => insertTogether(emails));
    expect(result.map((outcome) => outcome.status)).toEqual(emails.map(() => 'fulfilled'));
    expect(inserts).toBe(1);
    expect(await accounts(emails)).toEqual([...emails].sort());
  });

  it('writes each unit alone when the shared statement fails, so only the refused one fails', async () => {
    const taken = uniqueEmail('taken');
    await stack.app.orm.em.fork().persistAndFlush(new User(taken, new Date()));
    const emails = [uniqueEmail('fine0'), taken, uniqueEmail('fine1')];
    const { result, inserts } = await withStatements(() => insertTogether(emails));
    expect(result[0]!.status).toBe('fulfilled');
    expect(result[1]).toMatchObject({
      status: 'rejected',
      reason: expect.any(UniqueConstraintViolationException),
    });
    expect(result[2]!.status).toBe('fulfilled');
    expect(inserts).toBe(1 + emails.length);
    expect(await accounts(emails)).toEqual([emails[0]!, taken, emails[2]!].sort());
  });
});
