export enum SsoErrorCode {
  INVALID_NAME = 'INVALID_NAME',
  INVALID_METADATA = 'INVALID_METADATA',
  METADATA_UNREACHABLE = 'METADATA_UNREACHABLE',
  METADATA_URL_NOT_ALLOWED = 'METADATA_URL_NOT_ALLOWED',
  INVALID_CERTIFICATE = 'INVALID_CERTIFICATE',
  INVALID_SETTINGS = 'INVALID_SETTINGS',
  /** Activation needs a successful test login by an admin after the last change. */
  NOT_TESTED = 'NOT_TESTED',
  /** The connection is already in the state asked for. */
  ALREADY_IN_STATE = 'ALREADY_IN_STATE',
  /** The parent has no verified domain: there is nothing for SSO to capture. */
  NO_VERIFIED_DOMAIN = 'NO_VERIFIED_DOMAIN',
  /** Another connection of the parent is already active. */
  ANOTHER_CONNECTION_ACTIVE = 'ANOTHER_CONNECTION_ACTIVE',
}

/**
 * Why an SSO response was refused: stable codes, logged with the check that refused and shown to the
 * user only as this code.
 */
export enum SsoRefusal {
  OVERSIZE = 'OVERSIZE',
  MALFORMED = 'MALFORMED',
  DOCTYPE_FORBIDDEN = 'DOCTYPE_FORBIDDEN',
  SCHEMA_INVALID = 'SCHEMA_INVALID',
  MULTIPLE_ASSERTIONS = 'MULTIPLE_ASSERTIONS',
  ENCRYPTED_ASSERTION_UNSUPPORTED = 'ENCRYPTED_ASSERTION_UNSUPPORTED',
  STATUS_NOT_SUCCESS = 'STATUS_NOT_SUCCESS',
  UNSOLICITED = 'UNSOLICITED',
  CONNECTION_NOT_ENABLED = 'CONNECTION_NOT_ENABLED',
  SIGNATURE_INVALID = 'SIGNATURE_INVALID',
  WRAPPING_ATTACK = 'WRAPPING_ATTACK',
  ISSUER_MISMATCH = 'ISSUER_MISMATCH',
  AUDIENCE_MISMATCH = 'AUDIENCE_MISMATCH',
  RECIPIENT_MISMATCH = 'RECIPIENT_MISMATCH',
  DESTINATION_MISMATCH = 'DESTINATION_MISMATCH',
  NO_TIME_BOUNDS = 'NO_TIME_BOUNDS',
  EXPIRED = 'EXPIRED',
  NOT_YET_VALID = 'NOT_YET_VALID',
  REPLAY = 'REPLAY',
  NO_SUBJECT = 'NO_SUBJECT',
  NO_EMAIL = 'NO_EMAIL',
  EMAIL_NOT_IN_VERIFIED_DOMAIN = 'EMAIL_NOT_IN_VERIFIED_DOMAIN',
  /** The parent's SCIM directory deactivated this user: SSO must not let them back in. */
  DEPROVISIONED = 'DEPROVISIONED',
  /** OIDC */
  STATE_MISMATCH = 'STATE_MISMATCH',
  TOKEN_INVALID = 'TOKEN_INVALID',
  IDP_ERROR = 'IDP_ERROR',
}

/** Thrown by a check of the SSO pipeline; the route turns it into a refusal page or redirect. */
export class SsoRefusedError extends Error {
  constructor(
    readonly reason: SsoRefusal,
    /** The name of the check that refused, for the log. */
    readonly check: string,
    detail?: string,
  ) {
    super(`${reason} (${check})${detail ? `: ${detail}` : ''}`);
    this.name = 'SsoRefusedError';
  }
}
