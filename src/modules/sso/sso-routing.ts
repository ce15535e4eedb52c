// Which sign-in route an e-mail address must take. An address on a verified domain (the longest verified
// match wins) of a parent with an ACTIVE connection must sign in through that connection.
import type { EntityManager } from '@mikro-orm/postgresql';
import { findBySql, type SqlPart } from '../../db/plain-reads.js';
import { DomainError } from '../../lib/errors.js';
import { emailDomain } from '../../lib/names.js';
import { Domain, DomainStatus } from '../domains/domain.entity.js';
import { nameAndAncestors } from '../domains/domain-name.js';
import { SsoConnection, SsoConnectionState, SsoProtocol } from './sso-connection.entity.js';

export interface SsoRoute {
  parentOrganizationId: string;
  connection: SsoConnection;
  /** The verified domain that captured the address. */
  domain: string;
}

/**
 * The query of the verified domain covering `host`, longest match first (every column of the domain);
 * none when `host` has no name a claim could be on (`host` and its ancestors short of the top-level label).
 */
function capturingDomainQuery(host: string): SqlPart | null {
  const candidates = nameAndAncestors(host).slice(0, -1);
  if (candidates.length === 0) return null;
  return {
    sql: 'select * from domains where name = any(?) and status = ? order by length(name) desc limit 1',
    params: [candidates, DomainStatus.VERIFIED],
  };
}

/**
 * A SQL expression, true when `canonicalEmail` is on a verified domain of the parent `parent` names (a
 * value, or a column of the statement the expression is part of), as isOnVerifiedDomain, for reads that
 * fold the check into a statement; none when no domain could cover it.
 */
export function onVerifiedDomainExpression(parent: SqlPart, canonicalEmail: string): SqlPart | null {
  const capturing = capturingDomainQuery(emailDomain(canonicalEmail));
  if (!capturing) return null;
  return {
    sql: `coalesce((select parent_id from (${capturing.sql}) as d) = ${parent.sql}, false)`,
    params: [...capturing.params, ...parent.params],
  };
}

/**
 * The verified domain covering `host`, with its parent. A plain read: it runs on every SCIM write, SSO
 * sign-in and sign-in route decision.
 */
export async function capturingDomain(em: EntityManager, host: string): Promise<Domain | null> {
  const query = capturingDomainQuery(host);
  if (!query) return null;
  const [domain] = await findBySql(em, Domain, query.sql, query.params);
  return domain ?? null;
}

export async function ssoRouteFor(em: EntityManager, canonicalEmail: string): Promise<SsoRoute | null> {
  const domain = await capturingDomain(em, emailDomain(canonicalEmail));
  if (!domain) return null;
  const connection = await em.findOne(
    SsoConnection,
    { parent: domain.parent.id, state: SsoConnectionState.ACTIVE },
    { orderBy: { activatedAt: 'asc' } },
  );
  return connection ? { parentOrganizationId: domain.parent.id, connection, domain: domain.name } : null;
}

/** Whether `email` is on one of the parent's verified domains (or a subdomain of one). */
export async function isOnVerifiedDomain(
  em: EntityManager,
  parentId: string,
  canonicalEmail: string,
): Promise<boolean> {
  const domain = await capturingDomain(em, emailDomain(canonicalEmail));
  return domain?.parent.id === parentId;
}

/** Where a browser starts SP-initiated sign-in through a connection. */
export function ssoLoginUrl(
  publicUrl: string,
  connection: Pick<SsoConnection, 'id' | 'protocol'>,
  loginHint?: string,
): string {
  const path = connection.protocol === SsoProtocol.SAML ? 'saml' : 'oidc';
  const hint = loginHint ? `?login_hint=${encodeURIComponent(loginHint)}` : '';
  return `${publicUrl}/sso/${path}/${connection.id}/login${hint}`;
}

/**
 * Rule 8, for every route that is not SSO (e-mail code, invitation, Google): a captured address is refused
 * with the business error `code`, whose message names the SSO route.
 */
export async function refuseIfSsoRequired(
  em: EntityManager,
  publicUrl: string,
  email: string,
  code: string,
): Promise<void> {
  const route = await ssoRouteFor(em, email);
  if (route) {
    throw new DomainError(
      code,
      `${email} signs in with single sign-on: ${ssoLoginUrl(publicUrl, route.connection, email)}`,
      ['email'],
    );
  }
}
