// SSO connections of a parent: SAML (metadata XML, metadata URL or fields) and OIDC (issuer, client).
// Every input is validated before anything is written, so a bad update leaves the connection unchanged.
// A connection becomes ACTIVE only after a successful test login by an admin since its last change;
// activating it ends every session of the parent's users, the acting admin's included.
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../../config/config.js';
import type { Clock } from '../../lib/clock.js';
import { AccessError, DomainError, notFound } from '../../lib/errors.js';
import { isUuid } from '../../lib/ids.js';
import { paginate, type PageRequest } from '../../lib/page.js';
import type { Scope } from '../../lib/scope.js';
import type { EventBus } from '../../lib/events.js';
import type { SecretBox } from '../../lib/secret-box.js';
import type { AuditService } from '../audit/audit.service.js';
import { Domain, DomainStatus } from '../domains/domain.entity.js';
import type { OrganizationAccess } from '../organizations/organization.access.js';
import {
  assertHttpUrl,
  fetchMetadata,
  type IdpSettings,
  parseCertificate,
  parseIdpMetadata,
} from './saml/idp-metadata.js';
import {
  type AttributeMapping,
  SsoConnection,
  SsoConnectionState,
  SsoProtocol,
  SsoProvider,
} from './sso-connection.entity.js';
import { SsoErrorCode } from './sso.errors.js';

/** Where each IdP of the guide puts the profile, as their SAML apps and OIDC clients send it by default. */
export const DEFAULT_ATTRIBUTES: Record<SsoProtocol, Record<SsoProvider, AttributeMapping>> = {
  [SsoProtocol.SAML]: {
    [SsoProvider.OKTA]: { email: 'email', firstName: 'firstName', lastName: 'lastName', groups: 'groups' },
    [SsoProvider.GOOGLE_WORKSPACE]: {
      email: 'email',
      firstName: 'first_name',
      lastName: 'last_name',
      groups: 'groups',
    },
    [SsoProvider.ENTRA_ID]: {
      email: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
      firstName: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname',
      lastName: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname',
      groups: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
    },
    [SsoProvider.GENERIC]: { email: 'email', firstName: 'firstName', lastName: 'lastName', groups: 'groups' },
  },
  [SsoProtocol.OIDC]: Object.fromEntries(
    Object.values(SsoProvider).map((p) => [
      p,
      { email: 'email', firstName: 'given_name', lastName: 'family_name', groups: 'groups' },
    ]),
  ) as Record<SsoProvider, AttributeMapping>,
};

export interface SamlSettingsInput {
  metadataXml?: string | null;
  metadataUrl?: string | null;
  entityId?: string | null;
  ssoUrl?: string | null;
  certificates?: string[] | null;
}

export interface OidcSettingsInput {
  issuer?: string | null;
  clientId?: string | null;
  /** Write-only. */
  clientSecret?: string | null;
}

export interface SsoConnectionInput {
  name?: string | null;
  provider?: SsoProvider | null;
  saml?: SamlSettingsInput | null;
  oidc?: OidcSettingsInput | null;
  attributeMapping?: Partial<AttributeMapping> | null;
}

const CERTIFICATE_WARNING_DAYS = 30;

export class SsoConnectionService {
  constructor(
    private readonly config: Pick<Config, 'publicUrl' | 'sso'>,
    private readonly clock: Clock,
    private readonly audit: AuditService,
    private readonly access: OrganizationAccess,
    private readonly secrets: SecretBox,
    private readonly events: EventBus,
  ) {}

  spEntityId(connection: Pick<SsoConnection, 'id'>): string {
    return `${this.config.publicUrl}/sso/saml/${connection.id}/metadata`;
  }

  acsUrl(connection: Pick<SsoConnection, 'id'>): string {
    return `${this.config.publicUrl}/sso/saml/${connection.id}/acs`;
  }

  oidcRedirectUri(connection: Pick<SsoConnection, 'id'>): string {
    return `${this.config.publicUrl}/sso/oidc/${connection.id}/callback`;
  }

  /** Days until the first signing certificate expires, when that is within the warning window. */
  certificateWarning(connection: SsoConnection): { fingerprint: string; notAfter: string } | null {
    const soon = this.clock.now().getTime() + CERTIFICATE_WARNING_DAYS * 86_400_000;
    const expiring = (connection.idpCertificates ?? []).filter((c) => new Date(c.notAfter).getTime() < soon);
    const first = expiring.sort((a, b) => a.notAfter.localeCompare(b.notAfter))[0];
    return first ? { fingerprint: first.fingerprint, notAfter: first.notAfter } : null;
  }

