// The event bus for live updates (GraphQL subscriptions): in-process, or through Redis between instances
// (redis-events.ts). Services publish after their transaction commits, so subscribers never see a change
// that was rolled back.
import { setMaxListeners } from 'node:events';
import { createPubSub } from '@graphql-yoga/subscription';
import type { MergeProposalStatus } from '../modules/merges/merge-proposal.entity.js';
import type { MemberRole } from '../modules/organizations/roles.js';

export enum MembershipChange {
  ADDED = 'ADDED',
  ROLE_CHANGED = 'ROLE_CHANGED',
  REMOVED = 'REMOVED',
}

export interface MembershipChangedEvent {
  organizationId: string;
  membershipId: string;
  userId: string;
  email: string;
  change: MembershipChange;
  role: MemberRole;
  occurredAt: Date;
}

export interface MergeProposalUpdatedEvent {
  proposalId: string;
  status: MergeProposalStatus;
  incomingApprovedAt: Date | null;
  targetApprovedAt: Date | null;
}

export interface DomainStatusChangedEvent {
  parentOrganizationId: string;
  domainId: string;
  name: string;
  /** A DomainStatus, or REMOVED. */
  status: string;
  lastCheckOutcome: string | null;
  occurredAt: Date;
}

export interface DirectoryStatusChangedEvent {
  parentOrganizationId: string;
  directoryId: string;
  lastSyncAt: Date | null;
  users: number;
  groups: number;
  errors: string[];
}

export type EventTopics = {
  /** Every session of the user was revoked: live connections (subscriptions) of the user must close. */
  USER_SESSIONS_REVOKED: [userId: string];
  DIRECTORY_STATUS_CHANGED: [parentOrganizationId: string, event: DirectoryStatusChangedEvent];
  DOMAIN_STATUS_CHANGED: [parentOrganizationId: string, event: DomainStatusChangedEvent];
  MEMBERSHIP_CHANGED: [organizationId: string, event: MembershipChangedEvent];
  MERGE_PROPOSAL_UPDATED: [proposalId: string, event: MergeProposalUpdatedEvent];
};

export type EventBus = ReturnType<typeof createEventBus>;

export function createEventBus(eventTarget?: EventTarget) {
  const target = eventTarget ?? new EventTarget();
  // Each subscriber of a topic is one listener: a thousand on one parent's domains is use, not a leak.
  if (!eventTarget) setMaxListeners(0, target);
  return createPubSub<EventTopics>({ eventTarget: target });
}
