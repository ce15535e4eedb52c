import { DOMParser } from '@xmldom/xmldom';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import * as client from 'openid-client';
import * as samlify from 'samlify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  SIGNATURE_WRAPPING_VARIANTS,
  samlPostBody,
  startIdpSimulator,
  type IdpSimulator,
  type IdpTenant,
  type OidcFaults,
  type Preset,
  type SamlFaults,
} from '../../simulators/idp/index.js';

// samlify refuses to parse anything until a schema validator is set. The simulator never sets one (our SP
// owns that process-global), so this file sets a permissive one; vitest runs each file in its own worker,
// so it cannot leak into the SP's tests.
samlify.setSchemaValidator({ validate: async () => 'skipped' });

const SP_ENTITY_ID = 'https://console.example/sso/saml/conn_1/metadata';
const ACS_URL = 'https://console.example/sso/saml/conn_1/acs';
const REDIRECT_URI = 'http://127.0.0.1:9/sso/oidc/conn_1/callback';
const ADA = {
  email: 'ada@acme.test',
  firstName: 'Ada',
  lastName: 'Lovelace',
  groups: ['anthropic-acme-admin', 'engineering', 'anthropic-acme-member'],
};

let sim: IdpSimulator;

beforeAll(async () => {
  sim = await startIdpSimulator();
});

afterAll(async () => {
  await sim.close();
});

async function tenantWithAda(preset: Preset, extra: { omitGroups?: boolean; groupPrefix?: string } = {}) {
  const tenant = await sim.createTenant({ preset, users: [ADA], loginAs: ADA.email, ...extra });
  tenant.registerServiceProvider({ entityId: SP_ENTITY_ID, acsUrl: ACS_URL });
  return tenant;
}

function parseXml(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml');
}

function all(node: Document | Element, localName: string): Element[] {
  return Array.from(node.getElementsByTagNameNS('*', localName));
}

function one(node: Document | Element, localName: string): Element {
  const [element] = all(node, localName);
  if (!element) throw new Error(`no ${localName}`);
  return element;
}

function decode(samlResponse: string): string {
  return Buffer.from(samlResponse, 'base64').toString('utf8');
}

function attributeValues(doc: Document, name: string): string[] | undefined {
  const attribute = all(doc, 'Attribute').find((element) => element.getAttribute('Name') === name);
  return attribute && all(attribute, 'AttributeValue').map((value) => value.textContent ?? '');
}

function serviceProvider() {
  return samlify.ServiceProvider({
    entityID: SP_ENTITY_ID,
    assertionConsumerService: [{ Binding: samlify.Constants.namespace.binding.post, Location: ACS_URL }],
    wantAssertionsSigned: true,
  });
}

async function samlifyParse(tenant: IdpTenant, samlResponse: string) {
  const idp = samlify.IdentityProvider({ metadata: tenant.metadataXml() });
  return serviceProvider().parseLoginResponse(idp, 'post', { body: { SAMLResponse: samlResponse } });
}

