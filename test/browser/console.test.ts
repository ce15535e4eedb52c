/// <reference lib="dom" />
// The web console as a person uses it, in headless Chromium: sign-in by e-mailed code, the domain capture
// story with the badge turning Verified live, adding, testing and activating SSO through the IdP
// simulator, and the group mappings toggle with its preview. Screenshots of each screen are saved.
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import {
  DomainRefreshDocument,
  MergeProposalApproveDocument,
  MergeProposalCreateDocument,
  DomainsDocument,
  OrganizationsDocument,
  OrganizationWithParentDocument,
} from '../generated/graphql.js';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import { capturedParent } from '../support/identity.js';
import { createOrg, join, mergeLinkToken, person } from '../support/orgs.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';
import {
  chromiumMissing,
  launchChromium,
  screenshot,
  signInThroughPage,
  unlabelledControls,
} from './chromium.js';

if (chromiumMissing) console.warn(`Browser tests skipped: ${chromiumMissing}`);

describe.skipIf(chromiumMissing)('the web console in Chromium', () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    [stack, browser] = await Promise.all([startStack(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  // A script error or a failed request of the page fails the test that caused it.
  let pageErrors: string[] = [];
  afterEach(() => {
    expect(pageErrors).toEqual([]);
    pageErrors = [];
  });

  async function newPage(width = 1100): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height: 900 } });
    const page = await context.newPage();
    onTestFailed(({ task }) => screenshot(page, `failed-${task.name.slice(0, 40).replace(/\W+/g, '-')}`));
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`${message.text()} ${message.location().url}`);
    });
    return page;
  }

  it('signs in with the code from the mail simulator, creates an organization and shows why identity settings are unavailable', async () => {
    const owner = await person(stack, 'console-admin');
    const page = await newPage();
    await signInThroughPage(page, stack, owner.email);
    await page.getByText('You do not belong to any organization yet.').waitFor();
    await page.getByLabel('Organization name').fill('Console Org');
    await page.getByLabel('Kind').selectOption('API_CONSOLE');
    await page.getByRole('button', { name: 'Create organization' }).click();

    await page.getByRole('banner').getByText(owner.email).waitFor();
    await page.getByText('has no parent organization yet').waitFor();
    await page.getByRole('button', { name: 'Contact sales' }).click();
    await page.getByText('Request sent. Sales will reply by e-mail.').waitFor();
    await screenshot(page, 'unavailable');
    expect(await unlabelledControls(page)).toEqual([]);
  });

  it('captures a domain: Add Domain, the TXT record to copy, and the badge turning Verified without a reload', async () => {
    const owner = await person(stack, 'owner', 'browser-capture.com');
    const org = await createOrg(stack, owner.token, 'ENTERPRISE', 'Capture Co');
    const page = await newPage();
    await signInThroughPage(page, stack, owner.email);

    // Keyboard only: the field by its label, Enter submits.
    await page.getByLabel('Domain', { exact: true }).focus();
    await page.keyboard.type('browser-capture.com');
    await page.keyboard.press('Enter');
    const card = page.locator('[data-domain="browser-capture.com"]');
    await card.getByText('Pending').waitFor();
    const recordName = await card.getByRole('textbox', { name: 'Record name' }).inputValue();
    const recordValue = await card.getByRole('textbox', { name: 'Record value' }).inputValue();
    expect(recordName).toBe('_anthropic-challenge.browser-capture.com');
    expect(recordValue).toMatch(/^anthropic-domain-verification=/);
    await screenshot(page, 'domain-pending', '#domains');

    // The admin publishes the record; the check happens elsewhere (here: "Check now" from another tab).
    // This page learns it only from its subscription: a reload would lose the marker.
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    stack.dns.setTxt(recordName, [recordValue]);
    const { organization } = await stack.gqlOk(OrganizationWithParentDocument, { id: org.id }, owner.token);
    const { domains } = await stack.gqlOk(
      DomainsDocument,
      { parentId: organization.parentOrganization!.id },
      owner.token,
    );
    await stack.gqlOk(DomainRefreshDocument, { id: domains.nodes[0]!.id }, owner.token);
    await card.getByText('Verified', { exact: true }).waitFor();
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(
      true,
    );
    expect(await page.locator('#announcer').textContent()).toContain('browser-capture.com is now verified');

    await page.getByRole('button', { name: 'View Domain Memberships' }).click();
    const memberships = page.locator('#domain-memberships');
    await memberships.getByRole('cell', { name: owner.email }).waitFor();
    const csv = memberships.getByRole('link', { name: 'CSV' });
    const download = await Promise.all([page.waitForEvent('download'), csv.click()]).then(([d]) => d);
    const body = await (await download.createReadStream()).toArray();
    expect(Buffer.concat(body).toString()).toContain(owner.email);
    await screenshot(page, 'domains', '#domains');
  });

  it('adds SSO from the IdP metadata URL, tests it in another window, and activates it after the warning', async () => {
    const parent = await capturedParent(stack, 'browser-sso.com', 'SSO Co');
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    const page = await newPage();
    await signInThroughPage(page, stack, parent.owner.email);

    await page.locator('#sso summary').click();
    await page.getByLabel('Name').first().fill('Okta');
    await page.getByLabel('Metadata URL').fill(tenant.metadataUrl);
    await page.getByRole('button', { name: 'Add SSO' }).click();
    const card = page.locator('[data-connection="Okta"]');
    await card.getByText('Draft').waitFor();
    await card.getByText('Not tested yet').waitFor();

    tenant.addUser({ email: parent.owner.email, firstName: 'Olive', lastName: 'Owner', groups: [] });
    tenant.setLoginAs(parent.owner.email);
    await card.getByRole('button', { name: 'Test Okta' }).click();
    const [popup] = await Promise.all([
      page.waitForEvent('popup'),
      card.getByRole('link', { name: 'Open the test sign-in' }).click(),
    ]);
    await popup.getByRole('heading', { name: 'Test succeeded' }).waitFor();
    await popup.close();
    await card.getByText(/^Test succeeded/).waitFor({ timeout: 10_000 });
    await screenshot(page, 'sso', '#sso');

    // Activation asks first, in a modal dialog that takes the focus, and says that sessions end.
    await card.getByRole('button', { name: 'Activate Okta' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog
      .getByText('Every current session of your organization’s users ends, yours included.')
      .waitFor();
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    await dialog.getByRole('button', { name: 'Activate and end sessions' }).click();
    await page.getByText('You are signed out.').waitFor();
    const after = await stack.gql(OrganizationsDocument, { first: 10 }, parent.owner.token);
    expect(after.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('creates a SCIM directory whose token is shown once, and Sync Now brings what the IdP did not push', async () => {
    const parent = await capturedParent(stack, 'browser-scim.com', 'SCIM Co');
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    const page = await newPage();
    await signInThroughPage(page, stack, parent.owner.email);

    const scim = page.locator('#scim');
    await scim.locator('summary').click();
    await scim.getByLabel('Name').fill('Okta');
    await scim.getByLabel('IdP push URL').fill(`${stack.idp.apiUrl}/tenants/${tenant.id}/scim/push`);
    await scim.getByRole('button', { name: 'Create directory' }).click();
    await scim.getByText('it is shown once').waitFor();
    const token = await scim.getByRole('textbox', { name: 'SCIM bearer token' }).inputValue();
    const baseUrl = await scim.getByRole('textbox', { name: 'SCIM base URL' }).inputValue();
    expect(token).toMatch(/^scim_/);
    await screenshot(page, 'scim', '#scim');

    tenant.configureScim({ baseUrl, token, mode: 'okta' });
    tenant.setScimAutoPush(false);
    const employee = `employee@browser-scim.com`;
    tenant.addUser({ email: employee, firstName: 'Em', lastName: 'Ployee', groups: [] });
    await scim.getByRole('button', { name: 'Sync Okta now' }).click();
    await scim.getByText(/Last sync .*: 1 users/).waitFor();
    await page.locator(`[data-member="${employee}"]`).waitFor();

    // The token lives only in the mutation's answer: a reload shows the directory without it.
    await page.reload();
    await scim.locator('[data-directory="Okta"]').waitFor();
    expect(await scim.getByRole('textbox', { name: 'SCIM bearer token' }).count()).toBe(0);
    expect(await page.content()).not.toContain(token);
  });

  it('shows the group names to copy and the impact preview, then turns Advanced Group Mappings on', async () => {
    const owner = await person(stack, 'owner', 'browser-mappings.com');
    const org = await createOrg(stack, owner.token, 'ENTERPRISE', 'Mappings Co');
    const member = await join(stack, org.id, 'MEMBER', owner);
    const page = await newPage();
    await signInThroughPage(page, stack, owner.email);

    const mappings = page.locator('#mappings');
    await mappings.getByRole('textbox', { name: 'ADMIN group' }).waitFor();
    expect(await mappings.getByRole('textbox', { name: 'ADMIN group' }).inputValue()).toMatch(
      /^anthropic-mappings-co[-\w]*-admin$/,
    );
    await mappings.getByText(`${member.email}: loses access (now MEMBER)`).waitFor();
    await screenshot(page, 'group-mappings', '#mappings');

    await mappings.getByRole('switch', { name: 'Advanced Group Mappings' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText(`${member.email}: loses access (now MEMBER)`).waitFor();
    await dialog.getByRole('button', { name: 'Turn on' }).click();
    await mappings.getByText('On: IdP groups decide access and roles.').waitFor();
    expect(await mappings.getByRole('switch').isChecked()).toBe(true);
    await page.locator(`[data-member="${member.email}"]`).waitFor({ state: 'detached' });
    const theirs = await stack.gqlOk(OrganizationsDocument, { first: 10 }, member.token);
    expect(theirs.organizations.edges.map((edge) => edge.node.id)).not.toContain(org.id);
  });

  it('approves a merge proposal from the e-mailed link, through the console', async () => {
    const owner = await person(stack, 'enterprise-owner');
    const enterprise = await createOrg(stack, owner.token, 'ENTERPRISE', 'Merge Enterprise');
    const { organization } = await stack.gqlOk(
      OrganizationWithParentDocument,
      { id: enterprise.id },
      owner.token,
    );
    const admin = await person(stack, 'console-admin');
    const incoming = await createOrg(stack, admin.token, 'API_CONSOLE', 'Merge Console');
    const manager = await stack.signInStaff(
      uniqueEmail('account-manager', 'vendor.example'),
      StaffRole.ACCOUNT_MANAGER,
    );
    await stack.gqlOk(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: incoming.id, targetParentId: organization.parentOrganization!.id } },
      manager.token,
    );
    const [adminToken, ownerToken] = await Promise.all([
      mergeLinkToken(stack, admin.email),
      mergeLinkToken(stack, owner.email),
    ]);

    const page = await newPage();
    await signInThroughPage(page, stack, admin.email);
    await page.goto(`${stack.url}/merge-proposals/review?token=${encodeURIComponent(adminToken)}`);
    await page.getByRole('link', { name: 'Open in the console' }).click();
    await page.getByRole('heading', { name: 'Link Merge Console to Merge Enterprise?' }).waitFor();
    await screenshot(page, 'merge-proposal');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Your side approved').waitFor();
    expect(await page.getByRole('button', { name: 'Approve' }).count()).toBe(0);

    // The other side approves elsewhere; this page learns it from its subscription.
    await stack.gqlOk(MergeProposalApproveDocument, { input: { token: ownerToken } }, owner.token);
    await page.getByText('Status: completed.').waitFor();
    await page.goto(`${stack.url}/console#/org/${incoming.id}`);
    await page.getByText('Shared by every organization of').waitFor();
  });

  it('fits a narrow screen without sideways scrolling', async () => {
    const owner = await person(stack, 'owner', 'browser-narrow.com');
    await createOrg(stack, owner.token, 'ENTERPRISE', 'Narrow Co');
    const page = await newPage(375);
    await signInThroughPage(page, stack, owner.email);
    await page.locator('#members table').waitFor();
    // The skip link moves the focus and leaves the screen as it is (it is not a route).
    await page.locator('#domains').evaluate((section) => section.setAttribute('data-kept', 'yes'));
    await page.getByRole('link', { name: 'Skip to content' }).focus();
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => location.hash)).toBe('#main');
    await page.waitForTimeout(300);
    expect(await page.locator('#domains').getAttribute('data-kept')).toBe('yes');
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    expect(await unlabelledControls(page)).toEqual([]);
    await screenshot(page, 'narrow');
  });
});
