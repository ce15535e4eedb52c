// Two kinds of failure leave a service. A DomainError is an expected business outcome with a code from
// its module's enum: mutations return it in `userErrors`. An AccessError is not business: the API turns
// it into a top-level error with `extensions.code`. Anything else is a bug and is masked.

export type AccessCode = 'UNAUTHENTICATED' | 'FORBIDDEN' | 'NOT_FOUND' | 'BAD_USER_INPUT' | 'RATE_LIMITED';

export class AccessError extends Error {
  constructor(
    readonly code: AccessCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AccessError';
  }
}

export const unauthenticated = () => new AccessError('UNAUTHENTICATED', 'Sign in first.');
export const forbidden = (message = 'You do not have the role this action needs.') =>
  new AccessError('FORBIDDEN', message);
/** Unknown and foreign ids read the same, so ids of other tenants cannot be probed. */
export const notFound = (what: string) => new AccessError('NOT_FOUND', `${what} not found.`);
export const badInput = (message: string, field?: string) =>
  new AccessError('BAD_USER_INPUT', message, field ? { field } : {});

export class DomainError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly field?: string[],
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
