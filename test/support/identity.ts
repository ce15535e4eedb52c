// Set-ups shared by the SSO scenarios, all through the public API and the simulators: an Enterprise
// owner with a parent whose domain is verified, and an SSO connection to an IdP simulator tenant.
import { expect } from 'vitest';
import type { IdpTenant } from '../../simulators/idp/index.js';
import {
  DomainAddDocument,
  DomainRefreshDocument,
  OrganizationCreateDocument,
  OrganizationsDocument,
  OrganizationWithParentDocument,
  SsoConnectionActivateDocument,
  SsoConnectionCreateDocument,
  type SsoConnectionFieldsFragment,
  SsoConnectionTestDocument,
} from '../generated/graphql.js';
import { Browser } from './browser.js';
import { type Stack, uniqueEmail } from './stack.js';

export interface CapturedParent {
  owner: { email: string; token: string; userId: string };
  organizationId: string;
  parentId: string;
  domain: string;
}

/** An Enterprise organization whose owner's address is on `domain`, verified by DNS. */
export async function capturedParent(
  stack: Stack,
  domain: string,
  name = `Org of ${domain}`,
): Promise<CapturedParent> {
  const email = uniqueEmail('owner', domain);
  const owner = { email, ...(await stack.signIn(email)) };
  const org = (
    await stack.gqlOk(OrganizationCreateDocument, { input: { name, kind: 'ENTERPRISE' } }, owner.token)
  ).organizationCreate.organization!;
  const parentId = (await stack.gqlOk(OrganizationWithParentDocument, { id: org.id }, owner.token))
    .organization.parentOrganization!.id;
  const added = (await stack.gqlOk(DomainAddDocument, { parentId, input: { name: domain } }, owner.token))
    .domainAdd.domain!;
  stack.dns.setTxt(added.verificationRecord.name, [added.verificationRecord.value]);
  const refreshed = await stack.gqlOk(DomainRefreshDocument, { id: added.id }, owner.token);
  expect(refreshed.domainRefresh.domain?.status).toBe('VERIFIED');
  return { owner, organizationId: org.id, parentId, domain };
}

/** A SAML connection created from the tenant's metadata XML. */
export async function samlConnection(
  stack: Stack,
  parent: CapturedParent,
  tenant: IdpTenant,
): Promise<SsoConnectionFieldsFragment> {
  const created = await stack.gqlOk(
    SsoConnectionCreateDocument,
    {
      parentId: parent.parentId,
      input: { protocol: 'SAML', provider: 'OKTA', saml: { metadataXml: tenant.metadataXml() } },
    },
    parent.owner.token,
  );
  expect(created.ssoConnectionCreate.userErrors).toEqual([]);
  return created.ssoConnectionCreate.connection!;
}

/** The admin's path to an active connection: a test login as the owner through the IdP, then activation. */
export async function testAndActivate(
  stack: Stack,
  parent: CapturedParent,
  connectionId: string,
  tenant: IdpTenant,
): Promise<void> {
  tenant.setLoginAs(parent.owner.email);
  const { ssoConnectionTest } = await stack.gqlOk(
    SsoConnectionTestDocument,
    { id: connectionId },
    parent.owner.token,
  );
  const tested = await samlRoundTrip(
    stack,
    browserFor(stack, parent.owner.token),
    ssoConnectionTest.testUrl!,
  );
  expect(tested.status).toBe(200);
  const activated = await stack.gqlOk(
    SsoConnectionActivateDocument,
    { id: connectionId },
    parent.owner.token,
  );
  expect(activated.ssoConnectionActivate.connection?.state).toBe('ACTIVE');
}

/** An employee's SP-initiated SAML sign-in through `connection`; returns the new session token. */
export async function ssoSignIn(
  stack: Stack,
  connection: Pick<SsoConnectionFieldsFragment, 'loginUrl'>,
  tenant: IdpTenant,
  email: string,
): Promise<string> {
  tenant.setLoginAs(email);
  const browser = browserFor(stack);
  const response = await samlRoundTrip(stack, browser, connection.loginUrl);
  expect(response.headers.get('location')).toBe('/');
  return browser.cookie('ci_session')!;
}

/** The organizations a session reaches, by slug, with its role in each. */
export async function rolesBySlug(stack: Stack, session: string): Promise<Record<string, string | null>> {
  const { organizations } = await stack.gqlOk(OrganizationsDocument, { first: 100 }, session);
  return Object.fromEntries(organizations.edges.map((e) => [e.node.slug, e.node.viewerRole]));
}

/** Runs the SP-initiated SAML round trip in `browser` from our start URL; returns our ACS's answer. */
export async function samlRoundTrip(
  stack: Stack,
  browser: Browser,
  startUrl: string,
  email?: string,
): Promise<Response> {
  const start = await browser.get(startUrl);
  expect(start.status).toBe(302);
  const post = await stack.idp.followSamlRedirect(start.headers.get('location')!, email ? { email } : {});
  const fields: Record<string, string> = { SAMLResponse: post.SAMLResponse };
  if (post.RelayState !== undefined) fields.RelayState = post.RelayState;
  return browser.postForm(post.acsUrl, fields);
}

export function browserFor(stack: Stack, sessionToken?: string): Browser {
  const browser = new Browser(stack.url);
  if (sessionToken) browser.setCookie('ci_session', sessionToken);
  return browser;
}
