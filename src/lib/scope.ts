import type { EntityManager } from '@mikro-orm/postgresql';
import type { StaffRole } from '../modules/sessions/user.entity.js';

/** The signed-in user of a request, read from the session at every request (never cached across requests). */
export interface Viewer {
  userId: string;
  email: string;
  staffRole: StaffRole | null;
  sessionId: string;
}

/** What a service needs to know about the request it serves: its own EntityManager fork, who asks, and the id to audit. */
export interface Scope {
  em: EntityManager;
  viewer: Viewer | null;
  requestId: string;
  /** Client facts recorded on sessions. */
  client?: { ip?: string; userAgent?: string };
}
