// The e-mailed approval link. GET shows the proposal and never decides (mail scanners follow links);
// deciding is a POST from that page by the signed-in approver the link was sent to.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { replyAccessStatus } from '../../http/access-status.js';
import { requestScope } from '../../http/request-scope.js';
import { AccessError, DomainError } from '../../lib/errors.js';
import { escapeHtml, page } from '../../lib/html.js';
import type { Services } from '../../services.js';
import { MergeSide } from './merge-proposal.entity.js';

function tokenOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function refusal(reply: FastifyReply, error: unknown): string {
  if (error instanceof DomainError || error instanceof AccessError) {
    if (error instanceof AccessError) replyAccessStatus(reply, error);
    else reply.code(400);
    return page('Merge proposal', `<h1>This cannot be done</h1><p>${escapeHtml(error.message)}</p>`);
  }
  throw error;
}

export function mergeRoutes(app: FastifyInstance, services: Services): void {
  app.get<{ Querystring: { token?: string } }>('/merge-proposals/review', async (request, reply) => {
    const token = tokenOf(request.query.token);
    reply.type('text/html; charset=utf-8');
    try {
      const scope = await requestScope(services, request);
      const { proposal, side, approverEmail } = await services.merges.review(scope, token);
      const signedInAs = scope.viewer?.email;
      const who =
        side === MergeSide.INCOMING
          ? `an admin of ${proposal.incomingOrganization.name}`
          : `an owner of an Enterprise organization of ${proposal.targetParent.name}`;
      const form = (action: string, label: string) =>
        `<form method="post" action="/merge-proposals/${action}"><input type="hidden" name="token" value="${escapeHtml(token)}"><button type="submit">${label}</button></form>`;
      return page(
        'Merge proposal',
        `<h1>Link ${escapeHtml(proposal.incomingOrganization.name)} to ${escapeHtml(proposal.targetParent.name)}?</h1>
         <p>Status: ${proposal.status}. Expires ${proposal.expiresAt.toISOString()}.</p>
         <p>This link was sent to ${escapeHtml(approverEmail)}, as ${escapeHtml(who)}.</p>
         ${
           signedInAs === approverEmail
             ? form('approve', 'Approve') + form('decline', 'Decline')
             : `<p>Sign in as ${escapeHtml(approverEmail)} to approve or decline.</p>`
         }
         <p><a href="/console#/merge/${encodeURIComponent(token)}">Open in the console</a></p>`,
      );
    } catch (error) {
      return refusal(reply, error);
    }
  });

  for (const decision of ['approve', 'decline'] as const) {
    app.post<{ Body: { token?: string } }>(`/merge-proposals/${decision}`, async (request, reply) => {
      reply.type('text/html; charset=utf-8');
      try {
        const scope = await requestScope(services, request);
        const token = tokenOf(request.body?.token);
        const proposal =
          decision === 'approve'
            ? await services.merges.approve(scope, token)
            : await services.merges.decline(scope, token);
        return page(
          'Merge proposal',
          `<h1>Thank you</h1><p>The proposal is now ${proposal.status.toLowerCase()}.</p>`,
        );
      } catch (error) {
        return refusal(reply, error);
      }
    });
  }
}
