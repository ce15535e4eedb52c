// SCIM directories of a parent, for its identity admins: creation (the token is shown once), token
// rotation with a short overlap, deletion, and "Sync now", which asks the IdP to push (when it can)
// and then reconciles every directory user with accounts and memberships.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config/config.js';
import { addSeconds, type Clock } from '../../lib/clock.js';
import { AccessError, DomainError, notFound } from '../../lib/errors.js';
import type { EventBus } from '../../lib/events.js';
import { isUuid } from '../../lib/ids.js';
import { outboundRefusal } from '../../lib/outbound-url.js';
import { paginate, type PageRequest } from '../../lib/page.js';
import type { Scope } from '../../lib/scope.js';
import { randomToken, sha256 } from '../../lib/secrets.js';
import type { AuditService } from '../audit/audit.service.js';
import type { OrganizationAccess } from '../organizations/organization.access.js';
import { DirectoryGroup } from './directory-group.entity.js';
import type { DirectoryProvisioning } from './directory-provisioning.js';
import { DirectoryUser } from './directory-user.entity.js';
import { Directory, DirectoryProvider, type SyncReport } from './directory.entity.js';
import { DirectoryErrorCode } from './directory.errors.js';

/** How long the previous token keeps working after a rotation. */
export const TOKEN_OVERLAP_SECONDS = 600;
const PUSH_TIMEOUT_MS = 30_000;

export interface IssuedDirectoryToken {
  directory: Directory;
  /** Shown once. The `scim_` prefix lets secret scanners recognise a leaked token. */
  token: string;
}

const newToken = () => `scim_${randomToken(32)}`;

export class DirectoryService {
  constructor(
    private readonly config: Pick<Config, 'publicUrl' | 'sso'>,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly access: OrganizationAccess,
    private readonly provisioning: DirectoryProvisioning,
    private readonly events: EventBus,
  ) {}

  baseUrl(directory: Pick<Directory, 'id'>): string {
    return `${this.config.publicUrl}/scim/v2/${directory.id}`;
  }

  async list(scope: Scope, parentId: string, page: PageRequest) {
    await this.access.requireParentAdmin(scope, parentId);
    return paginate(scope.em, Directory, { parent: parentId }, page);
  }

  async get(scope: Scope, id: string): Promise<Directory> {
    return this.requireDirectory(scope, id, scope.em);
  }

  async counts(
    em: EntityManager,
    directory: Directory,
  ): Promise<{ users: number; activeUsers: number; groups: number }> {
    const [users, activeUsers, groups] = await Promise.all([
      em.count(DirectoryUser, { directory }),
      em.count(DirectoryUser, { directory, active: true }),
      em.count(DirectoryGroup, { directory }),
    ]);
    return { users, activeUsers, groups };
  }

  async create(
    scope: Scope,
    parentId: string,
    input: { name: string; provider?: DirectoryProvider | null; pushUrl?: string | null },
  ) {
    const name = input.name.trim();
    if (!name || name.length > 200)
      throw new DomainError(DirectoryErrorCode.INVALID_NAME, 'The name must be 1 to 200 characters.', [
        'name',
      ]);
    const pushUrl = await this.validPushUrl(input.pushUrl);
    return scope.em.transactional(async (em): Promise<IssuedDirectoryToken> => {
      const parent = await this.access.requireParentAdmin(scope, parentId, { em });
      const token = newToken();
      const directory = new Directory(
        parent,
        name,
        input.provider ?? DirectoryProvider.GENERIC,
        sha256(token),
        this.clock.now(),
      );
      directory.pushUrl = pushUrl;
      em.persist(directory);
      await this.audit.recordForParent(em, scope, parent.id, {
        action: 'directory.created',
        targetType: 'Directory',
        targetId: directory.id,
        after: { name, provider: directory.provider, pushUrl },
      });
      return { directory, token };
    });
  }

  /** A new token at once; the previous one keeps working for a short overlap while the IdP is updated. */
  async rotateToken(scope: Scope, id: string): Promise<IssuedDirectoryToken> {
    return scope.em.transactional(async (em) => {
      const directory = await this.requireDirectory(scope, id, em);
      const token = newToken();
      directory.previousTokenHash = directory.tokenHash;
      directory.previousTokenExpiresAt = addSeconds(this.clock.now(), TOKEN_OVERLAP_SECONDS);
      directory.tokenHash = sha256(token);
      await this.audit.recordForParent(em, scope, directory.parent.id, {
        action: 'directory.token_rotated',
        targetType: 'Directory',
        targetId: directory.id,
        after: { previousTokenExpiresAt: directory.previousTokenExpiresAt.toISOString() },
      });
      return { directory, token };
    });
  }

