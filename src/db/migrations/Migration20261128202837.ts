import { Migration } from '@mikro-orm/migrations';

export class Migration20261128202837 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `create table "parent_organization_requests" ("id" uuid not null, "organization_id" uuid not null, "requested_by_id" uuid not null, "message" varchar(2000) null, "status" text check ("status" in ('PENDING', 'APPROVED', 'DECLINED')) not null default 'PENDING', "created_at" timestamptz not null, "decided_at" timestamptz null, "decided_by_id" uuid null, "decision_note" varchar(2000) null, "parent_id" uuid null, constraint "parent_organization_requests_pkey" primary key ("id"));`,
    );
    this.addSql(
      `create index "parent_organization_requests_status_id_index" on "parent_organization_requests" ("status", "id");`,
    );

    this.addSql(
      `create table "merge_proposals" ("id" uuid not null, "incoming_organization_id" uuid not null, "target_parent_id" uuid not null, "incoming_parent_at_proposal" uuid null, "proposed_by_id" uuid not null, "status" text check ("status" in ('PENDING', 'COMPLETED', 'REJECTED', 'EXPIRED')) not null, "created_at" timestamptz not null, "expires_at" timestamptz not null, "incoming_approved_by_id" uuid null, "incoming_approved_at" timestamptz null, "target_approved_by_id" uuid null, "target_approved_at" timestamptz null, "decided_at" timestamptz null, "decided_by_id" uuid null, constraint "merge_proposals_pkey" primary key ("id"));`,
    );
    this.addSql(`create index "merge_proposals_status_id_index" on "merge_proposals" ("status", "id");`);

    this.addSql(
      `create table "merge_approvers" ("id" uuid not null, "proposal_id" uuid not null, "user_id" uuid not null, "side" text check ("side" in ('INCOMING', 'TARGET')) not null, "token_hash" varchar(64) not null, "used_at" timestamptz null, constraint "merge_approvers_pkey" primary key ("id"));`,
    );
    this.addSql(
      `alter table "merge_approvers" add constraint "merge_approvers_token_hash_unique" unique ("token_hash");`,
    );
    this.addSql(
      `alter table "merge_approvers" add constraint "merge_approvers_proposal_id_user_id_side_unique" unique ("proposal_id", "user_id", "side");`,
    );

    this.addSql(
      `alter table "parent_organization_requests" add constraint "parent_organization_requests_organization_id_foreign" foreign key ("organization_id") references "organizations" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "parent_organization_requests" add constraint "parent_organization_requests_requested_by_id_foreign" foreign key ("requested_by_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "parent_organization_requests" add constraint "parent_organization_requests_decided_by_id_foreign" foreign key ("decided_by_id") references "users" ("id") on update cascade on delete set null;`,
    );
    this.addSql(
      `alter table "parent_organization_requests" add constraint "parent_organization_requests_parent_id_foreign" foreign key ("parent_id") references "parent_organizations" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "merge_proposals" add constraint "merge_proposals_incoming_organization_id_foreign" foreign key ("incoming_organization_id") references "organizations" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "merge_proposals" add constraint "merge_proposals_target_parent_id_foreign" foreign key ("target_parent_id") references "parent_organizations" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "merge_proposals" add constraint "merge_proposals_proposed_by_id_foreign" foreign key ("proposed_by_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "merge_proposals" add constraint "merge_proposals_incoming_approved_by_id_foreign" foreign key ("incoming_approved_by_id") references "users" ("id") on update cascade on delete set null;`,
    );
    this.addSql(
      `alter table "merge_proposals" add constraint "merge_proposals_target_approved_by_id_foreign" foreign key ("target_approved_by_id") references "users" ("id") on update cascade on delete set null;`,
    );
    this.addSql(
      `alter table "merge_proposals" add constraint "merge_proposals_decided_by_id_foreign" foreign key ("decided_by_id") references "users" ("id") on update cascade on delete set null;`,
    );

    this.addSql(
      `alter table "merge_approvers" add constraint "merge_approvers_proposal_id_foreign" foreign key ("proposal_id") references "merge_proposals" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "merge_approvers" add constraint "merge_approvers_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    // At most one open request and one pending proposal per organization, enforced by the database.
    this.addSql(
      `create unique index "parent_organization_requests_one_pending" on "parent_organization_requests" ("organization_id") where "status" = 'PENDING';`,
    );
    this.addSql(
      `create unique index "merge_proposals_one_pending" on "merge_proposals" ("incoming_organization_id") where "status" = 'PENDING';`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "merge_approvers" drop constraint "merge_approvers_proposal_id_foreign";`);

    this.addSql(`drop table if exists "parent_organization_requests" cascade;`);

    this.addSql(`drop table if exists "merge_proposals" cascade;`);

    this.addSql(`drop table if exists "merge_approvers" cascade;`);
  }
}
