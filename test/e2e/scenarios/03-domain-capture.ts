// "Capturing your domain": the admin adds the domain, publishes the TXT record, which takes a while to
// propagate; the domain is listed "Pending", the button next to it refreshes it, and the green "Verified"
// badge arrives live on the admin's open subscription. A subdomain is verified on its own record.
import { expect } from 'vitest';
import {
  type DomainFieldsFragment,
  DomainRefreshDocument,
  DomainAddDocument,
  DomainsDocument,
  DomainStatusChangedDocument,
  type DomainStatusChangedSubscription,
  IdentitySettingsDocument,
  OrganizationCreateDocument,
} from '../../generated/graphql.js';
import { type LiveSubscription, type Person, subscribe } from '../../scenarios-support/acts.js';
import { uniqueEmail } from '../../scenarios-support/world.js';
import { defineScenario, eventually, given } from './scenario.js';

interface State {
  owner?: Person;
  parentId?: string;
  domain?: DomainFieldsFragment;
  live?: LiveSubscription<DomainStatusChangedSubscription>;
}

const statuses = (live: LiveSubscription<DomainStatusChangedSubscription>) =>
  live.events.map((e) => `${e.domainStatusChanged.name}:${e.domainStatusChanged.status}`);

export default defineScenario<State>({
  section: 'Capturing your domain',
  title: 'Domain capture',
  state: () => ({}),
  steps: [
    {
      name: 'Admin of a Console organization without a parent does not find the section',
      guide: [
        "This section will not appear in your API Console account if you haven't done one of the following:",
        'Worked with our Sales team to enable the SSO feature for your Console organization.',
        'Completed a merge proposal to link your Console to an Enterprise organization.',
      ],
      async run(world) {
        const admin = await world.signIn(uniqueEmail('lonely-admin', 'lonely.example'));
        const org = (
          await world.gqlOk(
            OrganizationCreateDocument,
            { input: { name: 'Lonely', kind: 'API_CONSOLE' } },
            admin.token,
          )
        ).organizationCreate.organization!;
        const settings = await world.gqlOk(IdentitySettingsDocument, { organizationId: org.id }, admin.token);
        expect(settings.identitySettings).toMatchObject({
          available: false,
          reason: 'NO_PARENT_ORGANIZATION',
        });
        expect(settings.identitySettings.routes).toContain('CONTACT_SALES');
      },
    },
    {
      name: 'Admin navigates to the Identity settings page and keeps it open',
      guide: ['Navigate to console.anthropic.com/settings/identity'],
      async run(world, s) {
        const email = uniqueEmail('owner', 'capture-corp.com');
        s.owner = { email, ...(await world.signIn(email)) };
        world.cast('Capture Corp owner', {
          role: 'PRIMARY_OWNER of Capture Corp',
          email,
          signInWith: 'e-mailed code',
        });
        const org = (
          await world.gqlOk(
            OrganizationCreateDocument,
            { input: { name: 'Capture Corp', kind: 'ENTERPRISE' } },
            s.owner.token,
          )
        ).organizationCreate.organization!;
        const settings = await world.gqlOk(
          IdentitySettingsDocument,
          { organizationId: org.id },
          s.owner.token,
        );
        expect(settings.identitySettings.available).toBe(true);
        s.parentId = settings.identitySettings.parentOrganization!.id;
        s.live = await subscribe(world, DomainStatusChangedDocument, { parentId: s.parentId }, s.owner.token);
      },
    },
    {
      name: 'Admin clicks "Add Domain" and reads the TXT record instructions',
      guide: ['Click "Add Domain"', 'Follow the instructions to add your TXT record.'],
      async run(world, s) {
        const added = await world.gqlOk(
          DomainAddDocument,
          { parentId: given(s.parentId, 'the parent'), input: { name: ' Capture-Corp.COM. ' } },
          s.owner!.token,
        );
        expect(added.domainAdd.userErrors).toEqual([]);
        s.domain = added.domainAdd.domain!;
        expect(s.domain).toMatchObject({ name: 'capture-corp.com', status: 'PENDING' });
        expect(s.domain.verificationRecord).toMatchObject({
          type: 'TXT',
          name: '_anthropic-challenge.capture-corp.com',
        });
        expect(s.domain.verificationRecord.value).toMatch(/^anthropic-domain-verification=[A-Za-z0-9_-]+$/);
      },
    },
    {
      name: 'IT publishes the TXT record, which takes a while to propagate',
      guide: ['Wait up to 10 minutes for your DNS change to propagate.'],
      async run(world, s) {
        const record = given(s.domain, 'the domain').verificationRecord;
        world.dns.setTxt(record.name, [record.value], { visibleAfterMs: 1_500 });
      },
    },
    {
      name: 'Admin sees the domain listed as "Pending" on the Identity settings page',
      guide: ['you should see your domain added to the page'],
      async run(world, s) {
        const listed = await world.gqlOk(DomainsDocument, { parentId: s.parentId! }, s.owner!.token);
        expect(listed.domains.nodes.map((d) => [d.name, d.status])).toEqual([
          ['capture-corp.com', 'PENDING'],
        ]);
      },
    },
    {
      name: 'Admin clicks the button next to "Pending" and sees the green "Verified" badge live',
      guide: [
        'If your domain is listed as "Pending", click the button next to the word "Pending" to refresh your domain status.',
        'When you see the green "Verified" badge, you can close the instructions page.',
        'Your domain should now be listed as "Verified."',
        "“Domain Capture” proves that you own your company's domain.",
      ],
      async run(world, s) {
        const domain = given(s.domain, 'the domain');
        const early = await world.gqlOk(DomainRefreshDocument, { id: domain.id }, s.owner!.token);
        expect(early.domainRefresh.domain).toMatchObject({ status: 'PENDING', lastCheckOutcome: 'ABSENT' });
        // The button is rate-limited; once the record has propagated, it verifies.
        const verified = await eventually(
          async () =>
            (await world.gql(DomainRefreshDocument, { id: domain.id }, s.owner!.token)).data?.domainRefresh
              .domain?.status,
          (status) => status === 'VERIFIED',
          { intervalMs: 500, what: 'the domain to be verified' },
        );
        expect(verified).toBe('VERIFIED');
        await eventually(
          () => statuses(s.live!),
          (list) => list.includes('capture-corp.com:VERIFIED'),
          {
            what: 'the live "Verified" badge',
          },
        );
        const listed = await world.gqlOk(DomainsDocument, { parentId: s.parentId! }, s.owner!.token);
        expect(listed.domains.nodes.map((d) => [d.name, d.status])).toEqual([
          ['capture-corp.com', 'VERIFIED'],
        ]);
      },
    },
    {
      name: 'Admin verifies a subdomain on its own TXT record',
      guide: [
        "Note: if you're using a subdomain (e.g. subdomain.yourcompany.com), you should set your new TXT record on that subdomain",
      ],
      async run(world, s) {
        const sub = (
          await world.gqlOk(
            DomainAddDocument,
            { parentId: s.parentId!, input: { name: 'eu.capture-corp.com' } },
            s.owner!.token,
          )
        ).domainAdd.domain!;
        expect(sub.verificationRecord.name).toBe('_anthropic-challenge.eu.capture-corp.com');
        world.dns.setTxt(sub.verificationRecord.name, [sub.verificationRecord.value]);
        const refreshed = await world.gqlOk(DomainRefreshDocument, { id: sub.id }, s.owner!.token);
        expect(refreshed.domainRefresh.domain?.status).toBe('VERIFIED');
        await eventually(
          () => statuses(s.live!),
          (list) => list.includes('eu.capture-corp.com:VERIFIED'),
          {
            what: 'the live "Verified" badge of the subdomain',
          },
        );
      },
    },
  ],
});
