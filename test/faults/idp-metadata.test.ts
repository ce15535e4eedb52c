// An IdP's metadata URL breaks after the connection was made from it (RL-13): it answers 500, serves an
// HTML page, sends more than the size cap, or never answers. Each refresh keeps the last good metadata,
// records why it failed on the connection, and SSO logins go on working; a good answer clears the flag.
// Refusals when a connection is first created or edited are in test/integration/sso-connections.test.ts.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdpTenant } from '../../simulators/idp/index.js';
import {
  SsoConnectionCreateDocument,
  type SsoConnectionFieldsFragment,
  SsoConnectionRefreshMetadataDocument,
} from '../generated/graphql.js';
import {
  browserFor,
  type CapturedParent,
  capturedParent,
  samlRoundTrip,
  testAndActivate,
} from '../support/identity.js';
import { sqlRows } from '../support/sql.js';
import { startStack, type Stack, uniqueEmail } from '../support/stack.js';

type Answer = 'metadata' | 'error' | 'html' | 'oversize' | 'stall';

describe('IdP metadata URL failures', () => {
  let stack: Stack;
  let tenant: IdpTenant;
  let answer: Answer = 'metadata';
  const stalled: ServerResponse[] = [];
  // The IdP's metadata endpoint as seen through a proxy this test controls.
  const server = createServer((_request, response) => {
    if (answer === 'stall') return void stalled.push(response);
    if (answer === 'error') return void response.writeHead(500).end('upstream unavailable');
    if (answer === 'html') {
      response.writeHead(200, { 'content-type': 'text/html' });
      return void response.end('<!doctype html><html><body><form>Sign in to continue</form></body></html>');
    }
    response.writeHead(200, { 'content-type': 'application/samlmetadata+xml' });
    const xml = tenant.metadataXml();
    response.end(answer === 'oversize' ? xml.replace('>', `><!--${'x'.repeat(2 * 1024 * 1024)}-->`) : xml);
  });

  beforeAll(async () => {
    stack = await startStack();
    tenant = await stack.idp.createTenant({ preset: 'okta' });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    server.close();
    await stack?.close();
  });

  /** One SP-initiated SAML login through the connection; returns the new session's token. */
  async function ssoLogin(connection: SsoConnectionFieldsFragment, email: string): Promise<string> {
    tenant.setLoginAs(email);
    const browser = browserFor(stack);
    const response = await samlRoundTrip(stack, browser, connection.loginUrl);
    expect(response.headers.get('location')).toBe('/');
    return browser.cookie('ci_session')!;
  }

  async function activeConnection(parent: CapturedParent, metadataUrl: string) {
    tenant.addUser({ email: parent.owner.email, firstName: 'Meta', lastName: 'Data', groups: [] });
    const created = await stack.gqlOk(
      SsoConnectionCreateDocument,
      { parentId: parent.parentId, input: { protocol: 'SAML', provider: 'OKTA', saml: { metadataUrl } } },
      parent.owner.token,
    );
    const connection = created.ssoConnectionCreate.connection!;
    await testAndActivate(stack, parent, connection.id, tenant);
    return connection;
  }

  it('keeps the last good metadata through a 500, an HTML page, an oversize body and a stall, and logins go on', async () => {
    const parent = await capturedParent(stack, 'metadata-corp.com');
    const employee = uniqueEmail('emp', 'metadata-corp.com');
    tenant.addUser({ email: employee, firstName: 'E', lastName: 'M', groups: [] });
    const metadataUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata`;
    const connection = await activeConnection(parent, metadataUrl);
    // Activation ended the owner's console session: from now on the owner signs in through SSO too.
    const owner = await ssoLogin(connection, parent.owner.email);
    const stored = () =>
      sqlRows<{ metadata_xml: string; metadata_fetched_at: Date }>(
        stack.databaseUrl,
        'select metadata_xml, metadata_fetched_at from sso_connections where id = $1',
        [connection.id],
      );
    const lastGood = await stored();

    for (const [fault, code] of [
      ['error', 'METADATA_UNREACHABLE'],
      ['html', 'INVALID_METADATA'],
      ['oversize', 'INVALID_METADATA'],
      ['stall', 'METADATA_UNREACHABLE'],
    ] as const) {
      answer = fault;
      const started = Date.now();
      const refreshed = await stack.gqlOk(SsoConnectionRefreshMetadataDocument, { id: connection.id }, owner);
      const after = refreshed.ssoConnectionRefreshMetadata.connection!;
      expect({ fault, flag: after.metadataError?.split(':')[0] }).toEqual({ fault, flag: code });
      expect(after).toMatchObject({
        state: 'ACTIVE',
        idpEntityId: connection.idpEntityId,
        idpSsoUrl: connection.idpSsoUrl,
        certificates: connection.certificates,
      });
      expect(await stored()).toEqual(lastGood);
      // A stalled URL costs the fetch timeout (10 s), not the refresh's caller forever.
      if (fault === 'stall') expect(Date.now() - started).toBeLessThan(15_000);
      await ssoLogin(connection, employee);
    }
    for (const response of stalled.splice(0)) response.destroy();

    answer = 'metadata';
    const recovered = await stack.gqlOk(SsoConnectionRefreshMetadataDocument, { id: connection.id }, owner);
    expect(recovered.ssoConnectionRefreshMetadata.connection?.metadataError).toBeNull();
    const [fresh] = await stored();
    expect(fresh!.metadata_fetched_at.getTime()).toBeGreaterThan(lastGood[0]!.metadata_fetched_at.getTime());
  });
});
