// A batch of background checks writes its lookups in one statement: those that change nothing, and
// verifications no other parent contests. Right after the lease, no statistics know the lease's timestamp:
// the planner once expected a single leased row and compared every written value with every leased row
// (200 x 200 for a batch, most of the batch's database time); later it read the whole table to join a batch.
// The table holds 200 batches' worth of claims: with a few dozen, the planner rightly reads it whole (a
// batch's rows are on most of its pages), as it did with PostgreSQL 15 at 55 batches of 1,000.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsCheckOutcome, DomainStatus } from '../../src/modules/domains/domain.entity.js';
import { CHECK_BATCH, WRITE_LOOKUPS, type WriteLookupRow } from '../../src/modules/domains/domain.service.js';
import { nodesOf, type PlanDatabase, planDatabase } from '../support/plans.js';

describe('writing a leased batch of lookups', () => {
  const BATCH = CHECK_BATCH;
  const CLAIMS = 200 * BATCH;
  let plans: PlanDatabase;
  let leased: Array<{ id: string; name: string; verification_token: string }>;
  let leasedUntil: string;

  beforeAll(async () => {
    plans = await planDatabase('domain_checks_plan');
    await plans.client.query(
      `insert into domains (id, parent_id, name, status, verification_token, created_at, claim_started_at,
                            status_changed_at, next_check_at)
       select gen_random_uuid(), $1, 'plan-' || g || '.com', 'PENDING', md5(g::text), now(), now(), now(), now()
         from generate_series(1, $2::int) g`,
      [plans.parentId, CLAIMS],
    );
    // Another parent claims a subdomain in every tenth family, due later (so not leased here).
    await plans.client.query(
      `insert into parent_organizations (id, name, created_at, updated_at)
       values ('00000000-0000-4000-8000-000000000001', 'Other', now(), now())`,
    );
    await plans.client.query(
      `insert into domains (id, parent_id, name, status, verification_token, created_at, claim_started_at,
                            status_changed_at, next_check_at)
       select gen_random_uuid(), '00000000-0000-4000-8000-000000000001', 'eu.plan-' || g || '.com', 'PENDING',
              md5('other' || g), now(), now(), now(), now() + interval '1 day'
         from generate_series(10, $1::int, 10) g`,
      [CLAIMS],
    );
    await plans.client.query('analyze domains');
    leasedUntil = new Date(Date.now() + 60_000).toISOString();
    const result = await plans.client.query<{ id: string; name: string; verification_token: string }>(
      `update domains set check_leased_until = $1
        where id = any(array(select id from domains order by next_check_at limit $2))
        returning id, name, verification_token`,
      [leasedUntil, BATCH],
    );
    leased = result.rows;
  });

  afterAll(async () => {
    await plans?.close();
  });

  it('finds each written lookup’s row by its id and joins it once, whatever the statistics say of the lease', async () => {
    const checkedAt = new Date().toISOString();
    // Half of them verifications, each asking whether another parent holds a claim on its name's family.
    const values = leased.map((row, i): WriteLookupRow => [
      row.id,
      DomainStatus.PENDING,
      row.verification_token,
      leasedUntil,
      i % 2 ? DomainStatus.VERIFIED : DomainStatus.PENDING,
      i % 2 ? checkedAt : null,
      checkedAt,
      i % 2 ? DnsCheckOutcome.FOUND : DnsCheckOutcome.ABSENT,
      null,
      checkedAt,
      0,
      null,
      i % 2 ? [...row.name].reverse().join('') : null,
    ]);
    // Another parent's claim in the family refuses a verification: left to the transaction under locks.
    const contested = leased.filter((row, i) => i % 2 && Number(/\d+/.exec(row.name)![0]) % 10 === 0).length;
    expect(contested).toBeGreaterThan(0);
    // As planned for these values, and as a prepared statement is planned after a few runs, for any.
    for (const generic of [false, true]) {
      await plans.client.query('begin');
      try {
        const plan = await plans.explain(
          WRITE_LOOKUPS,
          [JSON.stringify(values), leased.map((row) => row.id)],
          { analyze: true, generic },
        );
        expect(plan['Actual Rows']).toBe(BATCH - contested);
        // The values are read once, and no join compares a value with a row that is not its own: the
        // join drops only the contested verifications.
        const nodes = nodesOf(plan);
        const valueReads = nodes.filter((node) => node['Node Type'] === 'Function Scan');
        expect(valueReads.map((node) => node['Actual Loops'])).toEqual([1]);
        expect(nodes.reduce((sum, node) => sum + (node['Rows Removed by Join Filter'] ?? 0), 0)).toBe(
          contested,
        );
        // The rows are found by their ids and the families by the reversed-name index: no read of the table.
        const tableReads = nodes.filter(
          (node) => node['Node Type'] === 'Seq Scan' && node['Relation Name'] === 'domains',
        );
        expect(tableReads).toEqual([]);
      } finally {
        await plans.client.query('rollback');
      }
    }
  });
});
