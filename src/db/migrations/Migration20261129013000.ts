import { Migration } from '@mikro-orm/migrations';

/**
 * SCIM filters on userName compare user_name_key, the folded userName (scim.service.ts). The unique index on
 * (directory_id, user_name_key) serves eq and ranges; a prefix match (`userName sw "..."`) needs an operator
 * class that compares characters, which the database collation's does not unless it is C.
 */
export class Migration20261129013000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create index "directory_users_directory_id_user_name_key_pattern_index" on "directory_users" ("directory_id", "user_name_key" text_pattern_ops);`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "directory_users_directory_id_user_name_key_pattern_index";`);
  }
}
