// "Identity provider-initiated login": a response the IdP sends unasked is refused; the app tile's login
// URL is /login?sso=true, a page that explains and starts the SP-initiated login from the e-mail.
import { expect } from 'vitest';
import type { IdpTenant } from '../../../simulators/idp/index.js';
import { MeDocument, type SsoConnectionFieldsFragment } from '../../generated/graphql.js';
import { testAndActivate } from '../../scenarios-support/acts.js';
import {
  browserFor,
  capturedParent,
  type CapturedParent,
  samlConnection,
  samlRoundTrip,
} from '../../support/identity.js';
import type { Browser } from '../../support/browser.js';
import { defineScenario, given } from './scenario.js';

interface State {
  parent?: CapturedParent;
  tenant?: IdpTenant;
  connection?: SsoConnectionFieldsFragment;
  browser?: Browser;
}

export default defineScenario<State>({
  section: 'Identity provider-initiated login',
  title: 'Identity provider-initiated login',
  state: () => ({}),
  steps: [
    {
      name: 'IdP admin sets the login URL of the SSO application to /login?sso=true',
      guide: [
        'When configuring the SSO application in your identity provider, set the login URL to',
        'https://claude.ai/login?sso=true',
        'instead ofhttps://claude.ai/login',
      ],
      async run(world, s) {
        s.parent = await capturedParent(world, 'tile-corp.com', 'Tile Corp');
        s.tenant = await world.idp.createTenant({
          preset: 'okta',
          appLoginUrl: `${world.url}/login?sso=true`,
        });
        s.tenant.addUser({ email: s.parent.owner.email, firstName: 'T', lastName: 'O', groups: [] });
        s.connection = await samlConnection(world, s.parent, s.tenant);
        await testAndActivate(world, s.parent, s.connection, s.tenant);
      },
    },
    {
      name: 'An IdP-initiated login from the tile is refused and sent to /login?sso=true',
      guide: ['Claude does not enable this flow due to security considerations.'],
      async run(world, s) {
        const connection = given(s.connection, 'the connection');
        s.browser = browserFor(world);
        const unsolicited = s.tenant!.samlLoginResponse({
          acsUrl: connection.acsUrl!,
          audience: connection.spEntityId!,
        });
        const refused = await s.browser.postForm(connection.acsUrl!, {
          SAMLResponse: unsolicited.SAMLResponse,
        });
        expect(refused.status).toBe(303);
        expect(refused.headers.get('location')).toBe('/login?sso=true');
        expect(s.browser.cookie('ci_session')).toBeUndefined();
      },
    },
    {
      name: 'Employee clicking the tile lands on a login page that guides them to SSO',
      guide: ['they will be directed to a clear login page that guides them to authenticate via SSO'],
      async run(world, s) {
        const browser = given(s.browser, 'the browser');
        const page = await browser.get(`${world.url}/login?sso=true`);
        const html = await page.text();
        expect(html).toContain('cannot start from your identity provider');
        expect(html).toContain('<form method="post" action="/login">');
        s.tenant!.setLoginAs(s.parent!.owner.email);
        const submitted = await browser.postForm(`${world.url}/login`, {
          email: s.parent!.owner.email,
          sso: 'true',
        });
        const acs = await samlRoundTrip(world, browser, submitted.headers.get('location')!);
        expect(acs.status).toBe(303);
        expect((await world.gqlOk(MeDocument, {}, browser.cookie('ci_session')!)).me?.email).toBe(
          s.parent!.owner.email,
        );
      },
    },
  ],
});
