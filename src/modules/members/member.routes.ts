// The e-mailed invitation link. GET only shows a confirmation (mail scanners follow links, and a GET must
// not consume a single-use token); the POST of that page accepts, signs the invitee in and sets the cookie.
import type { FastifyInstance } from 'fastify';
import { DomainError } from '../../lib/errors.js';
import { page, escapeHtml } from '../../lib/html.js';
import { requestScope } from '../../http/request-scope.js';
import { setSessionCookie } from '../../http/session-cookie.js';
import type { Services } from '../../services.js';

export function memberRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Querystring: { token?: string } }>('/invitations/accept', async (request, reply) => {
    const token = typeof request.query.token === 'string' ? request.query.token : '';
    reply.type('text/html; charset=utf-8');
    return page(
      'Accept invitation',
      `<h1>Join the organization</h1>
       <p>Accepting signs you in with the invited address.</p>
       <form method="post" action="/invitations/accept">
         <input type="hidden" name="token" value="${escapeHtml(token)}">
         <button type="submit">Accept invitation</button>
       </form>`,
    );
  });

  app.post<{ Body: { token?: string } }>('/invitations/accept', async (request, reply) => {
    const token = typeof request.body?.token === 'string' ? request.body.token : '';
    reply.type('text/html; charset=utf-8');
    try {
      // Accepting signs the invited address in, whoever was signed in before.
      const scope = { ...(await requestScope(services, request)), viewer: null };
      const accepted = await services.members.acceptInvitation(scope, token);
      setSessionCookie(reply, services.config.session, accepted.token, accepted.session.expiresAt);
      return page(
        'Invitation accepted',
        `<h1>Welcome to ${escapeHtml(accepted.membership.organization.name)}</h1><p>You are signed in as ${escapeHtml(accepted.user.email)}.</p>`,
      );
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      reply.code(400);
      return page(
        'Invitation not valid',
        `<h1>This invitation cannot be used</h1><p>${escapeHtml(error.message)}</p>`,
      );
    }
  });
}
