import { Migration } from '@mikro-orm/migrations';

/**
 * Every parent-level audit event (domains, SSO, merges) and every check of a parent's identity settings
 * reads the parent's organizations; without an index each of them read the whole table.
 */
export class Migration20261130080000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create index "organizations_parent_id_index" on "organizations" ("parent_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "organizations_parent_id_index";`);
  }
}
