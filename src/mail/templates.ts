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

  parentRequestReceived: (organizationName: string): MailContent =>
    withHtml(`We received your request for ${organizationName}`, [
      `Your request for a parent organization for ${organizationName} reached our Sales team.`,
      'Once it is approved, the Identity settings page appears in your organization.',
    ]),

  parentRequestForSales: (
    organizationName: string,
    requesterEmail: string,
    message: string | null,
  ): MailContent =>
    withHtml(`Parent organization requested: ${organizationName}`, [
      `${requesterEmail} asks for a parent organization for ${organizationName}.`,
      ...(message ? [`Their message: ${message}`] : []),
    ]),

  parentRequestDecided: (organizationName: string, status: string, note: string | null): MailContent =>
    withHtml(
      status === 'APPROVED'
        ? `${organizationName} now has a parent organization`
        : `Your parent organization request for ${organizationName} was declined`,
      [
        status === 'APPROVED'
          ? `${organizationName} is now linked to its own parent organization: the Identity settings page is available to its admins.`
          : `Our Sales team declined the request for ${organizationName}.`,
        ...(note ? [`Note: ${note}`] : []),
      ],
    ),

  mergeProposal: (incomingName: string, targetName: string, side: string, link: string): MailContent =>
    withHtml(
      `Approve linking ${incomingName} to ${targetName}`,
      [
        `Your account manager proposes to link ${incomingName} to the parent organization ${targetName}, so both share one identity setup (domains, SSO, SCIM).`,
        side === 'INCOMING'
          ? `You are asked as an admin of ${incomingName}.`
          : `You are asked as an owner of an Enterprise organization of ${targetName}.`,
        'One approval from each side completes the merge. The link works once and expires in 72 hours; approving needs you to be signed in as this address.',
      ],
      { href: link, label: 'Review the proposal' },
    ),

  mergeCompleted: (incomingName: string, targetName: string): MailContent =>
    withHtml(`${incomingName} is now linked to ${targetName}`, [
      `Both sides approved: ${incomingName} now shares the identity settings of ${targetName}.`,
      'Its admins can open the Identity settings page and enable features such as Advanced Group Mappings.',
    ]),

  domainUnverified: (domain: string, recordName: string): MailContent =>
    withHtml(`${domain} is no longer verified`, [
      `The verification record of ${domain} (${recordName}) was missing on three checks over three days, so ${domain} is no longer verified.`,
      'Sign-ins by its addresses are no longer routed to your SSO; accounts stay as they are. To verify it again, restart the claim and publish the new record.',
    ]),
};
