import { OutboxMail } from '../mail/outbox-mail.entity.js';
import { Domain } from '../modules/domains/domain.entity.js';
import { ConsumedAssertion } from '../modules/sso/consumed-assertion.entity.js';
import { Directory } from '../modules/scim/directory.entity.js';
import { DirectoryGroup, DirectoryGroupMember } from '../modules/scim/directory-group.entity.js';
import { DirectoryUser } from '../modules/scim/directory-user.entity.js';
import { SsoConnection } from '../modules/sso/sso-connection.entity.js';
import { SsoIdentity } from '../modules/sso/sso-identity.entity.js';
import { SsoLoginRequest } from '../modules/sso/sso-login-request.entity.js';
import { AuditEvent } from '../modules/audit/audit-event.entity.js';
import { Invitation } from '../modules/members/invitation.entity.js';
import { Membership } from '../modules/members/membership.entity.js';
import { Organization } from '../modules/organizations/organization.entity.js';
import { ParentOrganization } from '../modules/organizations/parent-organization.entity.js';
import { LoginCode } from '../modules/sessions/login-code.entity.js';
import { Session } from '../modules/sessions/session.entity.js';
import { User } from '../modules/sessions/user.entity.js';
import { MergeApprover } from '../modules/merges/merge-approver.entity.js';
import { MergeProposal } from '../modules/merges/merge-proposal.entity.js';
import { ParentOrganizationRequest } from '../modules/organizations/parent-organization-request.entity.js';

/** Every entity, listed explicitly (no globs: discovery must not depend on the file layout of dist/). */
export const entities = [
  User,
  Session,
  LoginCode,
  ParentOrganization,
  Organization,
  Membership,
  Invitation,
  AuditEvent,
  OutboxMail,
  ParentOrganizationRequest,
  MergeProposal,
  MergeApprover,
  Domain,
  SsoConnection,
  SsoIdentity,
  SsoLoginRequest,
  ConsumedAssertion,
  Directory,
  DirectoryUser,
  DirectoryGroup,
  DirectoryGroupMember,
];
