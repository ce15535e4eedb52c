import { Migration } from '@mikro-orm/migrations';

export class Migration20261128205544 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "sso_consumed_assertions" ("connection_id" uuid not null, "assertion_id" varchar(256) not null, "expires_at" timestamptz not null, constraint "sso_consumed_assertions_pkey" primary key ("connection_id", "assertion_id"));`,
    );

    this.addSql(
      `create table "sso_connections" ("id" uuid not null, "parent_id" uuid not null, "name" varchar(200) not null, "protocol" text check ("protocol" in ('SAML', 'OIDC')) not null, "provider" text check ("provider" in ('OKTA', 'GOOGLE_WORKSPACE', 'ENTRA_ID', 'GENERIC')) not null, "state" text check ("state" in ('DRAFT', 'ACTIVE', 'INACTIVE')) not null default 'DRAFT', "attribute_mapping" jsonb not null, "idp_entity_id" varchar(1024) null, "idp_sso_url" varchar(2048) null, "idp_certificates" jsonb null, "metadata_url" varchar(2048) null, "metadata_xml" text null, "metadata_fetched_at" timestamptz null, "metadata_error" varchar(500) null, "oidc_issuer" varchar(2048) null, "oidc_client_id" varchar(500) null, "oidc_client_secret_encrypted" text null, "last_tested_at" timestamptz null, "last_test_succeeded" boolean null, "last_test_error" varchar(200) null, "activated_at" timestamptz null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "sso_connections_pkey" primary key ("id"));`,
    );

    this.addSql(
      `create table "sso_login_requests" ("id" varchar(64) not null, "connection_id" uuid not null, "browser_hash" varchar(64) not null, "purpose" text check ("purpose" in ('LOGIN', 'TEST')) not null, "tester_id" uuid null, "code_verifier" varchar(128) null, "nonce" varchar(128) null, "login_hint" varchar(254) null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "consumed_at" timestamptz null, constraint "sso_login_requests_pkey" primary key ("id"));`,
    );

    this.addSql(
      `create table "sso_identities" ("id" uuid not null, "connection_id" uuid not null, "subject" varchar(500) not null, "user_id" uuid not null, "email" varchar(254) not null, "profile" jsonb null, "created_at" timestamptz not null, "last_login_at" timestamptz not null, constraint "sso_identities_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "sso_identities" add constraint "sso_identities_connection_id_subject_unique" unique ("connection_id", "subject");`,
    );

    this.addSql(
      `alter table "sso_connections" add constraint "sso_connections_parent_id_foreign" foreign key ("parent_id") references "parent_organizations" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "sso_login_requests" add constraint "sso_login_requests_connection_id_foreign" foreign key ("connection_id") references "sso_connections" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "sso_login_requests" add constraint "sso_login_requests_tester_id_foreign" foreign key ("tester_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "sso_identities" add constraint "sso_identities_connection_id_foreign" foreign key ("connection_id") references "sso_connections" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "sso_identities" add constraint "sso_identities_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(`alter table "organizations" add column "jit_enabled" boolean not null default true;`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table "sso_login_requests" drop constraint "sso_login_requests_connection_id_foreign";`,
    );

    this.addSql(`alter table "sso_identities" drop constraint "sso_identities_connection_id_foreign";`);

    this.addSql(`drop table if exists "sso_consumed_assertions" cascade;`);

    this.addSql(`drop table if exists "sso_connections" cascade;`);

    this.addSql(`drop table if exists "sso_login_requests" cascade;`);

    this.addSql(`drop table if exists "sso_identities" cascade;`);

    this.addSql(`alter table "organizations" drop column "jit_enabled";`);
  }
}
