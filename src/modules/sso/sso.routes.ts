// The SSO endpoints protocols need: our SP metadata, the SP-initiated start (and an admin's test), the
// assertion consumer service, and the login pages. A refused response never signs anyone in: the user
// sees a stable reason code, and an unsolicited (IdP-initiated) response is sent to /login?sso=true.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { replyAccessStatus } from '../../http/access-status.js';
import { perClientAddress } from '../../http/client-limit.js';
import { requestScope } from '../../http/request-scope.js';
import { setSessionCookie } from '../../http/session-cookie.js';
import { AccessError, DomainError } from '../../lib/errors.js';
import { escapeHtml, page } from '../../lib/html.js';
import { isUuid } from '../../lib/ids.js';
import { randomToken } from '../../lib/secrets.js';
import type { Scope } from '../../lib/scope.js';
import type { Services } from '../../services.js';
import { serviceProviderMetadata } from './saml/saml-entities.js';
import { SsoConnection } from './sso-connection.entity.js';
import { SsoLoginPurpose } from './sso-login-request.entity.js';
import { LoginRoute, type SsoOutcome } from './sso-login.service.js';
import { SsoRefusal, SsoRefusedError } from './sso.errors.js';

/** The cookie binding a pending SSO login to the browser that started it. */
export const BROWSER_COOKIE = 'ci_sso';

export function browserNonce(request: FastifyRequest, reply: FastifyReply, secure: boolean): string {
  const existing = request.cookies[BROWSER_COOKIE];
  if (existing && /^[A-Za-z0-9_-]{20,100}$/.test(existing)) return existing;
  const nonce = randomToken(24);
  // SameSite=None: the IdP's form POST to the ACS is a cross-site request that must carry it.
  reply.setCookie(BROWSER_COOKIE, nonce, {
    httpOnly: true,
    secure,
    sameSite: secure ? 'none' : 'lax',
    path: '/sso',
  });
  return nonce;
}

/** An admin's test login that cannot start: not signed in, not an admin, or no such connection. */
function testRefused(reply: FastifyReply, error: AccessError) {
  replyAccessStatus(reply, error).type('text/html; charset=utf-8');
  return page('Test refused', `<h1>Cannot test this connection</h1><p>${escapeHtml(error.message)}</p>`);
}

/** The route of an admin's test login, for either protocol: off to the IdP, or a refusal page. */
export function testStartRoute(
  services: Services,
  startTest: (scope: Scope, connectionId: string, browserNonce: string) => Promise<string>,
) {
  const secure = services.config.session.cookieSecure;
  return async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    try {
      const scope = await requestScope(services, request);
      const url = await startTest(scope, request.params.id, browserNonce(request, reply, secure));
      return reply.redirect(url, 302);
    } catch (error) {
      if (error instanceof AccessError) return testRefused(reply, error);
      if (error instanceof SsoRefusedError) return refused(reply, error);
      throw error;
    }
  };
}

export function refused(reply: FastifyReply, error: SsoRefusedError) {
  if (error.reason === SsoRefusal.UNSOLICITED) return reply.redirect('/login?sso=true', 303);
  reply.code(error.reason === SsoRefusal.CONNECTION_NOT_ENABLED ? 404 : 403).type('text/html; charset=utf-8');
  return page(
    'Sign-in refused',
    `<h1>Sign-in refused</h1><p>Reason: <code>${escapeHtml(error.reason)}</code></p><p><a href="/login">Back to sign in</a></p>`,
  );
}

/**
 * Ends a login both protocols finished: an admin's test shows its result and changes no session; a user's
 * login sets the session and goes to a fixed destination, never one taken from the request.
 */
export function signedIn(reply: FastifyReply, services: Services, outcome: SsoOutcome) {
  if (outcome.kind === 'test') {
    reply.type('text/html; charset=utf-8');
    return page(
      'SSO test succeeded',
      `<h1>Test succeeded</h1><p>${escapeHtml(outcome.connection.name)} signed in ${escapeHtml(outcome.email)}. You can now activate the connection; no session was changed.</p><p><a href="/console">Back to the console</a></p>`,
    );
  }
  setSessionCookie(reply, services.config.session, outcome.issued.token, outcome.issued.session.expiresAt);
  return reply.redirect('/', 303);
}