  async list(scope: Scope, parentId: string, page: PageRequest) {
    await this.access.requireParentAdmin(scope, parentId);
    return paginate(scope.em, SsoConnection, { parent: parentId }, page);
  }

  async get(scope: Scope, id: string): Promise<SsoConnection> {
    return this.requireConnection(scope, id, scope.em);
  }

  async create(
    scope: Scope,
    parentId: string,
    protocol: SsoProtocol,
    input: SsoConnectionInput,
  ): Promise<SsoConnection> {
    const provider = input.provider ?? SsoProvider.GENERIC;
    const name = this.validName(input.name ?? `${provider} ${protocol}`);
    const idp = protocol === SsoProtocol.SAML ? await this.samlSettings(input.saml ?? {}, null) : null;
    const oidc = protocol === SsoProtocol.OIDC ? this.oidcSettings(input.oidc ?? {}, null) : null;
    return scope.em.transactional(async (em) => {
      const parent = await this.access.requireParentAdmin(scope, parentId, { em });
      const mapping = { ...DEFAULT_ATTRIBUTES[protocol][provider], ...clean(input.attributeMapping) };
      const connection = new SsoConnection(parent, name, protocol, provider, mapping, this.clock.now());
      if (idp) this.applySaml(connection, idp);
      if (oidc) Object.assign(connection, oidc);
      em.persist(connection);
      await this.audit.recordForParent(em, scope, parent.id, {
        action: 'sso_connection.created',
        targetType: 'SsoConnection',
        targetId: connection.id,
        after: this.describe(connection),
      });
      return connection;
    });
  }

  async update(scope: Scope, id: string, input: SsoConnectionInput): Promise<SsoConnection> {
    const current = await this.requireConnection(scope, id, scope.em);
    const name = input.name != null ? this.validName(input.name) : current.name;
    const idp =
      current.protocol === SsoProtocol.SAML && input.saml
        ? await this.samlSettings(input.saml, current)
        : null;
    const oidc =
      current.protocol === SsoProtocol.OIDC && input.oidc ? this.oidcSettings(input.oidc, current) : null;
    return scope.em.transactional(async (em) => {
      const connection = await this.requireConnection(scope, id, em);
      const before = this.describe(connection);
      connection.name = name;
      if (input.provider) connection.provider = input.provider;
      if (input.attributeMapping)
        connection.attributeMapping = { ...connection.attributeMapping, ...clean(input.attributeMapping) };
      if (idp) this.applySaml(connection, idp);
      if (oidc) Object.assign(connection, oidc);
      // Any change needs a new successful test before (re)activation.
      connection.updatedAt = this.clock.now();
      await this.audit.recordForParent(em, scope, connection.parent.id, {
        action: 'sso_connection.updated',
        targetType: 'SsoConnection',
        targetId: connection.id,
        before,
        after: this.describe(connection),
      });
      return connection;
    });
  }

  async delete(scope: Scope, id: string): Promise<SsoConnection> {
    return scope.em.transactional(async (em) => {
      const connection = await this.requireConnection(scope, id, em);
      await this.audit.recordForParent(em, scope, connection.parent.id, {
        action: 'sso_connection.deleted',
        targetType: 'SsoConnection',
        targetId: connection.id,
        before: this.describe(connection),
      });
      em.remove(connection);
      return connection;
    });
  }

  /**
   * Turns SSO on for the parent's captured domains. Requires a successful admin test since the last
   * change; ends every session of the parent's users (the guide: they log back in through SSO).
   */
  async activate(scope: Scope, id: string): Promise<{ connection: SsoConnection; revokedSessions: number }> {
    const result = await scope.em.transactional(async (em) => {
      const connection = await this.requireConnection(scope, id, em);
      if (connection.state === SsoConnectionState.ACTIVE) {
        throw new DomainError(SsoErrorCode.ALREADY_IN_STATE, 'The connection is already active.');
      }
      if (
        !connection.lastTestSucceeded ||
        !connection.lastTestedAt ||
        connection.lastTestedAt < connection.updatedAt
      ) {
        throw new DomainError(
          SsoErrorCode.NOT_TESTED,
          'Run a successful test login with this connection before activating it.',
        );
      }
      const verified = await em.count(Domain, {
        parent: connection.parent.id,
        status: DomainStatus.VERIFIED,
      });
      if (verified === 0)
        throw new DomainError(
          SsoErrorCode.NO_VERIFIED_DOMAIN,
          'Verify a domain first: SSO applies to captured domains.',
        );
      const other = await em.count(SsoConnection, {
        parent: connection.parent.id,
        state: SsoConnectionState.ACTIVE,
        id: { $ne: connection.id },
      });
      if (other > 0)
        throw new DomainError(
          SsoErrorCode.ANOTHER_CONNECTION_ACTIVE,
          'Deactivate the active connection first.',
        );
      const now = this.clock.now();
      connection.state = SsoConnectionState.ACTIVE;
      connection.activatedAt = now;
      const revoked = await this.revokeParentSessions(em, connection.parent.id, now);
      await this.audit.recordForParent(em, scope, connection.parent.id, {
        action: 'sso_connection.activated',
        targetType: 'SsoConnection',
        targetId: connection.id,
        after: { state: SsoConnectionState.ACTIVE, revokedSessions: revoked.length },
      });
      return { connection, revoked };
    });
    // Live subscriptions of those users end with their sessions.
    for (const userId of new Set(result.revoked.map((r) => r.user_id)))
      this.events.publish('USER_SESSIONS_REVOKED', userId);
    return { connection: result.connection, revokedSessions: result.revoked.length };
  }

