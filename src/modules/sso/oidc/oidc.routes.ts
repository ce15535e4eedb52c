// The OIDC endpoints of SSO connections: the SP-initiated start, an admin's test, and the redirect URI.
// They share the SAML routes' browser binding and refusal page: a refused callback signs nobody in and
// shows a stable reason code; an unsolicited one is sent to /login?sso=true.
import type { FastifyInstance } from 'fastify';
import { perClientAddress } from '../../../http/client-limit.js';
import { requestScope } from '../../../http/request-scope.js';
import { isUuid } from '../../../lib/ids.js';
import type { Services } from '../../../services.js';
import { SsoLoginPurpose } from '../sso-login-request.entity.js';
import { BROWSER_COOKIE, browserNonce, refused, signedIn, testStartRoute } from '../sso.routes.js';
import { SsoRefusal, SsoRefusedError } from '../sso.errors.js';

type ConnectionRequest = {
  Params: { id: string };
  Querystring: Record<string, string | string[] | undefined>;
};

export function oidcRoutes(app: FastifyInstance, services: Services): void {
  const secure = services.config.session.cookieSecure;
  const startLimit = perClientAddress(services.rateLimits, 'ssoStartsPerIp');

  app.get<ConnectionRequest>('/sso/oidc/:id/login', { onRequest: startLimit }, async (request, reply) => {
    try {
      if (!isUuid(request.params.id)) throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'start');
      const hint = request.query.login_hint;
      const url = await services.oidcLogin.start(
        services.orm.em.fork(),
        request.params.id,
        browserNonce(request, reply, secure),
        {
          purpose: SsoLoginPurpose.LOGIN,
          loginHint: typeof hint === 'string' ? hint.slice(0, 254) : undefined,
        },
      );
      return reply.redirect(url, 302);
    } catch (error) {
      if (error instanceof SsoRefusedError) return refused(reply, error);
      throw error;
    }
  });

  app.get<{ Params: { id: string } }>(
    '/sso/oidc/:id/test',
    { onRequest: startLimit },
    testStartRoute(services, (scope, id, nonce) => services.oidcLogin.startTest(scope, id, nonce)),
  );

  app.get<ConnectionRequest>('/sso/oidc/:id/callback', async (request, reply) => {
    try {
      if (!isUuid(request.params.id))
        throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'connection');
      const scope = { ...(await requestScope(services, request)), viewer: null };
      const query = new URL(request.url, 'http://callback.invalid').searchParams;
      const outcome = await services.oidcLogin.finish(
        scope,
        request.params.id,
        query,
        request.cookies[BROWSER_COOKIE],
      );
      return signedIn(reply, services, outcome);
    } catch (error) {
      if (error instanceof SsoRefusedError) return refused(reply, error);
      throw error;
    }
  });
}
