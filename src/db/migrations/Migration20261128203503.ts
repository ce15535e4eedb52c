import { Migration } from '@mikro-orm/migrations';

export class Migration20261128203503 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "domains" ("id" uuid not null, "parent_id" uuid not null, "name" varchar(253) not null, "status" text check ("status" in ('PENDING', 'VERIFIED', 'FAILED', 'UNVERIFIED', 'BLOCKED')) not null default 'PENDING', "verification_token" varchar(64) not null, "created_at" timestamptz not null, "claim_started_at" timestamptz not null, "status_changed_at" timestamptz not null, "verified_at" timestamptz null, "last_checked_at" timestamptz null, "last_check_outcome" text check ("last_check_outcome" in ('FOUND', 'ABSENT', 'MISMATCH', 'DNS_ERROR')) null, "last_check_detail" varchar(64) null, "next_check_at" timestamptz null, "absent_checks" int not null default 0, "absent_since" timestamptz null, constraint "domains_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "domains" add constraint "domains_verification_token_unique" unique ("verification_token");`,
    );
    this.addSql(
      `create index "domains_status_next_check_at_index" on "domains" ("status", "next_check_at");`,
    );
    this.addSql(
      `create unique index "domains_one_verified" on "domains" ("name") where "status" = 'VERIFIED';`,
    );
    this.addSql(
      `alter table "domains" add constraint "domains_parent_id_name_unique" unique ("parent_id", "name");`,
    );

    this.addSql(
      `alter table "domains" add constraint "domains_parent_id_foreign" foreign key ("parent_id") references "parent_organizations" ("id") on update cascade on delete cascade;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "domains" cascade;`);
  }
}
