// One event reaches every subscriber, and the subscribers of one user holding the same document share
// its execution: a thousand tabs on a parent's domain status cost one execution per event, not a
// thousand. Another user's subscription is executed on its own.
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DomainStatusChangedEventType } from '../../src/modules/domains/domain.types.js';
import {
  DomainAddDocument,
  DomainRefreshDocument,
  DomainStatusChangedDocument,
  type DomainStatusChangedSubscription,
  OrganizationWithParentDocument,
} from '../generated/graphql.js';
import { createOrg, join, person } from '../support/orgs.js';
import { startStack, type Stack } from '../support/stack.js';

describe('subscriptions held alike', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await stack?.close();
  });

  it('deliver every event to all, executing it once per user and document', async () => {
    const owner = await person(stack, 'owner', 'shared-subs.com');
    const org = await createOrg(stack, owner.token, 'ENTERPRISE', 'Shared Subs');
    const coOwner = await join(stack, org.id, 'OWNER', owner);
    const parentId = (await stack.gqlOk(OrganizationWithParentDocument, { id: org.id }, owner.token))
      .organization.parentOrganization!.id;

    const received: string[][] = [];
    const subscribers = [owner, owner, owner, coOwner].map((who, index) => {
      received[index] = [];
      const client = stack.ws(who.token);
      const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
      client.subscribe<DomainStatusChangedSubscription>(
        { query: print(DomainStatusChangedDocument), variables: { parentId } },
        {
          next: (value) => received[index]!.push(value.data?.domainStatusChanged.status ?? 'error'),
          error: () => received[index]!.push('error'),
          complete: () => {},
        },
      );
      return connected;
    });
    await Promise.all(subscribers);
    await new Promise((r) => setTimeout(r, 200));

    const executions = vi.spyOn(DomainStatusChangedEventType, 'from');
    const added = (
      await stack.gqlOk(DomainAddDocument, { parentId, input: { name: 'shared-subs.com' } }, owner.token)
    ).domainAdd.domain!;
    stack.dns.setTxt(added.verificationRecord.name, [added.verificationRecord.value]);
    await stack.gqlOk(DomainRefreshDocument, { id: added.id }, owner.token);

    await expect
      .poll(() => received.every((events) => events.includes('VERIFIED')), { timeout: 5_000 })
      .toBe(true);
    expect(received.flat()).not.toContain('error');
    // Two events (added as PENDING, then VERIFIED), each executed once for the owner's three
    // subscriptions and once for the co-owner's.
    expect(received.map((events) => events.length)).toEqual([2, 2, 2, 2]);
    expect(executions).toHaveBeenCalledTimes(4);
  });
});
