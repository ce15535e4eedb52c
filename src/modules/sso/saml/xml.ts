// The DOM helpers SAML reading shares: a strict parse (any error or fatal error refuses the document)
// and namespace-exact child lookups, which never match an element by its local name alone.
import { DOMParser } from '@xmldom/xmldom';

export class XmlParseError extends Error {}

export function parseXml(xml: string): Element {
  const errors: string[] = [];
  const doc = new DOMParser({
    errorHandler: (level: string, message: unknown) =>
      void (level !== 'warning' && errors.push(String(message))),
  }).parseFromString(xml, 'text/xml');
  if (errors.length > 0 || !doc?.documentElement) throw new XmlParseError(errors[0] ?? 'no document element');
  return doc.documentElement;
}

export function childElements(parent: Element | undefined, ns: string, name: string): Element[] {
  if (!parent) return [];
  return Array.from(parent.childNodes as ArrayLike<Node>).filter(
    (n): n is Element =>
      n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === name,
  );
}

export function childElement(parent: Element | undefined, ns: string, name: string): Element | undefined {
  return childElements(parent, ns, name)[0];
}
