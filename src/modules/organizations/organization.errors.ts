export enum OrganizationErrorCode {
  INVALID_NAME = 'INVALID_NAME',
  INVALID_SLUG = 'INVALID_SLUG',
  SLUG_TAKEN = 'SLUG_TAKEN',
}
