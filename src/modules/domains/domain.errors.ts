export enum DomainErrorCode {
  INVALID_DOMAIN = 'INVALID_DOMAIN',
  /** A public suffix (co.uk) or a name under a shared, privately run suffix (github.io). */
  PUBLIC_SUFFIX = 'PUBLIC_SUFFIX',
  /** A consumer mail provider (gmail.com): nobody's company domain. */
  CONSUMER_DOMAIN = 'CONSUMER_DOMAIN',
  DOMAIN_ALREADY_ADDED = 'DOMAIN_ALREADY_ADDED',
  /** Another parent verified this domain, an ancestor or a subdomain of it (who is never said). */
  DOMAIN_CONFLICT = 'DOMAIN_CONFLICT',
  TOO_MANY_PENDING = 'TOO_MANY_PENDING',
  /** The claim is FAILED or UNVERIFIED: it needs a new token (domainRestart). */
  CLAIM_EXPIRED = 'CLAIM_EXPIRED',
  /** domainRestart on a claim that is pending or verified. */
  CLAIM_ACTIVE = 'CLAIM_ACTIVE',
}
