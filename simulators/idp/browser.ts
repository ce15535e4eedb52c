// The browser's part of SSO, for tests: follow the IdP's redirects and pages until the point where the
// browser would hand something to the service provider (the SAML POST form, or the OIDC redirect_uri).
// These run over real HTTP, so they work against an in-process simulator or one in another process.
import { parseForm, type HtmlForm } from './html.js';
import type { SamlFormPost } from './tenant.js';

export interface FollowSamlOptions {
  /** Submitted when the IdP shows its login form (no "login as" user is set). */
  email?: string;
  maxRedirects?: number;
}

export interface FollowOidcOptions {
  /** The client's redirect_uri: following stops when a redirect goes there (it is never fetched). */
  redirectUri: string;
  email?: string;
  maxRedirects?: number;
}

const DEFAULT_MAX_REDIRECTS = 10;

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

async function failure(response: Response, what: string): Promise<Error> {
  const body = (await response.text())
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return new Error(`${what}: HTTP ${response.status} ${body.slice(0, 300)}`);
}

/**
 * Given our SP's redirect to the IdP (its Location), returns the fields the browser would POST to the ACS.
 * Redirects are followed without cookies: this is the IdP's side only.
 */
export async function followSamlRedirect(
  url: string,
  options: FollowSamlOptions = {},
): Promise<SamlFormPost> {
  let current = new URL(url);
  let response = await fetch(current, { redirect: 'manual' });
  for (let hops = 0; isRedirect(response.status); hops++) {
    const location = response.headers.get('location');
    if (!location || hops >= (options.maxRedirects ?? DEFAULT_MAX_REDIRECTS)) {
      throw new Error(`too many or empty redirects from ${current.href}`);
    }
    current = new URL(location, current);
    response = await fetch(current, { redirect: 'manual' });
  }
  if (!response.ok) throw await failure(response, `IdP refused ${current.pathname}`);
  let form = parseForm(await response.text());

  if (form?.id === 'idp-login') {
    if (!options.email) {
      throw new Error('the IdP shows its login form (no "login as" user is set): pass { email }');
    }
    const action = new URL(form.action, current);
    response = await fetch(action, {
      method: 'POST',
      body: new URLSearchParams({ ...form.fields, email: options.email }),
      redirect: 'manual',
    });
    if (!response.ok) throw await failure(response, `IdP login as ${options.email} failed`);
    current = action;
    form = parseForm(await response.text());
  }
  return samlPostFromForm(form, current);
}

function samlPostFromForm(form: HtmlForm | undefined, base: URL): SamlFormPost {
  const samlResponse = form?.fields.SAMLResponse;
  if (!form || form.id !== 'saml-post' || samlResponse === undefined) {
    throw new Error('the IdP page is not a SAML POST form');
  }
  const relayState = form.fields.RelayState;
  return {
    acsUrl: new URL(form.action, base).href,
    SAMLResponse: samlResponse,
    ...(relayState === undefined ? {} : { RelayState: relayState }),
  };
}

/** A cookie jar just good enough for oidc-provider's interaction and session cookies. */
class CookieJar {
  private readonly cookies = new Map<string, Map<string, string>>();

  header(url: URL): Record<string, string> {
    const jar = this.cookies.get(url.origin);
    if (!jar || jar.size === 0) return {};
    return { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join('; ') };
  }

  store(url: URL, response: Response): void {
    let jar = this.cookies.get(url.origin);
    if (!jar) this.cookies.set(url.origin, (jar = new Map()));
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const separator = pair.indexOf('=');
      if (separator <= 0) continue;
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1).trim();
      const expired = attributes.some((attribute) => {
        const [key = '', raw = ''] = attribute.split('=');
        const k = key.trim().toLowerCase();
        if (k === 'max-age') return Number(raw) <= 0;
        if (k === 'expires') return Date.parse(raw) <= Date.now();
        return false;
      });
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
  }
}

function sameEndpoint(a: URL, b: URL): boolean {
  return a.origin === b.origin && a.pathname === b.pathname;
}

/**
 * Follows an OIDC authorization URL through the IdP (with cookies, as a browser would) and returns the URL
 * the browser is finally sent to: the redirect_uri with `code` and `state`, or with `error`.
 */
export async function followOidcAuthorization(url: string, options: FollowOidcOptions): Promise<URL> {
  const target = new URL(options.redirectUri);
  const jar = new CookieJar();
  let current = new URL(url);
  let init: RequestInit = {};
  const max = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  for (let hops = 0; hops <= max; hops++) {
    if (sameEndpoint(current, target)) return current;
    const response = await fetch(current, {
      ...init,
      redirect: 'manual',
      headers: { ...jar.header(current), ...(init.headers as Record<string, string> | undefined) },
    });
    jar.store(current, response);
    init = {};
    if (isRedirect(response.status)) {
      const location = response.headers.get('location');
      if (!location) throw new Error(`redirect without Location from ${current.href}`);
      current = new URL(location, current);
      continue;
    }
    if (!response.ok) throw await failure(response, `IdP refused ${current.pathname}`);
    const form = parseForm(await response.text());
    if (form?.id !== 'idp-login') throw new Error(`unexpected page at ${current.href}`);
    if (!options.email) {
      throw new Error('the IdP shows its login form (no "login as" user is set): pass { email }');
    }
    current = new URL(form.action, current);
    init = {
      method: 'POST',
      body: new URLSearchParams({ ...form.fields, email: options.email }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    };
  }
  throw new Error(`more than ${max} redirects without reaching ${options.redirectUri}`);
}
