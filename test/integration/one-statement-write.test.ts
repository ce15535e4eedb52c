// insertAsOneStatement serves SCIM's concurrent pushes: units of work handed in together share one
// statement, and a unit the database refuses fails alone, with nothing of it written. flushAsOneStatement
// serves transactions: their creations and updates in one statement, committed or rolled back with the
// transaction. writeAsOneStatement serves SSO sign-ins: one statement and no transaction around it, its
// writes made only if a guard (the claim of the pending request) passes in the same statement.
import { type EventSubscriber, UniqueConstraintViolationException } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  flushAsOneStatement,
  insertAsOneStatement,
  writeAsOneStatement,
} from '../../src/db/one-statement-write.js';
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
  ): Promise<{ result: T; inserts: number; otherWrites: number; statements: number }> {
    let inserts = 0;
    let otherWrites = 0;
    let statements = 0;
    const knex = stack.app.orm.em.getConnection().getKnex();
    const count = (query: { sql: string }) => {
      statements++;
      if (/^\s*with (\w+ as \(.*\), )?t0 as \((insert into|update)/is.test(query.sql)) inserts++;
      else if (/^\s*(insert|update|delete)/i.test(query.sql)) otherWrites++;
    };
    knex.on('query', count);
    try {
      return { result: await run(), inserts, otherWrites, statements };
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

  describe('writeAsOneStatement', () => {
    /** A fork whose own event manager tells which of a commit and a rollback its write fired. */
    function observedFork() {
      const em = stack.app.orm.em.fork({ cloneEventManager: true });
      const fired: string[] = [];
      const observer: EventSubscriber = {
        afterTransactionCommit: () => void fired.push('commit'),
        afterTransactionRollback: () => void fired.push('rollback'),
      };
      em.getEventManager().registerSubscriber(observer);
      return { em, fired };
    }
    /** A guard that passes when `passes` is true: a CTE that returns a row only then. */
    const guard = (passes: boolean) => ({
      name: 'allowed',
      sql: 'allowed as (select 1 where ?::boolean)',
      params: [passes],
    });

    it('writes creations and updates in one statement, with no transaction begun or committed around it', async () => {
      const existing = uniqueEmail('autocommit-updated');
      const created = uniqueEmail('autocommit-created');
      await stack.app.orm.em.fork().persistAndFlush(new User(existing, new Date()));
      const { em, fired } = observedFork();
      (await em.findOneOrFail(User, { email: existing })).name = 'Renamed';
      em.persist(new User(created, new Date()));
      const { result, statements } = await withStatements(() => writeAsOneStatement(em));
      expect({ result, statements, fired }).toEqual({ result: true, statements: 1, fired: ['commit'] });
      expect(await accounts([existing, created])).toEqual([existing, created].sort());
    });

    it('writes only if its guard passes, in the same statement; refused, it writes nothing and fires a rollback', async () => {
      const refused = observedFork();
      const dropped = uniqueEmail('guard-refused');
      refused.em.persist(new User(dropped, new Date()));
      const attempt = await withStatements(() => writeAsOneStatement(refused.em, guard(false)));
      expect(attempt).toMatchObject({ result: false, statements: 1 });
      expect(refused.fired).toEqual(['rollback']);
      const allowed = observedFork();
      const kept = uniqueEmail('guard-passed');
      allowed.em.persist(new User(kept, new Date()));
      expect(await writeAsOneStatement(allowed.em, guard(true))).toBe(true);
      expect(allowed.fired).toEqual(['commit']);
      expect(await accounts([dropped, kept])).toEqual([kept]);
    });

    it('fires a rollback and writes nothing when the statement fails', async () => {
      const taken = uniqueEmail('write-taken');
      const other = uniqueEmail('write-other');
      await stack.app.orm.em.fork().persistAndFlush(new User(taken, new Date()));
      const { em, fired } = observedFork();
      em.persist([new User(other, new Date()), new User(taken, new Date())]);
      await expect(writeAsOneStatement(em, guard(true))).rejects.toBeInstanceOf(
        UniqueConstraintViolationException,
      );
      expect(fired).toEqual(['rollback']);
      expect(await accounts([other])).toEqual([]);
    });

    it('refuses a unit of work it cannot write as one statement, and in a transaction', async () => {
      const email = uniqueEmail('not-rows');
      await stack.app.orm.em.fork().persistAndFlush(new User(email, new Date()));
      const em = stack.app.orm.em.fork();
      em.remove(await em.findOneOrFail(User, { email }));
      await expect(writeAsOneStatement(em)).rejects.toThrow('creations and updates of single-key rows only');
      await expect(stack.app.orm.em.fork().transactional((tx) => writeAsOneStatement(tx))).rejects.toThrow(
        'outside transactions',
      );
      expect(await accounts([email])).toEqual([email]);
    });
  });
});
