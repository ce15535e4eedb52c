// The fetch port of the OIDC relying party: an admin-typed issuer must not make the server call loopback or
// private addresses (unless the deployment allows it, for the simulators), and every call goes through the
// injected fetch.
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/lib/clock.js';
import { OidcClients } from '../../src/modules/sso/oidc/oidc-client.js';
import { SsoRefusedError } from '../../src/modules/sso/sso.errors.js';

const settings = (issuer: string) => ({
  cacheKey: 'test',
  issuer,
  clientId: 'client',
  clientSecret: 'secret',
});

describe('OIDC client fetch port', () => {
  it.each([
    ['loopback', 'https://127.0.0.1:9/idp'],
    ['a private network', 'https://10.1.2.3/idp'],
    ['link-local (cloud metadata)', 'https://169.254.169.254/latest'],
    ['IPv6 loopback', 'https://[::1]/idp'],
  ])('refuses an issuer on %s before any request', async (_name, issuer) => {
    const calls: string[] = [];
    const clients = new OidcClients(
      { allowPrivate: false, fetch: async (url) => (calls.push(String(url)), new Response('{}')) },
      systemClock,
    );
    const error = await clients.configuration(settings(issuer)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SsoRefusedError);
    expect(error).toMatchObject({ reason: 'IDP_ERROR', check: 'endpoint' });
    expect(calls).toEqual([]);
  });

  it('sends discovery of a public https issuer through the injected fetch, and caches the result', async () => {
    const issuer = 'https://203.0.113.10/tenant';
    const calls: string[] = [];
    const metadata = {
      issuer,
      authorization_endpoint: `${issuer}/auth`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      scopes_supported: ['openid', 'email', 'profile'],
    };
    const clients = new OidcClients(
      {
        allowPrivate: false,
        fetch: async (url) => {
          calls.push(String(url));
          return Response.json(metadata);
        },
      },
      systemClock,
    );
    const configuration = await clients.configuration(settings(issuer));
    expect(calls).toEqual([`${issuer}/.well-known/openid-configuration`]);
    expect(await clients.configuration(settings(issuer))).toBe(configuration);
    expect(calls).toHaveLength(1);
    const { url } = await clients.authorizationRequest(configuration, 'https://sp.example/cb', 'a@b.example');
    const params = new URL(url).searchParams;
    expect(params.get('scope')).toBe('openid email profile');
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('login_hint')).toBe('a@b.example');
  });
});
