// Every scenario, in the guide's order.
import parentOrganizations from './01-parent-organizations.js';
import contactSales from './02-contact-sales.js';
import domainCapture from './03-domain-capture.js';
import domainMemberships from './04-domain-memberships.js';
import addingSso from './05-adding-sso.js';
import idpInitiatedLogin from './06-idp-initiated-login.js';
import testingSso from './07-testing-sso.js';
import membersBeforeSso from './08-members-before-sso.js';
import membersAfterSso from './09-members-after-sso.js';
import scim from './10-scim.js';
import manualSync from './11-manual-sync.js';
import groupMappingsSaml from './12-group-mappings-saml.js';
import groupMappingsScim from './13-group-mappings-scim.js';
import troubleshooting from './14-troubleshooting.js';
import type { Scenario } from './scenario.js';

export const scenarios: Array<Scenario<never>> = [
  parentOrganizations,
  contactSales,
  domainCapture,
  domainMemberships,
  addingSso,
  idpInitiatedLogin,
  testingSso,
  membersBeforeSso,
  membersAfterSso,
  scim,
  manualSync,
  groupMappingsSaml,
  groupMappingsScim,
  troubleshooting,
] as Array<Scenario<never>>;
