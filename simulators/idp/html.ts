// The pages a browser sees at the simulated IdP (auto-submitting SAML POST form, e-mail login form, error
// page) and the reverse: reading those forms back, as a test standing in for the browser must.

export function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const escapeHtml = escapeXml;

function unescapeHtml(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_match, entity: string) => {
    const lower = entity.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[lower] ?? '';
  });
}

function page(title: string, body: string, onload = ''): string {
  return (
    '<!DOCTYPE html><html><head><meta charset="utf-8">' +
    `<title>${escapeHtml(title)}</title></head><body${onload}>${body}</body></html>`
  );
}

/** The HTTP-POST binding page: the browser submits it on load, a person without scripts clicks. */
export function autoPostForm(action: string, fields: Record<string, string | undefined>): string {
  const inputs = Object.entries(fields)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  return page(
    'Signing in',
    `<form id="saml-post" method="post" action="${escapeHtml(action)}">${inputs}` +
      '<noscript><button type="submit">Continue</button></noscript></form>',
    ' onload="document.forms[0].submit()"',
  );
}

export function loginForm(action: string, hidden: Record<string, string>, error?: string): string {
  const inputs = Object.entries(hidden)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  const message = error ? `<p role="alert">${escapeHtml(error)}</p>` : '';
  return page(
    'Sign in',
    `<h1>Sign in</h1>${message}<form id="idp-login" method="post" action="${escapeHtml(action)}">${inputs}` +
      '<label>E-mail <input type="email" name="email" autocomplete="username"></label>' +
      '<button type="submit">Sign in</button></form>',
  );
}

export function errorPage(code: string, message: string): string {
  return page('Error', `<h1>${escapeHtml(code)}</h1><p>${escapeHtml(message)}</p>`);
}

export interface HtmlForm {
  id: string | undefined;
  action: string;
  fields: Record<string, string>;
}

/** Reads the first form of a page the simulator rendered (its markup is known, so a regex is enough). */
export function parseForm(html: string): HtmlForm | undefined {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) return undefined;
  const attrs = form[1] ?? '';
  const attr = (source: string, name: string): string | undefined => {
    const match = new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(source);
    return match?.[1] === undefined ? undefined : unescapeHtml(match[1]);
  };
  const fields: Record<string, string> = {};
  for (const input of (form[2] ?? '').matchAll(/<input\b([^>]*)>/gi)) {
    const source = input[1] ?? '';
    const name = attr(source, 'name');
    if (name !== undefined && attr(source, 'type') === 'hidden') fields[name] = attr(source, 'value') ?? '';
  }
  return { id: attr(attrs, 'id'), action: attr(attrs, 'action') ?? '', fields };
}
