// insertAsOneStatement serves SCIM's concurrent pushes: units of work handed in together share one
// statement, and a unit the database refuses fails alone, with nothing of it written. flushAsOneStatement
// serves SSO sign-ins: a transaction's creations and updates in one statement, committed or rolled back
// with the transaction.
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flushAsOneStatement, insertAsOneStatement } from '../../src/db/one-statement-write.js';
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

  /** Runs `run`, counting the one-statement writes and every other write it sends. */
  async function withStatements<T>(
    run: () => Promise<T>,
  ): Promise<{ result: T; inserts: number; otherWrites: number }> {
    let inserts = 0;
    let otherWrites = 0;
    const knex = stack.app.orm.em.getConnection().getKnex();
    const count = (query: { sql: string }) => {
      if (/^\s*with t0 as \((insert into|update)/i.test(query.sql)) inserts++;
      else if (/^\s*(insert|update|delete)/i.test(query.sql)) otherWrites++;
    };
    knex.on('query', count);
    try {
      return { result: await run(), inserts, otherWrites };
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

  describe('flushAsOneStatement', () => {
    const names = async (emails: string[]) =>
      (
        await plainRows<{ email: string; name: string | null }>(
          stack.app.orm.em.fork(),
          'select email, name from users where email = any(?) order by email',
          [emails],
        )
      ).map((row) => [row.email, row.name]);

    it("writes a transaction's creations and updates in one statement, committed with it", async () => {
      const existing = uniqueEmail('updated');
      const created = uniqueEmail('created');
      await stack.app.orm.em.fork().persistAndFlush(new User(existing, new Date()));
      const { inserts, otherWrites } = await withStatements(() =>
        stack.app.orm.em.fork().transactional(async (em) => {
          const user = await em.findOneOrFail(User, { email: existing });
          user.name = 'Renamed';
          const other = new User(created, new Date());
          other.name = 'New';
          em.persist(other);
          await flushAsOneStatement(em);
        }),
      );
      expect({ inserts, otherWrites }).toEqual({ inserts: 1, otherWrites: 0 });
      expect(await names([existing, created])).toEqual(
        [
          [existing, 'Renamed'],
          [created, 'New'],
        ].sort(),
      );
    });

    it('leaves what it wrote clean in the EntityManager the transaction was forked from', async () => {
      const email = uniqueEmail('parent-em');
      await stack.app.orm.em.fork().persistAndFlush(new User(email, new Date()));
      const em = stack.app.orm.em.fork();
      const user = await em.findOneOrFail(User, { email });
      await em.transactional(async (tx) => {
        (await tx.findOneOrFail(User, { email })).name = 'Renamed';
        await flushAsOneStatement(tx);
      });
      expect(user.name).toBe('Renamed');
      // A newer change by someone else; a flush of the parent must not write the old one over it.
      await plainRows(stack.app.orm.em.fork(), 'update users set name = ? where email = ?', ['Newer', email]);
      const { otherWrites } = await withStatements(() => em.flush());
      expect(otherWrites).toBe(0);
      expect(await names([email])).toEqual([[email, 'Newer']]);
    });

    it('writes nothing of a transaction that rolls back', async () => {
      const existing = uniqueEmail('kept');
      const created = uniqueEmail('dropped');
      await stack.app.orm.em.fork().persistAndFlush(new User(existing, new Date()));
      const failed = stack.app.orm.em.fork().transactional(async (em) => {
        (await em.findOneOrFail(User, { email: existing })).name = 'Renamed';
        em.persist(new User(created, new Date()));
        await flushAsOneStatement(em);
        throw new Error('after the write');
      });
      await expect(failed).rejects.toThrow('after the write');
      expect(await names([existing, created])).toEqual([[existing, null]]);
    });

    it('flushes as usual a unit of work that removes a row', async () => {
      const removed = uniqueEmail('removed');
      await stack.app.orm.em.fork().persistAndFlush(new User(removed, new Date()));
      const { inserts, otherWrites } = await withStatements(() =>
        stack.app.orm.em.fork().transactional(async (em) => {
          em.remove(await em.findOneOrFail(User, { email: removed }));
          await flushAsOneStatement(em);
        }),
      );
      expect({ inserts, otherWrites }).toEqual({ inserts: 0, otherWrites: 1 });
      expect(await names([removed])).toEqual([]);
    });
  });
});
