// Set-ups shared by the OIDC scenarios, through the public API and the IdP simulator: an OIDC connection to
// a simulator tenant (its client registered there with the connection's redirect URI), and the browser's
// round trip from our start URL through the IdP to our redirect URI.
import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { IdpTenant } from '../../simulators/idp/index.js';
import { SsoConnectionCreateDocument, type SsoConnectionFieldsFragment } from '../generated/graphql.js';
import type { Browser } from './browser.js';
import type { CapturedParent } from './identity.js';
import type { Stack } from './stack.js';

export interface OidcConnection {
  connection: SsoConnectionFieldsFragment;
  clientId: string;
  clientSecret: string;
}

/** An OIDC connection to `tenant`, created through the API; the tenant knows the client and its redirect URI. */
export async function oidcConnection(
  stack: Stack,
  parent: CapturedParent,
  tenant: IdpTenant,
  provider: 'OKTA' | 'GENERIC' | 'ENTRA_ID' | 'GOOGLE_WORKSPACE' = 'OKTA',
): Promise<OidcConnection> {
  const clientId = `console-${randomBytes(4).toString('hex')}`;
  const clientSecret = randomBytes(24).toString('base64url');
  const created = await stack.gqlOk(
    SsoConnectionCreateDocument,
    {
      parentId: parent.parentId,
      input: { protocol: 'OIDC', provider, oidc: { issuer: tenant.oidcIssuer, clientId, clientSecret } },
    },
    parent.owner.token,
  );
  expect(created.ssoConnectionCreate.userErrors).toEqual([]);
  const connection = created.ssoConnectionCreate.connection!;
  tenant.registerOidcClient({ clientId, clientSecret, redirectUris: [connection.redirectUri!] });
  return { connection, clientId, clientSecret };
}

/** Starts at `startUrl` in `browser` and follows the IdP to our redirect URI; returns that URL, not yet visited. */
export async function oidcCallbackUrl(
  stack: Stack,
  browser: Browser,
  startUrl: string,
  redirectUri: string,
): Promise<URL> {
  const start = await browser.get(startUrl);
  expect(start.status).toBe(302);
  return stack.idp.followOidcAuthorization(start.headers.get('location')!, { redirectUri });
}

/** The whole round trip: start, IdP, and our callback's answer. */
export async function oidcRoundTrip(
  stack: Stack,
  browser: Browser,
  startUrl: string,
  redirectUri: string,
): Promise<Response> {
  const callback = await oidcCallbackUrl(stack, browser, startUrl, redirectUri);
  return browser.get(callback.href);
}

/** The reason code our refusal page shows. */
export async function refusalOf(response: Response): Promise<string | undefined> {
  if (response.status >= 300 && response.status < 400) return undefined;
  return /<code>([A-Z_]+)<\/code>/.exec(await response.text())?.[1];
}
