import { Migration } from '@mikro-orm/migrations';

/**
 * Background checks take the due claims in next_check_at order among pending and verified ones
 * (domain.service.ts). An index on (status, next_check_at) cannot return two statuses in one order, so
 * every lease sorted all due claims; a partial index on next_check_at over those statuses reads them in
 * order and stops at the batch.
 */
export class Migration20261129090000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`drop index if exists "domains_status_next_check_at_index";`);
    this.addSql(
      `create index "domains_due_index" on "domains" ("next_check_at") where "status" in ('PENDING', 'VERIFIED');`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "domains_due_index";`);
    this.addSql(
      `create index "domains_status_next_check_at_index" on "domains" ("status", "next_check_at");`,
    );
  }
}
