import { Migration } from '@mikro-orm/migrations';

/**
 * A background check's lease gets a column of its own, in no index, and the table half of each page free:
 * the lease was written to next_check_at, which is indexed, so every checked claim was updated twice with
 * every index written twice. Now the lease is a heap-only (HOT) update, which needs room on the row's own
 * page (a batch leases neighbouring rows: at 80% a page had room for a fifth of them), and only the
 * lookup's write, which moves next_check_at anyway, touches the indexes. Claims are few and small: the
 * doubled table stays small. The fill factor applies to pages as they are written; `vacuum full domains`
 * applies it to an existing table at once (outside a transaction, so not here).
 */
export class Migration20261130090000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "domains" add column "check_leased_until" timestamptz null;`);
    this.addSql(`alter table "domains" set (fillfactor = 50);`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "domains" reset (fillfactor);`);
    this.addSql(`alter table "domains" drop column "check_leased_until";`);
  }
}
