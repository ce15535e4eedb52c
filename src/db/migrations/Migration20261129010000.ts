import { Migration } from '@mikro-orm/migrations';

/**
 * The claims a domain conflicts with are on the name, its ancestors or its subdomains (domain.service.ts).
 * Reversed, a subdomain's name starts with the reversed name and a dot, a prefix this index serves; the
 * name and its ancestors are a few equalities on the same index. Each lookup also fixes the status.
 */
export class Migration20261129010000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create index "domains_status_reverse_name_index" on "domains" ("status", reverse("name") text_pattern_ops);`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists "domains_status_reverse_name_index";`);
  }
}
