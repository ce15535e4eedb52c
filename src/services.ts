// Wires the services of one app together. Services get what they need as constructor parameters (no
// module-level singletons), so a test process can run several apps side by side.
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Config } from './config/config.js';
import type { Clock } from './lib/clock.js';
import { createEventBus, type EventBus } from './lib/events.js';
import { MembershipEvents } from './modules/members/membership-events.js';
import type { Logger } from './lib/logger.js';
import type { RateLimits } from './lib/rate-limits.js';
import { MailOutbox } from './mail/outbox.js';
import { AuditService } from './modules/audit/audit.service.js';
import { MemberService } from './modules/members/member.service.js';
import { OrganizationAccess } from './modules/organizations/organization.access.js';
import { OrganizationService } from './modules/organizations/organization.service.js';
import { SessionService } from './modules/sessions/session.service.js';
import { StaffService } from './modules/sessions/staff.service.js';
import { DomainMembershipService } from './modules/domains/domain-membership.service.js';
import { dnsTxtResolver } from './modules/domains/dns-resolver.js';
import { DomainService } from './modules/domains/domain.service.js';
import { GroupMappingService } from './modules/mappings/group-mapping.service.js';
import { DirectoryProvisioning } from './modules/scim/directory-provisioning.js';
import { DirectoryService } from './modules/scim/directory.service.js';
import { ScimService } from './modules/scim/scim.service.js';
import { installSamlSchemaValidator } from './modules/sso/saml/schema-validator.js';
import { SsoConnectionService } from './modules/sso/sso-connection.service.js';
import { SsoLoginService } from './modules/sso/sso-login.service.js';
import { GoogleLoginService } from './modules/sso/oidc/google-login.service.js';
import { OidcClients } from './modules/sso/oidc/oidc-client.js';
import { OidcLoginService } from './modules/sso/oidc/oidc-login.service.js';
import { secretBox } from './lib/secret-box.js';
import { MergeService } from './modules/merges/merge.service.js';
import { ParentOrganizationService } from './modules/organizations/parent-organization.service.js';

export interface Services {
  config: Config;
  clock: Clock;
  logger: Logger;
  orm: MikroORM;
  rateLimits: RateLimits;
  events: EventBus;
  outbox: MailOutbox;
  access: OrganizationAccess;
  audit: AuditService;
  sessions: SessionService;
  organizations: OrganizationService;
  members: MemberService;
  parents: ParentOrganizationService;
  merges: MergeService;
  staff: StaffService;
  domainMemberships: DomainMembershipService;
  domains: DomainService;
  ssoConnections: SsoConnectionService;
  ssoLogin: SsoLoginService;
  scim: ScimService;
  directories: DirectoryService;
  mappings: GroupMappingService;
  oidcLogin: OidcLoginService;
  googleLogin: GoogleLoginService;
}

export function createServices(deps: {
  config: Config;
  clock: Clock;
  logger: Logger;
  orm: MikroORM;
  rateLimits: RateLimits;
  /** Where events travel: Redis between instances; in-process when absent. */
  eventTarget?: EventTarget;
  wakeMailWorker: () => Promise<void>;
}): Services {
  const { config, clock } = deps;
  const events = createEventBus(deps.eventTarget);
  const outbox = new MailOutbox(clock, deps.wakeMailWorker, deps.logger);
  const access = new OrganizationAccess();
  const audit = new AuditService(clock, access);
  const sessions = new SessionService(config, clock, outbox, audit, access, deps.rateLimits);
  const organizations = new OrganizationService(clock, audit, access);
  const members = new MemberService(config, clock, outbox, audit, access, sessions);
  deps.orm.em.getEventManager().registerSubscriber(new MembershipEvents(events, deps.orm.em));
  const parents = new ParentOrganizationService(clock, outbox, audit, access);
  const merges = new MergeService(config, clock, outbox, audit, access, events, deps.rateLimits);
  const staff = new StaffService(clock, audit);
  const domainMemberships = new DomainMembershipService(access);
  const resolver = dnsTxtResolver(config.dnsServers, { timeoutMs: config.dnsTimeoutMs });
  const domains = new DomainService(
    config,
    clock,
    outbox,
    audit,
    access,
    events,
    resolver,
    deps.rateLimits,
    deps.logger,
  );
  const ssoConnections = new SsoConnectionService(
    config,
    clock,
    audit,
    access,
    secretBox(config.secretKey),
    events,
  );
  const mappings = new GroupMappingService(config, clock, audit, access, deps.logger);
  const ssoLogin = new SsoLoginService(
    config,
    clock,
    audit,
    sessions,
    ssoConnections,
    installSamlSchemaValidator,
    mappings,
    deps.logger,
  );
  const oidcClients = new OidcClients({ allowPrivate: config.sso.allowPrivateMetadataUrls }, clock);
  const oidcLogin = new OidcLoginService(clock, ssoConnections, ssoLogin, oidcClients, deps.logger);
  const googleLogin = new GoogleLoginService(config, clock, audit, sessions, oidcClients, deps.logger);
  const provisioning = new DirectoryProvisioning(clock, audit, sessions, mappings);
  const scim = new ScimService(clock, provisioning, events, mappings);
  const directories = new DirectoryService(config, clock, audit, access, provisioning, events);
  return {
    ...deps,
    scim,
    directories,
    mappings,
    events,
    outbox,
    access,
    audit,
    sessions,
    organizations,
    members,
    parents,
    merges,
    staff,
    domains,
    domainMemberships,
    ssoConnections,
    ssoLogin,
    oidcLogin,
    googleLogin,
  };
}
