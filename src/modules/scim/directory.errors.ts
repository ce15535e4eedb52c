export enum DirectoryErrorCode {
  INVALID_NAME = 'INVALID_NAME',
  INVALID_PUSH_URL = 'INVALID_PUSH_URL',
}