  async delete(scope: Scope, id: string): Promise<Directory> {
    return scope.em.transactional(async (em) => {
      const directory = await this.requireDirectory(scope, id, em);
      await this.audit.recordForParent(em, scope, directory.parent.id, {
        action: 'directory.deleted',
        targetType: 'Directory',
        targetId: directory.id,
        before: { name: directory.name },
      });
      em.remove(directory);
      return directory;
    });
  }

  /** "Sync now": ask the IdP to push, then reconcile every user of the directory; the report is kept. */
  async sync(scope: Scope, id: string): Promise<Directory> {
    const directory = await this.requireDirectory(scope, id, scope.em);
    const errors: string[] = [];
    let pushRequested = false;
    if (directory.pushUrl) {
      try {
        const response = await fetch(directory.pushUrl, {
          method: 'POST',
          signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
        });
        pushRequested = response.ok;
        if (!response.ok) errors.push(`The IdP answered HTTP ${response.status} to the push request.`);
      } catch (error) {
        errors.push(`The IdP could not be asked to push: ${(error as Error).name}.`);
      }
    }
    const revoked: string[] = [];
    const report = await scope.em.transactional(async (em) => {
      const fresh = await em.findOneOrFail(Directory, directory.id, { refresh: true });
      const users = await em.find(DirectoryUser, { directory: fresh }, { orderBy: { id: 'asc' } });
      let provisioned = 0;
      let deprovisioned = 0;
      for (const user of users) {
        const outcome = await this.provisioning.reconcile(em, fresh, user);
        if (outcome.provisioned) provisioned++;
        if (outcome.deprovisioned) deprovisioned++;
        if (outcome.revokedUserId && outcome.deprovisioned) revoked.push(outcome.revokedUserId);
        if (outcome.error) errors.push(outcome.error);
      }
      const report: SyncReport = {
        users: users.length,
        groups: await em.count(DirectoryGroup, { directory: fresh }),
        provisioned,
        deprovisioned,
        pushRequested,
        errors: errors.slice(0, 50),
      };
      fresh.lastSyncAt = this.clock.now();
      fresh.lastSync = report;
      fresh.lastErrors = report.errors;
      await this.audit.recordForParent(em, scope, fresh.parent.id, {
        action: 'directory.synced',
        targetType: 'Directory',
        targetId: fresh.id,
        after: { ...report },
      });
      return { directory: fresh, report };
    });
    for (const userId of revoked) this.events.publish('USER_SESSIONS_REVOKED', userId);
    this.events.publish('DIRECTORY_STATUS_CHANGED', report.directory.parent.id, {
      parentOrganizationId: report.directory.parent.id,
      directoryId: report.directory.id,
      lastSyncAt: report.directory.lastSyncAt ?? null,
      users: report.report.users,
      groups: report.report.groups,
      errors: report.report.errors,
    });
    return report.directory;
  }

  private async validPushUrl(raw: string | null | undefined): Promise<string | null> {
    if (!raw) return null;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new DomainError(DirectoryErrorCode.INVALID_PUSH_URL, 'The push URL is not a URL.', ['pushUrl']);
    }
    const refusal = await outboundRefusal(url, this.config.sso.allowPrivateMetadataUrls);
    if (refusal || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new DomainError(
        DirectoryErrorCode.INVALID_PUSH_URL,
        `The push URL is not allowed (${refusal ?? 'scheme'}).`,
        ['pushUrl'],
      );
    }
    return url.toString();
  }

  private async requireDirectory(scope: Scope, id: string, em: EntityManager): Promise<Directory> {
    // Signed in first: otherwise an anonymous caller tells existing ids (UNAUTHENTICATED) from missing ones.
    this.access.requireViewer(scope);
    if (!isUuid(id)) throw notFound('Directory');
    const directory = await em.findOne(Directory, id);
    if (!directory) throw notFound('Directory');
    try {
      await this.access.requireParentAdmin(scope, directory.parent.id, { em });
    } catch (error) {
      if (error instanceof AccessError && error.code === 'NOT_FOUND') throw notFound('Directory');
      throw error;
    }
    return directory;
  }
}
