import { Migration } from '@mikro-orm/migrations';

export class Migration20261128200729 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "audit_events" ("id" uuid not null, "occurred_at" timestamptz not null, "actor_type" text check ("actor_type" in ('USER', 'STAFF', 'SYSTEM', 'IDP')) not null, "actor_user_id" uuid null, "actor_email" varchar(254) null, "action" varchar(80) not null, "target_type" varchar(40) not null, "target_id" uuid not null, "organization_id" uuid null, "parent_organization_id" uuid null, "before" jsonb null, "after" jsonb null, "request_id" varchar(64) null, constraint "audit_events_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "audit_events_parent_organization_id_id_index" on "audit_events" ("parent_organization_id", "id");`,
    );
    this.addSql(
      `create index "audit_events_organization_id_id_index" on "audit_events" ("organization_id", "id");`,
    );

    this.addSql(
      `create table "login_codes" ("id" uuid not null, "email" varchar(254) not null, "code_hash" varchar(64) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "attempts" int not null default 0, "consumed_at" timestamptz null, constraint "login_codes_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "login_codes_email_created_at_index" on "login_codes" ("email", "created_at");`,
    );

    this.addSql(
      `create table "mail_outbox" ("id" uuid not null, "to" varchar(254) not null, "subject" varchar(300) not null, "text" text not null, "html" text null, "created_at" timestamptz not null, "next_attempt_at" timestamptz not null, "attempts" int not null default 0, "sent_at" timestamptz null, "last_error" text null, constraint "mail_outbox_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "mail_outbox_sent_at_next_attempt_at_index" on "mail_outbox" ("sent_at", "next_attempt_at");`,
    );

    this.addSql(
      `create table "parent_organizations" ("id" uuid not null, "name" varchar(200) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "parent_organizations_pkey" primary key ("id"));`,
    );

    this.addSql(
      `create table "organizations" ("id" uuid not null, "name" varchar(200) not null, "slug" varchar(48) not null, "kind" text check ("kind" in ('ENTERPRISE', 'API_CONSOLE')) not null, "parent_id" uuid null, "sso_feature_enabled" boolean not null default false, "advanced_group_mappings" boolean not null default false, "jit_default_role" text check ("jit_default_role" in ('PRIMARY_OWNER', 'OWNER', 'ADMIN', 'MEMBER', 'DEVELOPER', 'BILLING', 'USER')) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "organizations_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "organizations" add constraint "organizations_slug_unique" unique ("slug");`);

    this.addSql(
      `create table "users" ("id" uuid not null, "email" varchar(254) not null, "name" varchar(200) null, "staff_role" text check ("staff_role" in ('ACCOUNT_MANAGER', 'SALES')) null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "users_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);

    this.addSql(
      `create table "sessions" ("id" uuid not null, "user_id" uuid not null, "token_hash" varchar(64) not null, "method" text check ("method" in ('EMAIL_CODE', 'INVITATION', 'SSO', 'GOOGLE')) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "revoked_at" timestamptz null, "last_seen_at" timestamptz null, "user_agent" varchar(400) null, "ip" varchar(64) null, constraint "sessions_pkey" primary key ("id"));`,
    );
    this.addSql(`alter table "sessions" add constraint "sessions_token_hash_unique" unique ("token_hash");`);
    this.addSql(`create index "sessions_user_id_revoked_at_index" on "sessions" ("user_id", "revoked_at");`);

    this.addSql(
      `create table "memberships" ("id" uuid not null, "organization_id" uuid not null, "user_id" uuid not null, "role" text check ("role" in ('PRIMARY_OWNER', 'OWNER', 'ADMIN', 'MEMBER', 'DEVELOPER', 'BILLING', 'USER')) not null, "source" text check ("source" in ('CREATOR', 'INVITE', 'JIT', 'SCIM', 'GROUP_MAPPING')) not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "removed_at" timestamptz null, constraint "memberships_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "memberships_user_id_removed_at_index" on "memberships" ("user_id", "removed_at");`,
    );
    this.addSql(
      `alter table "memberships" add constraint "memberships_organization_id_user_id_unique" unique ("organization_id", "user_id");`,
    );

    this.addSql(
      `create table "invitations" ("id" uuid not null, "organization_id" uuid not null, "email" varchar(254) not null, "role" text check ("role" in ('PRIMARY_OWNER', 'OWNER', 'ADMIN', 'MEMBER', 'DEVELOPER', 'BILLING', 'USER')) not null, "token_hash" varchar(64) not null, "invited_by_id" uuid null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "accepted_at" timestamptz null, "revoked_at" timestamptz null, constraint "invitations_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "invitations" add constraint "invitations_token_hash_unique" unique ("token_hash");`,
    );
    this.addSql(
      `create index "invitations_organization_id_email_index" on "invitations" ("organization_id", "email");`,
    );

    this.addSql(
      `alter table "organizations" add constraint "organizations_parent_id_foreign" foreign key ("parent_id") references "parent_organizations" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "sessions" add constraint "sessions_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "memberships" add constraint "memberships_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "memberships" add constraint "memberships_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "invitations" add constraint "invitations_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "invitations" add constraint "invitations_invited_by_id_foreign" foreign key ("invited_by_id") references "users" ("id") on update cascade on delete set null;`,
    );
  }
}
