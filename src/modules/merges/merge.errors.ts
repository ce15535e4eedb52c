export enum MergeErrorCode {
  ALREADY_LINKED = 'ALREADY_LINKED',
  NO_APPROVERS = 'NO_APPROVERS',
  PROPOSAL_PENDING = 'PROPOSAL_PENDING',
  /** The incoming organization's own parent holds identity settings that would be orphaned. */
  PARENT_HAS_IDENTITY_SETTINGS = 'PARENT_HAS_IDENTITY_SETTINGS',
  TOKEN_INVALID = 'TOKEN_INVALID',
  TOKEN_USED = 'TOKEN_USED',
  NOT_THE_APPROVER = 'NOT_THE_APPROVER',
  APPROVER_REMOVED = 'APPROVER_REMOVED',
  SIDE_ALREADY_APPROVED = 'SIDE_ALREADY_APPROVED',
  PROPOSAL_NOT_PENDING = 'PROPOSAL_NOT_PENDING',
  PROPOSAL_EXPIRED = 'PROPOSAL_EXPIRED',
  /** The organizations changed since the proposal was sent (for example the incoming one was merged elsewhere). */
  PROPOSAL_STALE = 'PROPOSAL_STALE',
}