async function samlifyError(tenant: IdpTenant, samlResponse: string): Promise<string> {
  try {
    await samlifyParse(tenant, samlResponse);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  throw new Error('samlify accepted the response');
}

function respond(tenant: IdpTenant, faults: SamlFaults = {}) {
  return tenant.samlLoginResponse({
    requestId: '_req-1',
    acsUrl: ACS_URL,
    audience: SP_ENTITY_ID,
    ...faults,
  });
}

describe('SAML metadata', () => {
  it('lists one signing certificate, two during a keepOld rotation and one after a plain rotation', async () => {
    const tenant = await tenantWithAda('okta');
    const keyDescriptors = async () => {
      const response = await fetch(tenant.metadataUrl);
      expect(response.status).toBe(200);
      const doc = parseXml(await response.text());
      expect(doc.documentElement?.getAttribute('entityID')).toBe(tenant.entityId);
      const services = all(doc, 'SingleSignOnService').map((s) => [
        s.getAttribute('Binding'),
        s.getAttribute('Location'),
      ]);
      expect(services).toEqual([
        ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', tenant.ssoUrl],
        ['urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', tenant.ssoUrl],
      ]);
      return all(doc, 'KeyDescriptor').filter((k) => k.getAttribute('use') === 'signing');
    };

    expect(await keyDescriptors()).toHaveLength(1);
    const first = tenant.signingCertificates()[0];

    const rotated = await tenant.rotateSigningKey({ keepOld: true });
    expect(rotated.publishedCertificates).toEqual([rotated.certificatePem, first]);
    expect(rotated.privateKeyPem).toContain('PRIVATE KEY');
    expect(await keyDescriptors()).toHaveLength(2);
    // The new key signs, and an SP that knows both certificates accepts it.
    const signedByNew = parseXml(respond(tenant).xml);
    const certInResponse = one(signedByNew, 'X509Certificate').textContent;
    expect(rotated.certificatePem.replace(/-----[^-]+-----|\s/g, '')).toBe(certInResponse);
    await expect(samlifyParse(tenant, respond(tenant).SAMLResponse)).resolves.toBeDefined();

    await tenant.rotateSigningKey({ keepOld: false });
    expect(await keyDescriptors()).toHaveLength(1);
    expect(tenant.signingCertificates()).not.toContain(first);
  });
});

describe('SAML responses accepted by samlify', () => {
  it.each([
    {
      preset: 'okta' as const,
      nameId: (_subject: string) => ADA.email,
      attributes: {
        email: ADA.email,
        firstName: 'Ada',
        lastName: 'Lovelace',
        groups: ['anthropic-acme-admin', 'anthropic-acme-member'],
      },
    },
    {
      preset: 'google-workspace' as const,
      nameId: (_subject: string) => ADA.email,
      attributes: {
        email: ADA.email,
        first_name: 'Ada',
        last_name: 'Lovelace',
        groups: ['anthropic-acme-admin', 'anthropic-acme-member'],
      },
    },
    {
      preset: 'entra-id' as const,
      nameId: (subject: string) => subject,
      attributes: {
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress': ADA.email,
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname': 'Ada',
        'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname': 'Lovelace',
        'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups': [
          'anthropic-acme-admin',
          'anthropic-acme-member',
        ],
      },
    },
    {
      preset: 'generic' as const,
      nameId: (_subject: string) => ADA.email,
      attributes: {
        'urn:oid:0.9.2342.19200300.100.1.3': ADA.email,
        'urn:oid:2.5.4.42': 'Ada',
        'urn:oid:2.5.4.4': 'Lovelace',
        'urn:oid:1.3.6.1.4.1.5923.1.5.1.1': ['anthropic-acme-admin', 'anthropic-acme-member'],
      },
    },
  ])('$preset: NameID and attributes', async ({ preset, nameId, attributes }) => {
    const tenant = await tenantWithAda(preset);
    const subject = tenant.user(ADA.email)?.subject ?? '';
    const post = respond(tenant);
    const { extract } = await samlifyParse(tenant, post.SAMLResponse);
    expect(extract.nameID).toBe(nameId(subject));
    expect(extract.attributes).toMatchObject(attributes);
    expect(extract.issuer).toBe(tenant.entityId);
    expect(extract.audience).toBe(SP_ENTITY_ID);
    expect(extract.response?.inResponseTo).toBe('_req-1');
    expect(extract.response?.destination).toBe(ACS_URL);

    const doc = parseXml(post.xml);
    const nameIdFormat = one(doc, 'NameID').getAttribute('Format');
    expect(nameIdFormat).toBe(
      preset === 'entra-id'
        ? 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'
        : 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    );
    const confirmation = one(doc, 'SubjectConfirmationData');
    expect(confirmation.getAttribute('Recipient')).toBe(ACS_URL);
    expect(confirmation.getAttribute('InResponseTo')).toBe('_req-1');
    expect(one(doc, 'AuthnStatement').getAttribute('SessionIndex')).toBeTruthy();
    // The signature sits in the Assertion, right after its Issuer.
    const assertion = one(doc, 'Assertion');
    const children = Array.from(assertion.childNodes).filter((n): n is Element => n.nodeType === 1);
    expect(children.map((c) => c.localName).slice(0, 3)).toEqual(['Issuer', 'Signature', 'Subject']);
  });

  it('signs the Response as well when the tenant says so', async () => {
    const tenant = await tenantWithAda('okta');
    tenant.update({ signResponse: true });
    const post = respond(tenant);
    const doc = parseXml(post.xml);
    const response = doc.documentElement;
    const signatures = all(doc, 'Signature');
    expect(signatures).toHaveLength(2);
    expect(signatures.some((s) => s.parentNode === response)).toBe(true);
    await expect(samlifyParse(tenant, post.SAMLResponse)).resolves.toBeDefined();
  });
});

describe('SAML fault switches', () => {
  let tenant: IdpTenant;
  beforeAll(async () => {
    tenant = await tenantWithAda('okta');
  });
  const now = () => Date.now();
  const time = (element: Element, attribute: string) => Date.parse(element.getAttribute(attribute) ?? 'x');

  it.each<[string, SamlFaults, (doc: Document, xml: string) => void]>([
    [
      'expired',
      { expired: true },
      (doc) => {
        expect(time(one(doc, 'Conditions'), 'NotOnOrAfter')).toBeLessThan(now());
        expect(time(one(doc, 'SubjectConfirmationData'), 'NotOnOrAfter')).toBeLessThan(now());
      },
    ],
    [
      'notYetValid',
      { notYetValid: true },
      (doc) => expect(time(one(doc, 'Conditions'), 'NotBefore')).toBeGreaterThan(now() + 5 * 60_000),
    ],
    [
      'clockSkewSeconds',
      { clockSkewSeconds: 90 },
      (doc) => {
        const issued = time(one(doc, 'Assertion'), 'IssueInstant');
        expect(issued - now()).toBeGreaterThan(85_000);
        expect(issued - now()).toBeLessThan(95_000);
      },
    ],
    [
      'noTimeBounds',
      { noTimeBounds: true },
      (doc) => {
        expect(one(doc, 'Conditions').hasAttribute('NotBefore')).toBe(false);
        expect(one(doc, 'Conditions').hasAttribute('NotOnOrAfter')).toBe(false);
        expect(one(doc, 'SubjectConfirmationData').hasAttribute('NotOnOrAfter')).toBe(false);
      },
    ],
    [
      'wrongAudience',
      { wrongAudience: true },
      (doc) => expect(one(doc, 'Audience').textContent).not.toBe(SP_ENTITY_ID),
    ],
    [
      'wrongRecipient',
      { wrongRecipient: true },
      (doc) => {
        expect(one(doc, 'SubjectConfirmationData').getAttribute('Recipient')).not.toBe(ACS_URL);
        expect(doc.documentElement?.getAttribute('Destination')).toBe(ACS_URL);
      },
    ],
    [
      'wrongDestination',
      { wrongDestination: 'https://other.example/acs' },
      (doc) => expect(doc.documentElement?.getAttribute('Destination')).toBe('https://other.example/acs'),
    ],
    ['unsigned', { unsigned: true }, (doc) => expect(all(doc, 'Signature')).toHaveLength(0)],
    [
      'signWithUnknownKey',
      { signWithUnknownKey: true },
      (doc) => {
        const cert = one(doc, 'X509Certificate').textContent ?? '';
        const published = tenant.signingCertificates().map((pem) => pem.replace(/-----[^-]+-----|\s/g, ''));
        expect(cert).not.toBe('');
        expect(published).not.toContain(cert);
      },
    ],
    [
      'wrongIssuer',
      { wrongIssuer: true },
      (doc) => {
        const issuers = all(doc, 'Issuer').map((issuer) => issuer.textContent);
        expect(issuers).toHaveLength(2);
        expect(issuers).not.toContain(tenant.entityId);
      },
    ],
    [
      'twoAssertions',
      { twoAssertions: true },
      (doc) => {
        expect(all(doc, 'Assertion')).toHaveLength(2);
        expect(all(doc, 'Signature')).toHaveLength(2);
      },
    ],
    [
      'doctype',
      { doctype: true },
      (_doc, xml) => expect(xml).toMatch(/^<\?xml[^>]*\?><!DOCTYPE saml2p:Response \[<!ENTITY /),
    ],
    [
      'commentInNameId',
      { commentInNameId: true },
      (doc, xml) => {
        const nameId = one(doc, 'NameID');
        expect(Array.from(nameId.childNodes).map((n) => n.nodeType)).toEqual([3, 8, 3]);
        expect(nameId.firstChild?.nodeValue).toBe(ADA.email);
        expect(xml).toContain(`>${ADA.email}<!---->.evil.com</saml2:NameID>`);
        expect(attributeValues(doc, 'email')).toEqual([`${ADA.email}.evil.com`]);
      },
    ],
  ])('%s', (_name, faults, check) => {
    const post = respond(tenant, faults);
    expect(decode(post.SAMLResponse)).toBe(post.xml);
    check(parseXml(post.xml), post.xml);
  });

  it.each<[(typeof SIGNATURE_WRAPPING_VARIANTS)[number], (doc: Document) => void]>([
    [
      'evil-assertion-before',
      (doc) => {
        const [evil, signed] = topLevelAssertions(doc);
        expect(evilAndSigned(evil, signed)).toEqual([false, true]);
      },
    ],
    [
      'evil-assertion-after',
      (doc) => {
        const [signed, evil] = topLevelAssertions(doc);
        expect(evilAndSigned(evil, signed)).toEqual([false, true]);
      },
    ],
    [
      'signed-assertion-in-extensions',
      (doc) => {
        const [evil] = topLevelAssertions(doc);
        const hidden = one(one(doc, 'Extensions'), 'Assertion');
        expect(topLevelAssertions(doc)).toHaveLength(1);
        expect(evilAndSigned(evil, hidden)).toEqual([false, true]);
      },
    ],
    [
      'signed-assertion-in-signature-object',
      (doc) => {
        const [evil] = topLevelAssertions(doc);
        if (!evil) throw new Error('no assertion');
        const hidden = one(one(evil, 'Object'), 'Assertion');
        expect(hidden.parentNode?.parentNode?.parentNode).toBe(evil);
        expect(one(childElements(evil, 'Subject')[0] ?? evil, 'NameID').textContent).toBe('admin@acme.test');
        expect(one(hidden, 'NameID').textContent).toBe(ADA.email);
        // The reference points at the hidden original, not at the evil assertion that carries it.
        expect(one(evil, 'Reference').getAttribute('URI')).toBe(`#${hidden.getAttribute('ID')}`);
      },
    ],
  ])('signature wrapping: %s', async (variant, check) => {
    const post = respond(tenant, { signatureWrapping: variant });
    check(parseXml(post.xml));
    // Whatever samlify does with it, it must never hand back the evil identity.
    const outcome = await samlifyParse(tenant, post.SAMLResponse).then(
      (result) => result.extract.nameID as string,
      (err: Error) => err.message,
    );
    expect(outcome).not.toBe('admin@acme.test');
  });

  it('replayOf returns the exact bytes of an earlier response', () => {
    const first = respond(tenant);
    respond(tenant);
    expect(respond(tenant, { replayOf: first.responseId }).SAMLResponse).toBe(first.SAMLResponse);
    const last = respond(tenant);
    expect(respond(tenant, { replayOf: 'last' }).SAMLResponse).toBe(last.SAMLResponse);
  });

  it('tenant-wide faults apply until cleared, and a typo is refused', () => {
    tenant.setSamlFaults({ unsigned: true });
    expect(respond(tenant).xml).not.toContain('Signature');
    tenant.setSamlFaults({});
    expect(respond(tenant).xml).toContain('Signature');
    expect(() => respond(tenant, { expire: true } as SamlFaults)).toThrow(/expire/);
  });

  it.each<[string, SamlFaults, RegExp]>([
    ['unsigned', { unsigned: true }, /FAILED_TO_VERIFY_SIGNATURE/],
    ['signWithUnknownKey', { signWithUnknownKey: true }, /ERROR_UNMATCH_CERTIFICATE_DECLARATION_IN_METADATA/],
    ['expired', { expired: true }, /ERR_SUBJECT_UNCONFIRMED/],
    ['notYetValid', { notYetValid: true }, /ERR_SUBJECT_UNCONFIRMED/],
    ['wrongIssuer', { wrongIssuer: true }, /ERR_UNMATCH_ISSUER/],
  ])('samlify refuses %s', async (_name, faults, error) => {
    expect(await samlifyError(tenant, respond(tenant, faults).SAMLResponse)).toMatch(error);
  });

  // What samlify lets through is exactly what our SP has to check itself.
  it.each<[string, SamlFaults]>([
    ['wrongAudience', { wrongAudience: true }],
    ['wrongRecipient', { wrongRecipient: true }],
    ['wrongDestination', { wrongDestination: true }],
    ['noTimeBounds', { noTimeBounds: true }],
    ['twoAssertions', { twoAssertions: true }],
    ['doctype', { doctype: true }],
  ])('samlify does NOT refuse %s (the SP must)', async (_name, faults) => {
    const { extract } = await samlifyParse(tenant, respond(tenant, faults).SAMLResponse);
    expect(extract.nameID).toBe(ADA.email);
  });

  it('samlify reads the whole NameID around a comment (not the truncated victim e-mail)', async () => {
    const { extract } = await samlifyParse(tenant, respond(tenant, { commentInNameId: true }).SAMLResponse);
    expect(extract.nameID).toBe(`${ADA.email}.evil.com`);
  });
});

function childElements(parent: Element, localName: string): Element[] {
  return Array.from(parent.childNodes).filter(
    (node): node is Element => node.nodeType === 1 && (node as Element).localName === localName,
  );
}

function topLevelAssertions(doc: Document): Element[] {
  return doc.documentElement ? childElements(doc.documentElement, 'Assertion') : [];
}

/** [evil is signed, signed is signed], checking the evil one claims the victim and the other is Ada. */
function evilAndSigned(evil: Element | undefined, signed: Element | undefined): [boolean, boolean] {
  if (!evil || !signed) throw new Error('missing assertion');
  expect(one(evil, 'NameID').textContent).toBe('admin@acme.test');
  expect(one(signed, 'NameID').textContent).toBe(ADA.email);
  const hasOwnSignature = (a: Element) =>
    Array.from(a.childNodes).some((n) => (n as Element).localName === 'Signature');
  return [hasOwnSignature(evil), hasOwnSignature(signed)];
}

// The browser-facing flows share one tenant; each test starts from the same settings.
describe('browser flows', () => {
  let tenant: IdpTenant;
  beforeAll(async () => {
    tenant = await tenantWithAda('okta');
  });
  beforeEach(() => {
    tenant.update({ loginAs: ADA.email, appLoginUrl: null });
  });

  describe('SP-initiated SSO over HTTP', () => {
    it('answers an HTTP-Redirect AuthnRequest with an auto-post form and echoes RelayState', async () => {
      const idp = samlify.IdentityProvider({ metadata: tenant.metadataXml() });
      const relayState = 'opaque key/with spaces&symbols=1';
      const { id, context } = serviceProvider().createLoginRequest(idp, 'redirect', { relayState });

      const page = await fetch(context);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('onload="document.forms[0].submit()"');
      expect(html).toContain(`action="${ACS_URL}"`);

      const post = await sim.followSamlRedirect(context);
      expect(post.acsUrl).toBe(ACS_URL);
      expect(post.RelayState).toBe(relayState);
      const doc = parseXml(decode(post.SAMLResponse));
      expect(doc.documentElement?.getAttribute('InResponseTo')).toBe(id);
      expect(one(doc, 'SubjectConfirmationData').getAttribute('InResponseTo')).toBe(id);
      const { extract } = await samlifyParse(tenant, post.SAMLResponse);
      expect(extract.nameID).toBe(ADA.email);

      const request = tenant.authnRequests().at(-1);
      expect(request).toMatchObject({
        id,
        issuer: SP_ENTITY_ID,
        acsUrl: ACS_URL,
        binding: 'redirect',
        relayState,
      });
      expect(samlPostBody(post).get('RelayState')).toBe(relayState);
    });

    it('accepts the HTTP-POST binding too (Entra style)', async () => {
      const entra = await tenantWithAda('entra-id');
      const request =
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_post-1" Version="2.0" ' +
        `IssueInstant="${new Date().toISOString()}" AssertionConsumerServiceURL="${ACS_URL}">` +
        `<saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${SP_ENTITY_ID}</saml:Issuer>` +
        '</samlp:AuthnRequest>';
      const response = await fetch(entra.ssoUrl, {
        method: 'POST',
        body: new URLSearchParams({ SAMLRequest: Buffer.from(request).toString('base64'), RelayState: 'r1' }),
      });
      expect(response.status).toBe(200);
      const html = await response.text();
      expect(html).toContain('name="RelayState" value="r1"');
      expect(decode(/name="SAMLResponse" value="([^"]+)"/.exec(html)?.[1] ?? '')).toContain(
        'InResponseTo="_post-1"',
      );
    });

    it('refuses an ACS URL that differs from the registered one, and a broken request', async () => {
      const idp = samlify.IdentityProvider({ metadata: tenant.metadataXml() });
      const otherSp = samlify.ServiceProvider({
        entityID: SP_ENTITY_ID,
        assertionConsumerService: [
          { Binding: samlify.Constants.namespace.binding.post, Location: 'https://attacker.example/acs' },
        ],
      });
      const { context } = otherSp.createLoginRequest(idp, 'redirect');
      const refused = await fetch(context);
      expect(refused.status).toBe(400);
      expect(await refused.text()).toContain('unknown_destination');

      const broken = await fetch(`${tenant.ssoUrl}?SAMLRequest=${encodeURIComponent('bm90IGRlZmxhdGU=')}`);
      expect(broken.status).toBe(400);
      expect(await broken.text()).toContain('invalid_encoding');
    });

    it('shows a login form without a "login as" user, and signs in the e-mail posted to it', async () => {
      tenant.setLoginAs(null);
      const idp = samlify.IdentityProvider({ metadata: tenant.metadataXml() });
      const { context, id } = serviceProvider().createLoginRequest(idp, 'redirect', {
        relayState: 'rs-form',
      });

      const page = await fetch(context);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('id="idp-login"');
      await expect(sim.followSamlRedirect(context)).rejects.toThrow(/login form/);
      await expect(sim.followSamlRedirect(context, { email: 'nobody@acme.test' })).rejects.toThrow(/401/);

      const post = await sim.followSamlRedirect(context, { email: 'ADA@acme.test' });
      expect(post.RelayState).toBe('rs-form');
      const doc = parseXml(decode(post.SAMLResponse));
      expect(one(doc, 'NameID').textContent).toBe(ADA.email);
      expect(doc.documentElement?.getAttribute('InResponseTo')).toBe(id);
    });
  });

  describe('IdP-initiated launch and the app tile', () => {
    it('posts an unsolicited response without InResponseTo', async () => {
      const post = await sim.followSamlRedirect(
        tenant.launchUrlFor({ acsUrl: ACS_URL, audience: SP_ENTITY_ID, relayState: 'tile' }),
      );
      expect(post.acsUrl).toBe(ACS_URL);
      expect(post.RelayState).toBe('tile');
      const xml = decode(post.SAMLResponse);
      expect(xml).not.toContain('InResponseTo');
      expect(one(parseXml(xml), 'Audience').textContent).toBe(SP_ENTITY_ID);
      await expect(samlifyParse(tenant, post.SAMLResponse)).resolves.toBeDefined();
    });

    it('the tile opens the configured login URL, or launches IdP-initiated SSO without one', async () => {
      const launched = await fetch(tenant.appUrl, { redirect: 'manual' });
      expect(launched.status).toBe(302);
      expect(launched.headers.get('location')).toBe(tenant.launchUrl);
      const viaTile = await sim.followSamlRedirect(tenant.appUrl);
      expect(viaTile.acsUrl).toBe(ACS_URL);

      tenant.update({ appLoginUrl: 'https://console.example/login?sso=true' });
      const tile = await fetch(tenant.appUrl, { redirect: 'manual' });
      expect(tile.status).toBe(302);
      expect(tile.headers.get('location')).toBe('https://console.example/login?sso=true');
    });
  });
});

describe('group attribute', () => {
  it('sends only groups with the prefix, all with an empty prefix, none when omitted', async () => {
    const tenant = await tenantWithAda('okta');
    const groups = () => attributeValues(parseXml(respond(tenant).xml), 'groups');
    expect(groups()).toEqual(['anthropic-acme-admin', 'anthropic-acme-member']);

    tenant.update({ groupPrefix: 'engin' });
    expect(groups()).toEqual(['engineering']);
    tenant.update({ groupPrefix: '' });
    expect(groups()).toEqual(ADA.groups);

    tenant.update({ groupPrefix: 'anthropic-' });
    tenant.setGroups(ADA.email, ['engineering']);
    expect(groups()).toEqual([]);

    tenant.update({ omitGroups: true });
    expect(groups()).toBeUndefined();
  });

  it('Entra sends the Graph link instead of groups on overage', async () => {
    const tenant = await tenantWithAda('entra-id', { omitGroups: true });
    const doc = parseXml(respond(tenant).xml);
    expect(
      attributeValues(doc, 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups'),
    ).toBeUndefined();
    expect(attributeValues(doc, 'http://schemas.microsoft.com/claims/groups.link')?.[0]).toMatch(
      /^https:\/\/graph/,
    );
  });
});

describe('JSON API', () => {
  async function api(method: string, path: string, body?: unknown) {
    const response = await fetch(`${sim.apiUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  it('drives a tenant end to end', async () => {
    const created = await api('POST', '/tenants', { tenantId: 'api-okta', preset: 'okta' });
    expect(created.status).toBe(201);
    expect(created.json.entityId).toBe(`${sim.baseUrl}/api-okta/saml`);

    expect((await api('POST', '/tenants/api-okta/users', ADA)).status).toBe(201);
    const renamed = await api('PATCH', `/tenants/api-okta/users/${encodeURIComponent(ADA.email)}`, {
      email: 'ada.l@acme.test',
    });
    expect(renamed.json.email).toBe('ada.l@acme.test');
    expect((await api('PUT', '/tenants/api-okta/login-as', { email: 'ada.l@acme.test' })).status).toBe(200);
    expect(
      (await api('POST', '/tenants/api-okta/service-providers', { entityId: SP_ENTITY_ID, acsUrl: ACS_URL }))
        .status,
    ).toBe(201);

    const post = await api('POST', '/tenants/api-okta/saml-responses', {
      acsUrl: ACS_URL,
      audience: SP_ENTITY_ID,
      relayState: 'x',
      expired: true,
    });
    expect(post.status).toBe(200);
    expect(post.json.RelayState).toBe('x');
    expect(decode(String(post.json.SAMLResponse))).toContain('ada.l@acme.test');

    const rotated = await api('POST', '/tenants/api-okta/signing-keys/rotate', { keepOld: true });
    expect(rotated.json.publishedCertificates).toHaveLength(2);
    const metadata = await (await fetch(`${sim.url}/api-okta/saml/metadata`)).text();
    expect(metadata.match(/<md:KeyDescriptor use="signing">/g)).toHaveLength(2);

    const faults = await api('PUT', '/tenants/api-okta/saml-faults', { expire: true });
    expect(faults).toMatchObject({ status: 400, json: { error: 'invalid_input' } });
    expect((await api('GET', '/tenants/nope')).status).toBe(404);
    expect((await api('DELETE', '/tenants/api-okta')).status).toBe(200);
  });
});

describe('OIDC provider', () => {
  let tenant: IdpTenant;
  const clientId = 'console-conn-1';
  const clientSecret = 's3cret-s3cret-s3cret';

  beforeAll(async () => {
    tenant = await tenantWithAda('okta');
    tenant.registerOidcClient({ clientId, clientSecret, redirectUris: [REDIRECT_URI] });
  });

  async function configuration(issuer = tenant.oidcIssuer, id = clientId, secret = clientSecret) {
    return client.discovery(new URL(issuer), id, undefined, client.ClientSecretBasic(secret), {
      execute: [client.allowInsecureRequests],
    });
  }

  async function authorize(config: client.Configuration, email?: string) {
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      nonce,
      state,
    });
    const callback = await sim.followOidcAuthorization(url.href, {
      redirectUri: REDIRECT_URI,
      ...(email ? { email } : {}),
    });
    return { callback, checks: { pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state } };
  }

  it('runs the code flow with PKCE and returns the ID token claims', async () => {
    const config = await configuration();
    expect(config.serverMetadata().issuer).toBe(tenant.oidcIssuer);
    expect(config.serverMetadata().code_challenge_methods_supported).toEqual(['S256']);
    const { callback, checks } = await authorize(config);
    const tokens = await client.authorizationCodeGrant(config, callback, checks);
    const claims = tokens.claims();
    expect(claims).toMatchObject({
      iss: tenant.oidcIssuer,
      aud: clientId,
      sub: tenant.user(ADA.email)?.subject,
      email: ADA.email,
      email_verified: true,
      given_name: 'Ada',
      family_name: 'Lovelace',
      name: 'Ada Lovelace',
      groups: ['anthropic-acme-admin', 'anthropic-acme-member'],
      nonce: checks.expectedNonce,
    });
    expect(decodeProtectedHeader(tokens.id_token ?? '').alg).toBe('RS256');
  });

  it('requires PKCE', async () => {
    const config = await configuration();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      state: 's',
    });
    const callback = await sim.followOidcAuthorization(url.href, { redirectUri: REDIRECT_URI });
    expect(callback.searchParams.get('error')).toBe('invalid_request');
    expect(callback.searchParams.get('error_description')).toMatch(/PKCE/);
  });

  it('shows a login form without a "login as" user, and can omit the groups claim', async () => {
    const other = await sim.createTenant({ preset: 'entra-id', users: [ADA], omitGroups: true });
    other.registerOidcClient({ clientId, clientSecret, redirectUris: [REDIRECT_URI] });
    const config = await configuration(other.oidcIssuer);
    await expect(authorize(config)).rejects.toThrow(/login form/);
    const { callback, checks } = await authorize(config, ADA.email);
    const claims = (await client.authorizationCodeGrant(config, callback, checks)).claims();
    expect(claims?.email).toBe(ADA.email);
    expect(claims).not.toHaveProperty('groups');
  });

  it.each<[keyof OidcFaults, OidcFaults, (token: string, checks: { expectedNonce: string }) => void, RegExp]>(
    [
      [
        'wrongIssuer',
        { wrongIssuer: true },
        (token) => expect(decodeJwt(token).iss).toBe('https://wrong-issuer.example'),
        /"iss"/,
      ],
      [
        'wrongAudience',
        { wrongAudience: true },
        (token) => expect(decodeJwt(token).aud).toBe('another-client'),
        /"aud"/,
      ],
      [
        'badNonce',
        { badNonce: true },
        (token, checks) => {
          expect(decodeJwt(token).nonce).toBeTruthy();
          expect(decodeJwt(token).nonce).not.toBe(checks.expectedNonce);
        },
        /"nonce"/,
      ],
      [
        'algNone',
        { algNone: true },
        (token) => {
          expect(decodeProtectedHeader(token).alg).toBe('none');
          expect(token.endsWith('.')).toBe(true);
        },
        /"alg"/,
      ],
      [
        'expiredIdToken',
        { expiredIdToken: true },
        (token) => expect(decodeJwt(token).exp ?? 0).toBeLessThan(Date.now() / 1000),
        /"exp"/,
      ],
    ],
  )('fault %s', async (_name, faults, check, refusal) => {
    tenant.setOidcFaults(faults);
    try {
      const config = await configuration();
      // The raw token, by a plain token request, to look at exactly what the IdP sent.
      const raw = await authorize(config);
      const response = await fetch(config.serverMetadata().token_endpoint ?? '', {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: raw.callback.searchParams.get('code') ?? '',
          redirect_uri: REDIRECT_URI,
          code_verifier: raw.checks.pkceCodeVerifier,
        }),
      });
      expect(response.status).toBe(200);
      const { id_token: idToken } = (await response.json()) as { id_token: string };
      check(idToken, raw.checks);
      // And a real relying party refuses it.
      const { callback, checks } = await authorize(config);
      const error = await client.authorizationCodeGrant(config, callback, checks).then(
        () => undefined,
        (err: unknown) => err as Error & { cause?: unknown },
      );
      // openid-client's own message is generic; the cause names the claim it refused.
      expect(error?.cause).toBeInstanceOf(Error);
      expect((error?.cause as Error).message).toMatch(refusal);
    } finally {
      tenant.setOidcFaults({});
    }
  });

  it('plays Google for social login', async () => {
    const google = await sim.createTenant({
      preset: 'google',
      users: [{ email: 'grace@gmail.com', firstName: 'Grace', lastName: 'Hopper', groups: ['anthropic-x'] }],
      loginAs: 'grace@gmail.com',
    });
    google.addUser({ email: 'linus@acme.test', hostedDomain: 'acme.test' });
    google.registerOidcClient({ clientId: 'google-client', clientSecret, redirectUris: [REDIRECT_URI] });
    const config = await configuration(google.oidcIssuer, 'google-client');
    const { callback, checks } = await authorize(config);
    const claims = (await client.authorizationCodeGrant(config, callback, checks)).claims();
    expect(claims).toMatchObject({
      iss: `${sim.baseUrl}/google/oidc`,
      email: 'grace@gmail.com',
      email_verified: true,
    });
    expect(claims?.sub).toMatch(/^\d{21}$/);
    expect(claims).not.toHaveProperty('groups');
    expect(claims).not.toHaveProperty('hd');

    google.setLoginAs('linus@acme.test');
    const second = await authorize(config);
    const linus = (await client.authorizationCodeGrant(config, second.callback, second.checks)).claims();
    expect(linus?.hd).toBe('acme.test');
  });
});
