// A batch of background checks writes its lookups in one statement. Right after the lease, no statistics
// know the lease's timestamp: the planner once expected a single leased row and compared every written
// value with every leased row (200 x 200 for a batch, most of the batch's database time).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRITE_LOOKUPS } from '../../src/modules/domains/domain.service.js';
import { nodesOf, type PlanDatabase, planDatabase } from '../support/plans.js';

describe('writing a leased batch of lookups', () => {
  const BATCH = 200;
  let plans: PlanDatabase;
  let leased: Array<{ id: string; verification_token: string }>;
  let leasedUntil: string;

  beforeAll(async () => {
    plans = await planDatabase('domain_checks_plan');
    await plans.client.query(
      `insert into domains (id, parent_id, name, status, verification_token, created_at, claim_started_at,
                            status_changed_at, next_check_at)
       select gen_random_uuid(), $1, 'plan-' || g || '.com', 'PENDING', md5(g::text), now(), now(), now(), now()
         from generate_series(1, 5000) g`,
      [plans.parentId],
    );
    await plans.client.query('analyze domains');
    leasedUntil = new Date(Date.now() + 60_000).toISOString();
    const result = await plans.client.query<{ id: string; verification_token: string }>(
      `update domains set next_check_at = $1
        where id = any(array(select id from domains order by next_check_at limit $2))
        returning id, verification_token`,
      [leasedUntil, BATCH],
    );
    leased = result.rows;
  });

  afterAll(async () => {
    await plans?.close();
  });

  it('joins each written lookup to its row once, whatever the statistics say of the lease', async () => {
    const checkedAt = new Date().toISOString();
    const values = leased.map((row) => ({
      id: row.id,
      status: 'PENDING',
      verification_token: row.verification_token,
      last_checked_at: checkedAt,
      last_check_outcome: 'ABSENT',
      last_check_detail: null,
      next_check_at: checkedAt,
      absent_checks: 0,
      absent_since: null,
      leased_until: leasedUntil,
    }));
    await plans.client.query('begin');
    try {
      const plan = await plans.explain(WRITE_LOOKUPS, [JSON.stringify(values)], { analyze: true });
      expect(plan['Actual Rows']).toBe(BATCH);
      // The values are read once, and no join compares a value with a row that is not its own.
      const nodes = nodesOf(plan);
      const valueReads = nodes.filter((node) => node['Node Type'] === 'Function Scan');
      expect(valueReads.map((node) => node['Actual Loops'])).toEqual([1]);
      expect(nodes.reduce((sum, node) => sum + (node['Rows Removed by Join Filter'] ?? 0), 0)).toBe(0);
    } finally {
      await plans.client.query('rollback');
    }
  });
});
