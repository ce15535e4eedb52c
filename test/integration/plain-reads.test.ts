// findBySql serves hot paths (SCIM writes, SSO sign-in) in place of em.find: what it returns must behave
// like what em.find returns, or the unit of work would write stale data or lose changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBySql, plainRows, preparedRows } from '../../src/db/plain-reads.js';
import { Organization } from '../../src/modules/organizations/organization.entity.js';
import { User } from '../../src/modules/sessions/user.entity.js';
import { capturedParent } from '../support/identity.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('findBySql', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const userByEmail = 'select * from users where email = ?';

  it('maps rows to managed entities, columns to properties and foreign keys to references', async () => {
    const parent = await capturedParent(stack, 'plain-reads.com');
    const em = stack.app.orm.em.fork();
    const [organization] = await findBySql(em, Organization, 'select * from organizations where id = ?', [
      parent.organizationId,
    ]);
    expect(organization).toBeInstanceOf(Organization);
    expect(organization!.parent!.id).toBe(parent.parentId);
    expect(organization!.createdAt).toBeInstanceOf(Date);
    expect(em.getUnitOfWork().getById(Organization.name, parent.organizationId)).toBe(organization);
    expect(await em.findOne(Organization, parent.organizationId)).toBe(organization);
  });

  it('returns an entity already loaded as it is, unsaved changes included, and the flush writes them', async () => {
    const email = uniqueEmail('plain');
    await stack.app.orm.em.fork().persistAndFlush(new User(email, new Date()));
    const em = stack.app.orm.em.fork();
    const [user] = await findBySql(em, User, userByEmail, [email]);
    user!.name = 'Changed, not flushed';
    const [again] = await findBySql(em, User, userByEmail, [email]);
    expect(again).toBe(user);
    expect(again!.name).toBe('Changed, not flushed');
    await em.flush();
    const [saved] = await findBySql(stack.app.orm.em.fork(), User, userByEmail, [email]);
    expect(saved!.name).toBe('Changed, not flushed');
  });

  it('reads inside the transaction of the entity manager it is given', async () => {
    const email = uniqueEmail('plain-tx');
    await stack.app.orm.em.fork().transactional(async (em) => {
      em.persist(new User(email, new Date()));
      await em.flush();
      expect(await findBySql(em, User, userByEmail, [email])).toHaveLength(1);
      expect(await findBySql(stack.app.orm.em.fork(), User, userByEmail, [email])).toHaveLength(0);
    });
  });

  describe('preparedRows', () => {
    const byEmail = 'select id, email from users where email = ?';

    it('prepares the statement once on the connection and reads inside the transaction it is given', async () => {
      const email = uniqueEmail('prepared');
      await stack.app.orm.em.fork().transactional(async (em) => {
        em.persist(new User(email, new Date()));
        await em.flush();
        expect(await preparedRows(em, byEmail, [email])).toEqual([{ id: expect.any(String), email }]);
        expect(await preparedRows(em, byEmail, [email])).toHaveLength(1);
        expect(await preparedRows(stack.app.orm.em.fork(), byEmail, [email])).toHaveLength(0);
        const statements = await plainRows<{ statement: string }>(
          em,
          'select statement from pg_prepared_statements where statement = ?',
          ['select id, email from users where email = $1'],
        );
        expect(statements).toHaveLength(1);
      });
    });

    it('prepares a statement again once a migration changed what it returns', async () => {
      const table = `prepared_probe_${Date.now()}`;
      const em = () => stack.app.orm.em.fork();
      await plainRows(em(), `create table ${table} (v varchar(10))`, []);
      await plainRows(em(), `insert into ${table} values ('before')`, []);
      try {
        // Held for a moment each, so that every pooled connection prepares the statement.
        const read = `select v, pg_sleep(0.05)::text as slept from ${table}`;
        const readEverywhere = () =>
          Promise.all(Array.from({ length: 12 }, () => preparedRows<{ v: string }>(em(), read, [])));
        await readEverywhere();
        await plainRows(em(), `alter table ${table} alter column v type varchar(20)`, []);
        const after = await readEverywhere();
        expect(after.flat().map((row) => row.v)).toEqual(Array(12).fill('before'));
      } finally {
        await plainRows(em(), `drop table ${table}`, []);
      }
    });

    it('binds as plainRows does: an array as one array, an escaped question mark as the jsonb operator', async () => {
      const em = stack.app.orm.em.fork();
      const [row] = await preparedRows<{ n: number; has: boolean }>(
        em,
        'select cardinality(?::text[]) as n, \'{"a": 1}\'::jsonb \\? ? as has',
        [['x', 'y', 'z'], 'a'],
      );
      expect(row).toEqual({ n: 3, has: true });
    });
  });
});
