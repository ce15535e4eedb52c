export enum SessionErrorCode {
  INVALID_EMAIL = 'INVALID_EMAIL',
  /** Wrong, expired, used or exhausted: one code for all, so a guess learns nothing. */
  INVALID_CODE = 'INVALID_CODE',
}