  async deactivate(scope: Scope, id: string): Promise<SsoConnection> {
    return scope.em.transactional(async (em) => {
      const connection = await this.requireConnection(scope, id, em);
      if (connection.state !== SsoConnectionState.ACTIVE) {
        throw new DomainError(SsoErrorCode.ALREADY_IN_STATE, 'The connection is not active.');
      }
      connection.state = SsoConnectionState.INACTIVE;
      await this.audit.recordForParent(em, scope, connection.parent.id, {
        action: 'sso_connection.deactivated',
        targetType: 'SsoConnection',
        targetId: connection.id,
        before: { state: SsoConnectionState.ACTIVE },
        after: { state: SsoConnectionState.INACTIVE },
      });
      return connection;
    });
  }

  /** Re-reads metadata from its URL; on failure the last good copy stays in use and the error is recorded. */
  async refreshMetadata(scope: Scope, id: string): Promise<SsoConnection> {
    const connection = await this.requireConnection(scope, id, scope.em);
    if (!connection.metadataUrl)
      throw new DomainError(SsoErrorCode.INVALID_SETTINGS, 'This connection has no metadata URL.');
    let settings: IdpSettings | null = null;
    let failure: string | null = null;
    let xml: string | null = null;
    try {
      xml = await fetchMetadata(connection.metadataUrl, {
        allowPrivate: this.config.sso.allowPrivateMetadataUrls,
      });
      settings = parseIdpMetadata(xml);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      failure = `${error.code}: ${error.message}`.slice(0, 500);
    }
    return scope.em.transactional(async (em) => {
      const fresh = await this.requireConnection(scope, id, em);
      if (settings && xml) {
        this.applySaml(fresh, { ...settings, metadataXml: xml, metadataUrl: fresh.metadataUrl ?? null });
        fresh.updatedAt = this.clock.now();
      } else {
        fresh.metadataError = failure;
      }
      return fresh;
    });
  }

  /** The OIDC client secret, decrypted for the login flow only. */
  clientSecret(connection: SsoConnection): string {
    if (!connection.oidcClientSecretEncrypted) throw new Error('OIDC connection without a client secret');
    return this.secrets.open(connection.oidcClientSecretEncrypted);
  }

  /** Where the admin's browser runs a test login (it must carry the admin's session). */
  async testUrl(scope: Scope, id: string): Promise<string> {
    const connection = await this.requireConnection(scope, id, scope.em);
    return `${this.config.publicUrl}/sso/${connection.protocol === SsoProtocol.SAML ? 'saml' : 'oidc'}/${connection.id}/test`;
  }

  /** Records the outcome of an admin's test login. */
  recordTest(connection: SsoConnection, succeeded: boolean, error: string | null): void {
    connection.lastTestedAt = this.clock.now();
    connection.lastTestSucceeded = succeeded;
    connection.lastTestError = error?.slice(0, 200) ?? null;
  }

  async requireConnection(scope: Scope, id: string, em: EntityManager): Promise<SsoConnection> {
    // Signed in first: otherwise an anonymous caller tells existing ids (UNAUTHENTICATED) from missing ones.
    this.access.requireViewer(scope);
    if (!isUuid(id)) throw notFound('SSO connection');
    const connection = await em.findOne(SsoConnection, id);
    if (!connection) throw notFound('SSO connection');
    try {
      await this.access.requireParentAdmin(scope, connection.parent.id, { em });
    } catch (error) {
      if (error instanceof AccessError && error.code === 'NOT_FOUND') throw notFound('SSO connection');
      throw error;
    }
    return connection;
  }

