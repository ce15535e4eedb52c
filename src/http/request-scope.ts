import type { FastifyRequest } from 'fastify';
import type { Scope } from '../lib/scope.js';
import type { Services } from '../services.js';
import { requestClient, sessionToken } from './session-cookie.js';

/** The scope of one HTTP request: its own EntityManager fork and the viewer read from its session, now. */
export async function requestScope(services: Services, request: FastifyRequest): Promise<Scope> {
  const em = services.orm.em.fork();
  const token = sessionToken(request.headers, request.cookies, services.config.session.cookieName);
  const viewer = await services.sessions.authenticate(em, token);
  return { em, viewer, requestId: request.id, client: requestClient(request) };
}
