// A merge proposal from an approval e-mail's link: what it links, for which side, and approve or decline
// (only as the addressee, signed in).
import { gql, mutate, request, subscribe } from './api.js';
import { actionButton, confirmDialog, fill, h, when } from './dom.js';
import { panel } from './panel.js';

const REVIEW = gql`
  query ConsoleMergeReview($token: String!) {
    mergeProposalReview(token: $token) {
      approverEmail
      side
      proposal {
        id
        status
        expiresAt
        incomingApprovedAt
        targetApprovedAt
        incomingOrganization {
          name
        }
        targetParent {
          name
        }
      }
    }
  }
`;
const APPROVE = gql`
  mutation ConsoleMergeApprove($token: String!) {
    mergeProposalApprove(input: { token: $token }) {
      userErrors {
        code
        message
      }
      proposal {
        status
      }
    }
  }
`;
const DECLINE = gql`
  mutation ConsoleMergeDecline($token: String!) {
    mergeProposalDecline(input: { token: $token }) {
      userErrors {
        code
        message
      }
      proposal {
        status
      }
    }
  }
`;

const UPDATED = gql`
  subscription ConsoleMergeUpdated($id: ID!) {
    mergeProposalUpdated(id: $id) {
      status
    }
  }
`;

/**
 * @typedef {{ approverEmail: string, side: string, proposal: { id: string, status: string, expiresAt: string,
 *   incomingApprovedAt: string | null, targetApprovedAt: string | null,
 *   incomingOrganization: { name: string }, targetParent: { name: string } } }} Review
 */

/**
 * @param {string} token
 * @param {string} viewerEmail
 * @param {(stop: () => void) => void} onLeave
 */
export function mergeScreen(token, viewerEmail, onLeave) {
  let live = false;
  const view = panel(async (body) => {
    /** @type {{ mergeProposalReview: Review }} */
    const { mergeProposalReview: review } = await request(REVIEW, { token });
    const { proposal } = review;
    // The other side's approval, or the outcome, shows without a reload.
    if (!live) {
      live = true;
      onLeave(subscribe(UPDATED, { id: proposal.id }, () => void view.reload(), view.reload));
    }
    fill(
      body,
      h('h2', {}, `Link ${proposal.incomingOrganization.name} to ${proposal.targetParent.name}?`),
      h('p', {}, `Status: ${proposal.status.toLowerCase()}. Expires ${when(proposal.expiresAt)}.`),
      h(
        'p',
        {},
        `This approval is for the ${review.side === 'INCOMING' ? 'incoming organization' : 'parent organization'}, sent to ${review.approverEmail}.`,
      ),
      decision(review, viewerEmail, async (mutation) => {
        await mutate(mutation, { token });
        await view.reload();
      }),
    );
  });
  return h('div', {}, h('h1', {}, 'Merge proposal'), view.element);
}

/**
 * What the reader of the link can do: approve or decline as the addressee, wait for the other side, or
 * sign in as the addressee.
 * @param {Review} review
 * @param {string} viewerEmail
 * @param {(mutation: string) => Promise<void>} decide
 */
function decision({ proposal, side, approverEmail }, viewerEmail, decide) {
  if (proposal.status !== 'PENDING') return null;
  const approvedAt = side === 'INCOMING' ? proposal.incomingApprovedAt : proposal.targetApprovedAt;
  if (approvedAt)
    return h('p', { role: 'status' }, `Your side approved ${when(approvedAt)}. Waiting for the other side.`);
  if (approverEmail !== viewerEmail)
    return h('p', { class: 'warning' }, `Sign in as ${approverEmail} to approve or decline.`);
  const decline = async () => {
    const question = 'Decline this merge for good? A new proposal would be needed.';
    if (await confirmDialog(question, 'Decline')) await decide(DECLINE);
  };
  return h(
    'div',
    { class: 'row' },
    actionButton('Approve', () => decide(APPROVE)),
    actionButton('Decline', decline, { class: 'danger' }),
  );
}
