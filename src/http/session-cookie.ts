import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/config.js';

export function setSessionCookie(
  reply: FastifyReply,
  config: Config['session'],
  token: string,
  expires: Date,
): void {
  reply.setCookie(config.cookieName, token, {
    httpOnly: true,
    secure: config.cookieSecure,
    sameSite: 'lax',
    path: '/',
    expires,
  });
}

export function clearSessionCookie(reply: FastifyReply, config: Config['session']): void {
  reply.clearCookie(config.cookieName, {
    path: '/',
    httpOnly: true,
    secure: config.cookieSecure,
    sameSite: 'lax',
  });
}

/** The session token of a request: `Authorization: Bearer` first, then the cookie. */
export function sessionToken(
  headers: Record<string, string | string[] | undefined>,
  cookies: Record<string, string | undefined>,
  cookieName: string,
): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (match) return match[1];
  }
  return cookies[cookieName];
}

export function requestClient(request: FastifyRequest) {
  const userAgent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof userAgent === 'string' ? userAgent : undefined };
}
