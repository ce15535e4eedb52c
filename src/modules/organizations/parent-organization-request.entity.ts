import { Entity, Enum, Index, ManyToOne, OptionalProps, PrimaryKey, Property, Unique } from '@mikro-orm/core';
import { uuidv7 } from '../../lib/ids.js';
import { User } from '../sessions/user.entity.js';
import { Organization } from './organization.entity.js';
import { ParentOrganization } from './parent-organization.entity.js';

export enum ParentOrganizationRequestStatus {
  PENDING = 'PENDING',
  APPROVED = 'APPROVED',
  DECLINED = 'DECLINED',
}

/** An admin's "contact sales" request for a parent organization; staff with role SALES decide it. */
@Entity({ tableName: 'parent_organization_requests' })
@Index({ properties: ['status', 'id'] })
@Unique({
  name: 'parent_organization_requests_one_pending',
  expression: `create unique index "parent_organization_requests_one_pending" on "parent_organization_requests" ("organization_id") where "status" = 'PENDING'`,
})
export class ParentOrganizationRequest {
  [OptionalProps]?: 'status' | 'decidedAt' | 'decidedBy' | 'decisionNote' | 'parent' | 'message';

  @PrimaryKey({ type: 'uuid' })
  id: string = uuidv7();

  @ManyToOne(() => Organization, { deleteRule: 'cascade' })
  organization: Organization;

  @ManyToOne(() => User, { deleteRule: 'cascade' })
  requestedBy: User;

  @Property({ length: 2000, nullable: true })
  message?: string | null;

  @Enum({ items: () => ParentOrganizationRequestStatus })
  status: ParentOrganizationRequestStatus = ParentOrganizationRequestStatus.PENDING;

  @Property({ type: 'timestamptz' })
  createdAt: Date;

  @Property({ type: 'timestamptz', nullable: true })
  decidedAt?: Date | null;

  @ManyToOne(() => User, { nullable: true, deleteRule: 'set null' })
  decidedBy?: User | null;

  @Property({ length: 2000, nullable: true })
  decisionNote?: string | null;

  /** The parent created on approval. */
  @ManyToOne(() => ParentOrganization, { nullable: true, deleteRule: 'set null' })
  parent?: ParentOrganization | null;

  constructor(organization: Organization, requestedBy: User, now: Date) {
    this.organization = organization;
    this.requestedBy = requestedBy;
    this.createdAt = now;
  }
}
