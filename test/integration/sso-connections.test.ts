// SSO connection management and life after SSO: metadata by URL with its failure modes, certificate
// rotation, bad input that changes nothing, deactivation, the Entra shape, profile updates, and
// member removal in the console versus removal only in the IdP.
import { createServer, type Server } from 'node:http';
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StaffRole } from '../../src/modules/sessions/user.entity.js';
import {
  DomainRemoveDocument,
  MergeProposalCreateDocument,
  OrganizationCreateDocument,
  OrganizationJitUpdateDocument,
  OrganizationsDocument,
  ParentOrganizationRequestApproveDocument,
  ParentOrganizationRequestDocument,
  DomainsDocument,
  LoginCodeRequestDocument,
  LoginStartDocument,
  MeDocument,
  MemberRemoveDocument,
  MembersDocument,
  OrganizationDocument,
  SsoConnectionActivateDocument,
  SsoConnectionCreateDocument,
  SsoConnectionDeactivateDocument,
  SsoConnectionDocument,
  type SsoConnectionFieldsFragment,
  SsoConnectionRefreshMetadataDocument,
  SsoConnectionUpdateDocument,
} from '../generated/graphql.js';
import type { Browser } from '../support/browser.js';
import {
  browserFor,
  capturedParent,
  samlConnection,
  testAndActivate,
  ssoSignIn,
} from '../support/identity.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

