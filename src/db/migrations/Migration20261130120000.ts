import { Migration } from '@mikro-orm/migrations';

/**
 * A claim's verification token loses its unique index: nothing reads by token, and every background check
 * wrote the index, with its uniqueness check, for nothing (about a tenth of PostgreSQL's time in
 * bench/domain-checks). Tokens are 32 random bytes each, and a record names its claim twice over: it sits
 * on the claimed name and must equal the claim's own token.
 */
export class Migration20261130120000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table "domains" drop constraint "domains_verification_token_unique";`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "domains" add constraint "domains_verification_token_unique" unique ("verification_token");`,
    );
  }
}
