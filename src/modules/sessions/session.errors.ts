export enum SessionErrorCode {
  INVALID_EMAIL = 'INVALID_EMAIL',
  /** Wrong, expired, used or exhausted: one code for all, so a guess learns nothing. */
  INVALID_CODE = 'INVALID_CODE',
  /** The address is on a domain captured by a parent with active SSO: it must sign in there (rule 8). */
  SSO_REQUIRED = 'SSO_REQUIRED',
}
