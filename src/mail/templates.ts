// Every mail the product sends, as plain text with a minimal HTML twin. Links are absolute (PUBLIC_URL).

import { escapeHtml } from '../lib/html.js';

export interface MailContent {
  subject: string;
  text: string;
  html?: string;
}

function withHtml(subject: string, lines: string[], link?: { href: string; label: string }): MailContent {
  const text = [...lines, ...(link ? ['', `${link.label}: ${link.href}`] : [])].join('\n');
  const html =
    lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('') +
    (link ? `<p><a href="${escapeHtml(link.href)}">${escapeHtml(link.label)}</a></p>` : '');
  return { subject, text, html };
}

export const mailTemplates = {
  loginCode: (code: string, minutes: number): MailContent =>
    withHtml(`Your sign-in code: ${code}`, [
      `Your sign-in code is ${code}.`,
      `It expires in ${minutes} minutes and works once. If you did not ask for it, ignore this mail.`,
    ]),

  invitation: (organizationName: string, inviterEmail: string, role: string, link: string): MailContent =>
    withHtml(
      `You are invited to ${organizationName}`,
      [
        `${inviterEmail} invited you to join ${organizationName} as ${role}.`,
        'The link works once and expires in 7 days.',
      ],
      { href: link, label: 'Accept the invitation' },
    ),
};