  private async revokeParentSessions(em: EntityManager, parentId: string, now: Date) {
    return em.getConnection().execute<{ id: string; user_id: string }[]>(
      `update sessions set revoked_at = ?
        where revoked_at is null and expires_at > ?
          and user_id in (select m.user_id from memberships m join organizations o on o.id = m.organization_id
                          where o.parent_id = ? and m.removed_at is null)
        returning id, user_id`,
      [now, now, parentId],
    );
  }

  private validName(name: string): string {
    const trimmed = name.trim();
    if (trimmed.length < 1 || trimmed.length > 200) {
      throw new DomainError(SsoErrorCode.INVALID_NAME, 'The name must be 1 to 200 characters.', ['name']);
    }
    return trimmed;
  }

  /** SAML settings from exactly one source: metadata XML, a metadata URL, or the three fields. */
  private async samlSettings(
    input: SamlSettingsInput,
    current: SsoConnection | null,
  ): Promise<IdpSettings & { metadataXml: string | null; metadataUrl: string | null }> {
    if (input.metadataXml)
      return { ...parseIdpMetadata(input.metadataXml), metadataXml: input.metadataXml, metadataUrl: null };
    if (input.metadataUrl) {
      const xml = await fetchMetadata(input.metadataUrl, {
        allowPrivate: this.config.sso.allowPrivateMetadataUrls,
      });
      return { ...parseIdpMetadata(xml), metadataXml: xml, metadataUrl: input.metadataUrl };
    }
    const entityId = input.entityId ?? current?.idpEntityId;
    const ssoUrl = input.ssoUrl ?? current?.idpSsoUrl;
    const certificates = input.certificates?.map(parseCertificate) ?? current?.idpCertificates ?? [];
    if (!entityId || !ssoUrl || certificates.length === 0) {
      throw new DomainError(
        SsoErrorCode.INVALID_SETTINGS,
        'A SAML connection needs metadata (XML or URL), or an entity ID, an SSO URL and at least one signing certificate.',
        ['saml'],
      );
    }
    return {
      entityId,
      ssoUrl: assertHttpUrl(ssoUrl, 'ssoUrl'),
      certificates,
      metadataXml: null,
      metadataUrl: current?.metadataUrl ?? null,
    };
  }

  private applySaml(
    connection: SsoConnection,
    settings: IdpSettings & { metadataXml: string | null; metadataUrl: string | null },
  ) {
    connection.idpEntityId = settings.entityId;
    connection.idpSsoUrl = settings.ssoUrl;
    connection.idpCertificates = settings.certificates;
    connection.metadataXml = settings.metadataXml;
    connection.metadataUrl = settings.metadataUrl;
    connection.metadataFetchedAt = settings.metadataUrl ? this.clock.now() : null;
    connection.metadataError = null;
  }

  private oidcSettings(input: OidcSettingsInput, current: SsoConnection | null) {
    const issuer = input.issuer ?? current?.oidcIssuer;
    const clientId = input.clientId ?? current?.oidcClientId;
    const secret = input.clientSecret
      ? this.secrets.seal(input.clientSecret)
      : current?.oidcClientSecretEncrypted;
    if (!issuer || !clientId || !secret) {
      throw new DomainError(
        SsoErrorCode.INVALID_SETTINGS,
        'An OIDC connection needs an issuer, a client id and a client secret.',
        ['oidc'],
      );
    }
    return {
      oidcIssuer: assertHttpUrl(issuer, 'issuer').replace(/\/$/, ''),
      oidcClientId: clientId,
      oidcClientSecretEncrypted: secret,
    };
  }

  /** What audit events show of a connection: never secrets. */
  private describe(connection: SsoConnection): Record<string, unknown> {
    return {
      name: connection.name,
      protocol: connection.protocol,
      provider: connection.provider,
      state: connection.state,
      idpEntityId: connection.idpEntityId ?? null,
      idpSsoUrl: connection.idpSsoUrl ?? null,
      certificates: (connection.idpCertificates ?? []).map((c) => c.fingerprint),
      metadataUrl: connection.metadataUrl ?? null,
      oidcIssuer: connection.oidcIssuer ?? null,
      oidcClientId: connection.oidcClientId ?? null,
      attributeMapping: connection.attributeMapping,
    };
  }
}

function clean(mapping: Partial<AttributeMapping> | null | undefined): Partial<AttributeMapping> {
  return Object.fromEntries(
    Object.entries(mapping ?? {}).filter(([, v]) => typeof v === 'string' && v.trim()),
  ) as Partial<AttributeMapping>;
}