describe('SSO connections', () => {
  let stack: Stack;
  let bigServer: Server;
  let bigUrl: string;

  beforeAll(async () => {
    stack = await startStack();
    // Serves 50 MB of XML-looking bytes, slowly enough to be cut off by the size cap.
    bigServer = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      const chunk = Buffer.alloc(1024 * 1024, 'a');
      let sent = 0;
      const write = () => {
        while (sent < 50 && res.write(chunk)) sent++;
        if (sent >= 50) res.end();
        else res.once('drain', write);
      };
      res.write('<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">');
      write();
    });
    await new Promise<void>((resolve) => bigServer.listen(0, '127.0.0.1', resolve));
    const address = bigServer.address();
    bigUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/metadata`;
  });
  afterAll(async () => {
    bigServer?.close();
    await stack?.close();
  });

  async function pendingLogin(
    connection: SsoConnectionFieldsFragment,
  ): Promise<{ browser: Browser; requestId: string }> {
    const browser = browserFor(stack);
    const start = await browser.get(connection.loginUrl);
    const xml = inflateRawSync(
      Buffer.from(new URL(start.headers.get('location')!).searchParams.get('SAMLRequest')!, 'base64'),
    ).toString();
    return { browser, requestId: /\sID="([^"]+)"/.exec(xml)![1]! };
  }

  it('reads metadata from a URL, keeps the last good copy when the URL fails, and accepts both certificates during a rotation', async () => {
    const parent = await capturedParent(stack, 'rotate-corp.com');
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    const employee = uniqueEmail('emp', 'rotate-corp.com');
    for (const email of [parent.owner.email, employee])
      tenant.addUser({ email, firstName: 'R', lastName: 'C', groups: [] });
    const created = await stack.gqlOk(
      SsoConnectionCreateDocument,
      {
        parentId: parent.parentId,
        input: { protocol: 'SAML', provider: 'OKTA', saml: { metadataUrl: tenant.metadataUrl } },
      },
      parent.owner.token,
    );
    const connection = created.ssoConnectionCreate.connection!;
    expect(connection).toMatchObject({ metadataUrl: tenant.metadataUrl, idpEntityId: tenant.entityId });
    await testAndActivate(stack, parent, connection.id, tenant);
    // Activation ended the owner's session: from now on the owner signs in through SSO too.
    const owner = await ssoSignIn(stack, connection, tenant, parent.owner.email);

    // A response signed with the current key, before the rotation.
    const before = await pendingLogin(connection);
    const oldSigned = tenant.samlLoginResponse({
      requestId: before.requestId,
      acsUrl: connection.acsUrl!,
      audience: connection.spEntityId!,
      email: employee,
    });

    await tenant.rotateSigningKey({ keepOld: true });
    const refreshed = await stack.gqlOk(SsoConnectionRefreshMetadataDocument, { id: connection.id }, owner);
    expect(refreshed.ssoConnectionRefreshMetadata.connection?.certificates).toHaveLength(2);
    // Both keys work during the overlap.
    expect(
      (
        await before.browser.postForm(connection.acsUrl!, { SAMLResponse: oldSigned.SAMLResponse })
      ).headers.get('location'),
    ).toBe('/');
    await ssoSignIn(stack, connection, tenant, employee);

    // The IdP drops the old certificate; after the refresh, only the new key is accepted.
    const stale = await pendingLogin(connection);
    await tenant.rotateSigningKey({ keepOld: false });
    const staleSigned = tenant.samlLoginResponse({
      requestId: stale.requestId,
      acsUrl: connection.acsUrl!,
      audience: connection.spEntityId!,
      email: employee,
    });
    await tenant.rotateSigningKey({ keepOld: false });
    const afterRemoval = await stack.gqlOk(
      SsoConnectionRefreshMetadataDocument,
      { id: connection.id },
      owner,
    );
    expect(afterRemoval.ssoConnectionRefreshMetadata.connection?.certificates).toHaveLength(1);
    const refused = await stale.browser.postForm(connection.acsUrl!, {
      SAMLResponse: staleSigned.SAMLResponse,
    });
    expect(await refused.text()).toContain('SIGNATURE_INVALID');

    // The metadata URL goes away: the refresh reports it and the last good metadata stays in use.
    stack.idp.removeTenant(tenant.id);
    const failed = await stack.gqlOk(SsoConnectionRefreshMetadataDocument, { id: connection.id }, owner);
    expect(failed.ssoConnectionRefreshMetadata.connection).toMatchObject({
      state: 'ACTIVE',
      idpEntityId: tenant.entityId,
    });
    expect(failed.ssoConnectionRefreshMetadata.connection?.metadataError).toMatch(/^METADATA_UNREACHABLE/);
    expect(failed.ssoConnectionRefreshMetadata.connection?.certificates).toHaveLength(1);
  });

  it('refuses bad input with typed errors and leaves the connection unchanged', async () => {
    const parent = await capturedParent(stack, 'badinput-corp.com');
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    const connection = await samlConnection(stack, parent, tenant);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ metadataXml: '<not-metadata/>' }, 'INVALID_METADATA'],
      [{ metadataXml: 'this is not xml <<<' }, 'INVALID_METADATA'],
      [{ metadataXml: `<!DOCTYPE x [<!ENTITY a "b">]>${tenant.metadataXml()}` }, 'INVALID_METADATA'],
      [{ metadataUrl: 'http://127.0.0.1:1/metadata' }, 'METADATA_UNREACHABLE'],
      [{ metadataUrl: `${stack.url}/login` }, 'INVALID_METADATA'],
      [{ metadataUrl: bigUrl }, 'INVALID_METADATA'],
      [{ metadataUrl: 'ftp://example.com/metadata' }, 'INVALID_SETTINGS'],
      [
        { entityId: 'x', ssoUrl: 'https://idp.example/sso', certificates: ['not a certificate'] },
        'INVALID_CERTIFICATE',
      ],
    ];
    for (const [saml, code] of cases) {
      const result = await stack.gqlOk(
        SsoConnectionUpdateDocument,
        { id: connection.id, input: { saml } },
        parent.owner.token,
      );
      expect({ input: saml, code: result.ssoConnectionUpdate.userErrors[0]?.code }).toEqual({
        input: saml,
        code,
      });
    }
    const after = await stack.gqlOk(SsoConnectionDocument, { id: connection.id }, parent.owner.token);
    expect(after.ssoConnection).toEqual(connection);

    // A 50 MB GraphQL body never reaches the resolver.
    const huge = await fetch(`${stack.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${parent.owner.token}` },
      body: JSON.stringify({
        query: 'mutation($x: String) { ssoConnectionDelete(id: $x) { userErrors { code } } }',
        variables: { x: 'a'.repeat(50 * 1024 * 1024) },
      }),
    });
    expect(huge.status).toBe(413);
    expect(
      (await stack.gqlOk(SsoConnectionDocument, { id: connection.id }, parent.owner.token)).ssoConnection.id,
    ).toBe(connection.id);
  });

  it('refuses metadata URLs on private addresses unless configured for the simulators', async () => {
    const strict = await startStack({ instanceOf: stack, env: { SSO_ALLOW_PRIVATE_METADATA_URLS: 'false' } });
    try {
      const parent = await capturedParent(stack, 'strict-corp.com');
      const tenant = await stack.idp.createTenant({ preset: 'okta' });
      for (const url of [
        tenant.metadataUrl,
        'https://127.0.0.1/metadata',
        'https://[::1]/metadata',
        'https://10.1.2.3/metadata',
      ]) {
        const result = await strict.gqlOk(
          SsoConnectionCreateDocument,
          { parentId: parent.parentId, input: { protocol: 'SAML', saml: { metadataUrl: url } } },
          parent.owner.token,
        );
        expect(result.ssoConnectionCreate.userErrors[0]?.code).toBe('METADATA_URL_NOT_ALLOWED');
      }
    } finally {
      await strict.close();
    }
  });

  it('deactivation gives captured addresses their e-mail code back; activation of a changed connection needs a new test', async () => {
    const parent = await capturedParent(stack, 'toggle-corp.com');
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    tenant.addUser({ email: parent.owner.email, firstName: 'T', lastName: 'G', groups: [] });
    const connection = await samlConnection(stack, parent, tenant);
    await testAndActivate(stack, parent, connection.id, tenant);
    const session = await ssoSignIn(stack, connection, tenant, parent.owner.email);
    expect(
      (await stack.gqlOk(LoginCodeRequestDocument, { input: { email: parent.owner.email } })).loginCodeRequest
        .userErrors[0]?.code,
    ).toBe('SSO_REQUIRED');
    await stack.gqlOk(SsoConnectionDeactivateDocument, { id: connection.id }, session);
    expect(
      (await stack.gqlOk(LoginCodeRequestDocument, { input: { email: parent.owner.email } })).loginCodeRequest
        .sent,
    ).toBe(true);
    expect((await stack.gqlOk(LoginStartDocument, { email: parent.owner.email })).loginStart.route).toBe(
      'EMAIL_CODE',
    );
    await stack.gqlOk(
      SsoConnectionUpdateDocument,
      { id: connection.id, input: { name: 'Renamed' } },
      session,
    );
    const again = await stack.gqlOk(SsoConnectionActivateDocument, { id: connection.id }, session);
    expect(again.ssoConnectionActivate.userErrors[0]?.code).toBe('NOT_TESTED');
  });

  it('stops routing a domain to SSO once it is no longer verified', async () => {
    const parent = await capturedParent(stack, 'lapse-corp.com');
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    tenant.addUser({ email: parent.owner.email, firstName: 'L', lastName: 'P', groups: [] });
    const connection = await samlConnection(stack, parent, tenant);
    await testAndActivate(stack, parent, connection.id, tenant);
    const session = await ssoSignIn(stack, connection, tenant, parent.owner.email);
    expect((await stack.gqlOk(LoginStartDocument, { email: parent.owner.email })).loginStart.route).toBe(
      'SSO',
    );
    const domains = await stack.gqlOk(DomainsDocument, { parentId: parent.parentId }, session);
    await stack.gqlOk(DomainRemoveDocument, { id: domains.domains.nodes[0]!.id }, session);
    expect((await stack.gqlOk(LoginStartDocument, { email: parent.owner.email })).loginStart.route).toBe(
      'EMAIL_CODE',
    );
    // The account and its session stay.
    expect((await stack.gqlOk(MeDocument, {}, session)).me?.email).toBe(parent.owner.email);
  });

  it('refuses to merge away an organization whose parent holds an SSO connection', async () => {
    const admin = await stack.signIn(uniqueEmail('console'));
    const consoleOrg = (
      await stack.gqlOk(
        OrganizationCreateDocument,
        { input: { name: 'SSO Console', kind: 'API_CONSOLE' } },
        admin.token,
      )
    ).organizationCreate.organization!;
    const sales = await stack.signInStaff(uniqueEmail('sales', 'vendor.example'), StaffRole.SALES);
    const request = await stack.gqlOk(
      ParentOrganizationRequestDocument,
      { organizationId: consoleOrg.id },
      admin.token,
    );
    const approved = await stack.gqlOk(
      ParentOrganizationRequestApproveDocument,
      { id: request.parentOrganizationRequest.request!.id },
      sales.token,
    );
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    await stack.gqlOk(
      SsoConnectionCreateDocument,
      {
        parentId: approved.parentOrganizationRequestApprove.request!.parentOrganizationId!,
        input: { protocol: 'SAML', name: 'Console IdP', saml: { metadataXml: tenant.metadataXml() } },
      },
      admin.token,
    );
    const target = await capturedParent(stack, 'target-corp.com');
    const manager = await stack.signInStaff(uniqueEmail('am', 'vendor.example'), StaffRole.ACCOUNT_MANAGER);
    const proposal = await stack.gqlOk(
      MergeProposalCreateDocument,
      { input: { incomingOrganizationId: consoleOrg.id, targetParentId: target.parentId } },
      manager.token,
    );
    expect(proposal.mergeProposalCreate).toMatchObject({
      proposal: null,
      userErrors: [{ code: 'PARENT_HAS_IDENTITY_SETTINGS' }],
    });
    expect(proposal.mergeProposalCreate.userErrors[0]?.message).toContain('SSO connection "Console IdP"');
  });

  it('provisions each organization as its JIT settings say, and warns about a signing certificate that expires soon', async () => {
    const parent = await capturedParent(stack, 'jit-corp.com');
    const tenant = await stack.idp.createTenant({
      preset: 'okta',
      certificateValidity: { notAfter: new Date(Date.now() + 10 * 86_400_000) },
    });
    const employee = uniqueEmail('newbie', 'jit-corp.com');
    for (const email of [parent.owner.email, employee])
      tenant.addUser({ email, firstName: 'J', lastName: 'T', groups: [] });
    const connection = await samlConnection(stack, parent, tenant);
    expect(connection.certificateExpiryWarning?.fingerprint).toBe(connection.certificates[0]?.fingerprint);

    const refused = await stack.gqlOk(
      OrganizationJitUpdateDocument,
      { id: parent.organizationId, input: { enabled: true, defaultRole: 'OWNER' } },
      parent.owner.token,
    );
    expect(refused.organizationJitUpdate.userErrors[0]?.code).toBe('INVALID_ROLE');
    const off = await stack.gqlOk(
      OrganizationJitUpdateDocument,
      { id: parent.organizationId, input: { enabled: false } },
      parent.owner.token,
    );
    expect(off.organizationJitUpdate.organization).toMatchObject({
      jitEnabled: false,
      jitDefaultRole: 'MEMBER',
    });
    await testAndActivate(stack, parent, connection.id, tenant);
    const owner = await ssoSignIn(stack, connection, tenant, parent.owner.email);
    const first = await ssoSignIn(stack, connection, tenant, employee);
    expect((await stack.gqlOk(OrganizationsDocument, {}, first)).organizations.edges).toEqual([]);
    await stack.gqlOk(
      OrganizationJitUpdateDocument,
      { id: parent.organizationId, input: { enabled: true } },
      owner,
    );
    const second = await ssoSignIn(stack, connection, tenant, employee);
    expect(
      (await stack.gqlOk(OrganizationsDocument, {}, second)).organizations.edges.map(
        (e) => e.node.viewerRole,
      ),
    ).toEqual(['MEMBER']);
  });

  it('signs in an Entra ID user by persistent NameID and e-mail attribute, and updates the profile at each login', async () => {
    const parent = await capturedParent(stack, 'entra-corp.com');
    const tenant = await stack.idp.createTenant({ preset: 'entra-id' });
    const employee = uniqueEmail('erin', 'entra-corp.com');
    tenant.addUser({ email: parent.owner.email, firstName: 'O', lastName: 'E', groups: [] });
    tenant.addUser({ email: employee, firstName: 'Erin', lastName: 'Before', groups: [] });
    const created = await stack.gqlOk(
      SsoConnectionCreateDocument,
      {
        parentId: parent.parentId,
        input: { protocol: 'SAML', provider: 'ENTRA_ID', saml: { metadataXml: tenant.metadataXml() } },
      },
      parent.owner.token,
    );
    const connection = created.ssoConnectionCreate.connection!;
    expect(connection.attributeMapping.email).toBe(
      'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
    );
    await testAndActivate(stack, parent, connection.id, tenant);
    const first = await ssoSignIn(stack, connection, tenant, employee);
    expect((await stack.gqlOk(MeDocument, {}, first)).me).toMatchObject({
      email: employee,
      name: 'Erin Before',
    });
    tenant.updateUser(employee, { lastName: 'After' });
    const second = await ssoSignIn(stack, connection, tenant, employee);
    expect((await stack.gqlOk(MeDocument, {}, second)).me).toMatchObject({
      email: employee,
      name: 'Erin After',
    });
    // The identity is the connection's subject, not the address: a new address at the IdP (still on the
    // parent's domain) signs in the same account, even when another account holds that address.
    const renamed = uniqueEmail('erin.renamed', 'entra-corp.com');
    await stack.app.orm.em
      .fork()
      .getConnection()
      .execute(
        'insert into users (id, email, created_at, updated_at) values (gen_random_uuid(), ?, now(), now())',
        [renamed],
      );
    tenant.updateUser(employee, { email: renamed });
    const third = await ssoSignIn(stack, connection, tenant, renamed);
    const me = (await stack.gqlOk(MeDocument, {}, third)).me;
    expect(me).toMatchObject({ email: employee, name: 'Erin After' });
    expect(me?.id).toBe((await stack.gqlOk(MeDocument, {}, first)).me?.id);
  });

  it('after SSO, a user removed only in the IdP keeps their session until an admin removes them in the console', async () => {
    const parent = await capturedParent(stack, 'remove-corp.com');
    const tenant = await stack.idp.createTenant({ preset: 'okta' });
    const employee = uniqueEmail('leaver', 'remove-corp.com');
    tenant.addUser({ email: parent.owner.email, firstName: 'O', lastName: 'R', groups: [] });
    tenant.addUser({ email: employee, firstName: 'L', lastName: 'V', groups: [] });
    const connection = await samlConnection(stack, parent, tenant);
    await testAndActivate(stack, parent, connection.id, tenant);
    const ownerSession = await ssoSignIn(stack, connection, tenant, parent.owner.email);
    const employeeSession = await ssoSignIn(stack, connection, tenant, employee);

    tenant.removeUser(employee);
    // "The user will remain logged in until you click Remove."
    expect(
      (await stack.gqlOk(OrganizationDocument, { id: parent.organizationId }, employeeSession)).organization
        .viewerRole,
    ).toBe('MEMBER');
    const members = await stack.gqlOk(
      MembersDocument,
      { organizationId: parent.organizationId, first: 50 },
      ownerSession,
    );
    const userId = members.members.nodes.find((m) => m.user.email === employee)!.user.id;
    await stack.gqlOk(MemberRemoveDocument, { organizationId: parent.organizationId, userId }, ownerSession);
    const refused = await stack.gql(OrganizationDocument, { id: parent.organizationId }, employeeSession);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