export function ssoRoutes(app: FastifyInstance, services: Services): void {
  const secure = services.config.session.cookieSecure;
  const startLimit = perClientAddress(services.rateLimits, 'ssoStartsPerIp');

  app.get<{ Params: { id: string } }>('/sso/saml/:id/metadata', async (request, reply) => {
    const connection = isUuid(request.params.id)
      ? await services.orm.em.fork().findOne(SsoConnection, request.params.id)
      : null;
    if (!connection)
      return reply.code(404).send({ error: { code: 'NOT_FOUND', message: 'SSO connection not found.' } });
    reply.type('application/samlmetadata+xml');
    return serviceProviderMetadata({
      entityId: services.ssoConnections.spEntityId(connection),
      acsUrl: services.ssoConnections.acsUrl(connection),
    });
  });

  app.get<{ Params: { id: string }; Querystring: { login_hint?: string } }>(
    '/sso/saml/:id/login',
    { onRequest: startLimit },
    async (request, reply) => {
      if (!isUuid(request.params.id))
        return refused(reply, new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'start'));
      try {
        const hint =
          typeof request.query.login_hint === 'string' ? request.query.login_hint.slice(0, 254) : undefined;
        const url = await services.ssoLogin.start(
          services.orm.em.fork(),
          request.params.id,
          browserNonce(request, reply, secure),
          {
            purpose: SsoLoginPurpose.LOGIN,
            loginHint: hint,
          },
        );
        return reply.redirect(url, 302);
      } catch (error) {
        if (error instanceof SsoRefusedError) return refused(reply, error);
        throw error;
      }
    },
  );

  app.get<{ Params: { id: string } }>(
    '/sso/saml/:id/test',
    { onRequest: startLimit },
    testStartRoute(services, (scope, id, nonce) => services.ssoLogin.startTest(scope, id, nonce)),
  );

  app.post<{ Params: { id: string }; Body: { SAMLResponse?: string; RelayState?: string } }>(
    '/sso/saml/:id/acs',
    async (request, reply) => {
      const samlResponse = typeof request.body?.SAMLResponse === 'string' ? request.body.SAMLResponse : '';
      try {
        if (!isUuid(request.params.id))
          throw new SsoRefusedError(SsoRefusal.CONNECTION_NOT_ENABLED, 'connection');
        const scope = { ...(await requestScope(services, request)), viewer: null };
        const outcome = await services.ssoLogin.finishSaml(
          scope,
          request.params.id,
          samlResponse,
          request.cookies[BROWSER_COOKIE],
        );
        // RelayState is only ever our opaque key, never a destination.
        return signedIn(reply, services, outcome);
      } catch (error) {
        if (error instanceof SsoRefusedError) return refused(reply, error);
        throw error;
      }
    },
  );

  app.get<{ Querystring: { sso?: string; error?: string } }>('/login', async (request, reply) => {
    const sso = request.query.sso === 'true';
    reply.type('text/html; charset=utf-8');
    return page(
      'Sign in',
      `<h1>Sign in</h1>
       ${
         sso
           ? "<p>Your organization signs in with single sign-on (SSO). For your security, sign-in cannot start from your identity provider's app tile: enter your work e-mail and we will send you to your identity provider.</p>"
           : ''
       }
       ${request.query.error ? `<p role="alert">${escapeHtml(request.query.error)}</p>` : ''}
       <form method="post" action="/login">
         <label for="email">Work e-mail</label>
         <input id="email" name="email" type="email" autocomplete="email" required>
         <input type="hidden" name="sso" value="${sso ? 'true' : 'false'}">
         <button type="submit">Continue</button>
       </form>`,
    );
  });

  app.post<{ Body: { email?: string; sso?: string } }>('/login', async (request, reply) => {
    const email = typeof request.body?.email === 'string' ? request.body.email : '';
    const scope = await requestScope(services, request);
    try {
      const start = await services.ssoLogin.loginStart(scope.em, email);
      if (start.route === LoginRoute.SSO) return reply.redirect(start.ssoUrl!, 303);
      await services.sessions.requestLoginCode(scope, email);
      reply.type('text/html; charset=utf-8');
      return page(
        'Check your e-mail',
        `${request.body?.sso === 'true' ? '<p>There is no single sign-on for this address, so we e-mailed you a sign-in code instead.</p>' : ''}
         <h1>Check your e-mail</h1>
         <form method="post" action="/login/code">
           <input type="hidden" name="email" value="${escapeHtml(email)}">
           <label for="code">Sign-in code</label>
           <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
           <button type="submit">Sign in</button>
         </form>`,
      );
    } catch (error) {
      if (error instanceof DomainError || error instanceof AccessError) {
        return reply.redirect(`/login?error=${encodeURIComponent(error.message)}`, 303);
      }
      throw error;
    }
  });

  app.post<{ Body: { email?: string; code?: string } }>('/login/code', async (request, reply) => {
    const scope = await requestScope(services, request);
    try {
      const issued = await services.sessions.verifyLoginCode(
        scope,
        String(request.body?.email ?? ''),
        String(request.body?.code ?? ''),
      );
      setSessionCookie(reply, services.config.session, issued.token, issued.session.expiresAt);
      return reply.redirect('/', 303);
    } catch (error) {
      if (error instanceof DomainError)
        return reply.redirect(`/login?error=${encodeURIComponent(error.message)}`, 303);
      throw error;
    }
  });
}
