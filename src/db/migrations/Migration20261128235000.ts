import { Migration } from '@mikro-orm/migrations';

/**
 * Makes the audit log tamper-evident (RL-08). Triggers refuse UPDATE, DELETE and TRUNCATE whatever role the
 * application connects as, its owner included. Every event is chained at commit: per chain (its parent
 * organization, else its own organization, else `global`), seq 1, 2, 3... and hash = SHA-256 over its
 * content, its place and the previous hash. `npm run audit:verify` recomputes the chain
 * (src/modules/audit/audit-chain.ts) and names the first broken link; an owner or superuser who disables
 * the triggers can still edit rows, but not without breaking the chain.
 */
export class Migration20261128235000 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table "audit_events" add column "chain_key" varchar(64) null, add column "seq" bigint null, add column "prev_hash" varchar(64) null, add column "hash" varchar(64) null;`,
    );

    // An organization's events join its parent's chain; those it had before it had a parent stay in its own.
    this
      .addSql(`create function "audit_event_chain_key"(e "audit_events") returns text language sql stable as $$
  select coalesce(
    e.parent_organization_id::text,
    (select o.parent_id::text from "organizations" o where o.id = e.organization_id),
    e.organization_id::text,
    'global')
$$;`);

    // The canonical form is PostgreSQL's text of a JSON array of the fields as text, in a fixed order;
    // audit-chain.ts writes the same array with JSON.stringify to verify without trusting this function.
    this.addSql(`create function "audit_event_hash"(e "audit_events") returns text language sql stable as $$
  select encode(sha256(convert_to(jsonb_build_array(
    e.chain_key, e.seq::text, e.prev_hash, e.id::text,
    to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    e.actor_type, e.actor_user_id::text, e.actor_email, e.action, e.target_type, e.target_id::text,
    e.organization_id::text, e.parent_organization_id::text, e.before::text, e.after::text, e.request_id
  )::text, 'UTF8')), 'hex')
$$;`);

    // Events already written are chained in the order they happened.
    this.addSql(`do $$
declare
  r record;
  current_key text;
  next_seq bigint;
  previous text;
begin
  for r in
    select e.id, "audit_event_chain_key"(e) as chain_key
    from "audit_events" e
    order by 2, e.occurred_at, e.id
  loop
    if current_key is distinct from r.chain_key then
      current_key := r.chain_key;
      next_seq := 0;
      previous := repeat('0', 64);
    end if;
    next_seq := next_seq + 1;
    update "audit_events" set chain_key = r.chain_key, seq = next_seq, prev_hash = previous where id = r.id;
    update "audit_events" e set hash = "audit_event_hash"(e) where e.id = r.id returning e.hash into previous;
  end loop;
end
$$;`);
    this.addSql(
      `alter table "audit_events" add constraint "audit_events_chain_key_seq_unique" unique ("chain_key", "seq");`,
    );
    // The rows the chaining trigger still has to fill, only ever those of transactions not yet committed.
    this.addSql(`create index "audit_events_unchained_index" on "audit_events" ("id") where "hash" is null;`);

    // Chained when the transaction commits, not when the row is inserted: the lock that orders a chain is
    // then held for the commit only, not for the rest of a long transaction (a SCIM sync, a merge). One
    // lock for all chains: a transaction often appends to two (a sign-in's session event is global, its
    // memberships are its parent's), and per-chain locks taken in row order would deadlock such pairs.
    this.addSql(`create function "audit_events_chain"() returns trigger language plpgsql as $$
declare
  head_seq bigint;
  head_hash text;
  chained "audit_events";
begin
  perform pg_advisory_xact_lock('audit_events'::regclass::oid::int, 0);
  chained := new;
  chained.chain_key := "audit_event_chain_key"(new);
  select e.seq, e.hash into head_seq, head_hash
    from "audit_events" e
    where e.chain_key = chained.chain_key
    order by e.seq desc
    limit 1;
  chained.seq := coalesce(head_seq, 0) + 1;
  chained.prev_hash := coalesce(head_hash, repeat('0', 64));
  chained.hash := "audit_event_hash"(chained);
  update "audit_events"
    set chain_key = chained.chain_key, seq = chained.seq, prev_hash = chained.prev_hash, hash = chained.hash
    where id = new.id;
  return null;
end
$$;`);
    this.addSql(
      `create constraint trigger "audit_events_chain" after insert on "audit_events" deferrable initially deferred for each row execute function "audit_events_chain"();`,
    );

    // The one UPDATE allowed is the chaining trigger's: it fills the chain fields of a row of its own
    // transaction, still unchained, and changes nothing else.
    this.addSql(`create function "audit_events_refuse_change"() returns trigger language plpgsql as $$
begin
  if tg_op = 'UPDATE' then
    if old.hash is null
      and to_jsonb(old) - array['chain_key', 'seq', 'prev_hash', 'hash']
        = to_jsonb(new) - array['chain_key', 'seq', 'prev_hash', 'hash'] then
      return new;
    end if;
  end if;
  raise exception 'audit_events is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege',
      hint = 'Audit events can only be inserted and read; npm run audit:verify checks their hash chain.';
end
$$;`);
    this.addSql(
      `create trigger "audit_events_no_update_delete" before update or delete on "audit_events" for each row execute function "audit_events_refuse_change"();`,
    );
    this.addSql(
      `create trigger "audit_events_no_truncate" before truncate on "audit_events" for each statement execute function "audit_events_refuse_change"();`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger if exists "audit_events_no_truncate" on "audit_events";`);
    this.addSql(`drop trigger if exists "audit_events_no_update_delete" on "audit_events";`);
    this.addSql(`drop trigger if exists "audit_events_chain" on "audit_events";`);
    this.addSql(`drop function if exists "audit_events_refuse_change"();`);
    this.addSql(`drop function if exists "audit_events_chain"();`);
    this.addSql(`drop function if exists "audit_event_hash"("audit_events");`);
    this.addSql(`drop function if exists "audit_event_chain_key"("audit_events");`);
    this.addSql(
      `alter table "audit_events" drop column "chain_key", drop column "seq", drop column "prev_hash", drop column "hash";`,
    );
  }
}
