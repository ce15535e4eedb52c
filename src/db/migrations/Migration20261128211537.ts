import { Migration } from '@mikro-orm/migrations';

export class Migration20261128211537 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "directories" ("id" uuid not null, "parent_id" uuid not null, "name" varchar(200) not null, "provider" text check ("provider" in ('OKTA', 'ENTRA_ID', 'GOOGLE_WORKSPACE', 'GENERIC')) not null, "token_hash" varchar(64) not null, "previous_token_hash" varchar(64) null, "previous_token_expires_at" timestamptz null, "push_url" varchar(2048) null, "last_request_at" timestamptz null, "last_sync_at" timestamptz null, "last_sync" jsonb null, "last_errors" jsonb null, "created_at" timestamptz not null, constraint "directories_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "directories" add constraint "directories_token_hash_unique" unique ("token_hash");`,
    );

    this.addSql(
      `create table "directory_groups" ("id" uuid not null, "directory_id" uuid not null, "display_name" varchar(500) not null, "external_id" varchar(500) null, "version" int not null default 1, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "directory_groups_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "directory_groups_directory_id_id_index" on "directory_groups" ("directory_id", "id");`,
    );

    this.addSql(
      `create table "directory_users" ("id" uuid not null, "directory_id" uuid not null, "user_name" varchar(500) not null, "user_name_key" varchar(500) not null, "external_id" varchar(500) null, "active" boolean not null default true, "given_name" varchar(200) null, "family_name" varchar(200) null, "display_name" varchar(400) null, "emails" jsonb not null default '[]', "extra" jsonb null, "user_id" uuid null, "version" int not null default 1, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "directory_users_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "directory_users_directory_id_id_index" on "directory_users" ("directory_id", "id");`,
    );
    this.addSql(
      `alter table "directory_users" add constraint "directory_users_directory_id_user_name_key_unique" unique ("directory_id", "user_name_key");`,
    );

    this.addSql(
      `create table "directory_group_members" ("id" uuid not null, "group_id" uuid not null, "member_id" uuid not null, constraint "directory_group_members_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "directory_group_members_member_id_index" on "directory_group_members" ("member_id");`,
    );
    this.addSql(
      `alter table "directory_group_members" add constraint "directory_group_members_group_id_member_id_unique" unique ("group_id", "member_id");`,
    );

    this.addSql(
      `alter table "directories" add constraint "directories_parent_id_foreign" foreign key ("parent_id") references "parent_organizations" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "directory_groups" add constraint "directory_groups_directory_id_foreign" foreign key ("directory_id") references "directories" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "directory_users" add constraint "directory_users_directory_id_foreign" foreign key ("directory_id") references "directories" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "directory_users" add constraint "directory_users_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "directory_group_members" add constraint "directory_group_members_group_id_foreign" foreign key ("group_id") references "directory_groups" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "directory_group_members" add constraint "directory_group_members_member_id_foreign" foreign key ("member_id") references "directory_users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "memberships" add column "removal_reason" text check ("removal_reason" in ('CONSOLE', 'DEPROVISIONED')) null;`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "directory_groups" drop constraint "directory_groups_directory_id_foreign";`);

    this.addSql(`alter table "directory_users" drop constraint "directory_users_directory_id_foreign";`);

    this.addSql(
      `alter table "directory_group_members" drop constraint "directory_group_members_group_id_foreign";`,
    );

    this.addSql(
      `alter table "directory_group_members" drop constraint "directory_group_members_member_id_foreign";`,
    );

    this.addSql(`drop table if exists "directories" cascade;`);

    this.addSql(`drop table if exists "directory_groups" cascade;`);

    this.addSql(`drop table if exists "directory_users" cascade;`);

    this.addSql(`drop table if exists "directory_group_members" cascade;`);

    this.addSql(`alter table "memberships" drop column "removal_reason";`);
  }
}
