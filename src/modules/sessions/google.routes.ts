// "Sign in with Google": the start (to Google, with the pending login sealed in a short-lived cookie) and
// the callback. Only when Google sign-in is configured; otherwise both paths are 404. An address that must
// use SSO, or any other business refusal, goes back to the login page with a message naming the way in.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { requestScope } from '../../http/request-scope.js';
import { setSessionCookie } from '../../http/session-cookie.js';
import { DomainError } from '../../lib/errors.js';
import { escapeHtml, page } from '../../lib/html.js';
import type { Services } from '../../services.js';
import { GOOGLE_PENDING_SECONDS } from '../sso/oidc/google-login.service.js';
import { SsoRefusal, SsoRefusedError } from '../sso/sso.errors.js';

/** The sealed pending Google login of this browser. */
export const GOOGLE_COOKIE = 'ci_google';
const COOKIE_PATH = '/auth/google';

export function googleRoutes(app: FastifyInstance, services: Services): void {
  const secure = services.config.session.cookieSecure;
  const google = services.googleLogin;

  app.get<{ Querystring: { login_hint?: string } }>('/auth/google/login', async (request, reply) => {
    if (!google.enabled) return notConfigured(reply);
    try {
      const hint =
        typeof request.query.login_hint === 'string' ? request.query.login_hint.slice(0, 254) : undefined;
      const { url, pendingCookie } = await google.start(hint);
      // Lax is enough: Google comes back with a top-level GET redirect.
      reply.setCookie(GOOGLE_COOKIE, pendingCookie, {
        httpOnly: true,
        secure,
        sameSite: 'lax',
        path: COOKIE_PATH,
        maxAge: GOOGLE_PENDING_SECONDS,
      });
      return reply.redirect(url, 302);
    } catch (error) {
      if (error instanceof SsoRefusedError) return refused(reply, error);
      throw error;
    }
  });

  app.get('/auth/google/callback', async (request, reply) => {
    if (!google.enabled) return notConfigured(reply);
    const pending = request.cookies[GOOGLE_COOKIE];
    // One use: whatever happens next, this browser's pending login is over.
    reply.clearCookie(GOOGLE_COOKIE, { httpOnly: true, secure, sameSite: 'lax', path: COOKIE_PATH });
    try {
      const scope = { ...(await requestScope(services, request)), viewer: null };
      const query = new URL(request.url, 'http://callback.invalid').searchParams;
      const issued = await google.finish(scope, query, pending);
      setSessionCookie(reply, services.config.session, issued.token, issued.session.expiresAt);
      return reply.redirect('/', 303);
    } catch (error) {
      if (error instanceof DomainError)
        return reply.redirect(`/login?error=${encodeURIComponent(error.message)}`, 303);
      if (error instanceof SsoRefusedError) return refused(reply, error);
      throw error;
    }
  });
}

function notConfigured(reply: FastifyReply) {
  reply.code(404).type('text/html; charset=utf-8');
  return page('Not found', '<h1>Not found</h1><p>Google sign-in is not enabled.</p>');
}

function refused(reply: FastifyReply, error: SsoRefusedError) {
  if (error.reason === SsoRefusal.UNSOLICITED) {
    const message = 'Your Google sign-in expired or was started in another browser. Please try again.';
    return reply.redirect(`/login?error=${encodeURIComponent(message)}`, 303);
  }
  reply.code(403).type('text/html; charset=utf-8');
  return page(
    'Sign-in refused',
    `<h1>Sign-in refused</h1><p>Reason: <code>${escapeHtml(error.reason)}</code></p><p><a href="/login">Back to sign in</a></p>`,
  );
}
