// What a validated ID token says about the user, read through the connection's attribute mapping. The
// checks are the profile's own: a subject, an e-mail the IdP does not call unverified, in canonical form.
import { canonicalEmail, InvalidEmailError } from '../../../lib/names.js';
import type { AttributeMapping } from '../sso-connection.entity.js';
import type { IdpProfile } from '../sso-login.service.js';
import { SsoRefusal, SsoRefusedError } from '../sso.errors.js';
import type { IdTokenClaims } from './oidc-client.js';

/**
 * The IdpProfile of an ID token. `email_verified: false` is refused (an IdP that does not send the claim
 * vouches for its directory); a groups claim that is absent, or not a list of names, is `null` (unknown, as
 * in Entra's overage), never `[]`, so a login cannot remove access it knows nothing about.
 */
export function profileFromClaims(mapping: AttributeMapping, claims: IdTokenClaims): IdpProfile {
  const subject = typeof claims.sub === 'string' ? claims.sub : '';
  if (!subject || subject.length > 500) throw new SsoRefusedError(SsoRefusal.NO_SUBJECT, 'subject');
  return {
    subject,
    email: verifiedEmail(claims, mapping.email, { requireVerified: false }),
    firstName: text(claims[mapping.firstName]),
    lastName: text(claims[mapping.lastName]),
    groups: groups(claims[mapping.groups]),
  };
}

/**
 * The canonical e-mail of the `claim`. With `requireVerified` the IdP must say `email_verified: true`
 * (Google sign-in); otherwise only an explicit `false` is refused.
 */
export function verifiedEmail(
  claims: IdTokenClaims,
  claim: string,
  options: { requireVerified: boolean },
): string {
  const raw = claims[claim];
  if (typeof raw !== 'string' || !raw) throw new SsoRefusedError(SsoRefusal.NO_EMAIL, 'email');
  const verified = claims.email_verified;
  const unverified = verified === false || verified === 'false';
  if (unverified || (options.requireVerified && verified !== true && verified !== 'true')) {
    throw new SsoRefusedError(SsoRefusal.NO_EMAIL, 'emailVerified', raw);
  }
  try {
    return canonicalEmail(raw);
  } catch (error) {
    if (error instanceof InvalidEmailError) throw new SsoRefusedError(SsoRefusal.NO_EMAIL, 'email', raw);
    throw error;
  }
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value.trim().slice(0, 200) : undefined;
}

function groups(value: unknown): string[] | null {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((g) => typeof g === 'string')) return value;
  return null;
}
