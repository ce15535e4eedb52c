// Advanced Group Mappings of one organization: the IdP group names to create (ready to copy), who would
// lose access or change role, and the toggle (refused when it locks admins out, unless forced).
import { ApiError, gql, mutate, request } from './api.js';
import { announce, confirmDialog, copyField, fill, h, section } from './dom.js';
import { panel } from './panel.js';

const MAPPINGS = gql`
  query ConsoleMappings($organizationId: ID!) {
    organization(id: $organizationId) {
      id
      advancedGroupMappings
      groupMappingNames {
        groupName
        role
      }
    }
  }
`;
const PREVIEW = gql`
  query ConsoleMappingsPreview($organizationId: ID!) {
    advancedGroupMappingsPreview(organizationId: $organizationId) {
      actorLosesAdmin
      leavesNoAdmin
      loseAccess {
        email
        currentRole
        groupsKnown
      }
      roleChanges {
        email
        currentRole
        newRole
        groupsKnown
      }
    }
  }
`;
const UPDATE = gql`
  mutation ConsoleMappingsUpdate($organizationId: ID!, $input: AdvancedGroupMappingsInput!) {
    advancedGroupMappingsUpdate(organizationId: $organizationId, input: $input) {
      userErrors {
        code
        message
      }
    }
  }
`;

/**
 * @typedef {{ email: string, currentRole: string, newRole?: string | null, groupsKnown: boolean }} Impact
 * @typedef {{ actorLosesAdmin: boolean, leavesNoAdmin: boolean, loseAccess: Impact[], roleChanges: Impact[] }} Preview
 */

/** @param {import('./panel.js').ScreenContext} context */
export function mappingsSection({ organizationId }) {
  const view = panel(async (body) => {
    /** @type {{ organization: { advancedGroupMappings: boolean, groupMappingNames: { groupName: string, role: string }[] } }} */
    const data = await request(MAPPINGS, { organizationId });
    const enabled = data.organization.advancedGroupMappings;
    /** @type {Preview | null} */
    const preview = enabled
      ? null
      : /** @type {{ advancedGroupMappingsPreview: Preview }} */ (await request(PREVIEW, { organizationId }))
          .advancedGroupMappingsPreview;
    const toggle = /** @type {HTMLInputElement} */ (
      h('input', { type: 'checkbox', role: 'switch', id: 'mappings-toggle', checked: enabled })
    );
    const error = h('p', { class: 'error', role: 'alert' });
    // Asks with the impact as it is now, not as it was when the page loaded; the switch is held meanwhile.
    const change = async () => {
      const turnOn = !enabled;
      if (turnOn) {
        /** @type {{ advancedGroupMappingsPreview: Preview }} */
        const now = await request(PREVIEW, { organizationId });
        const impact = impactList(now.advancedGroupMappingsPreview);
        if (!(await confirmDialog('Turn on Advanced Group Mappings?', 'Turn on', impact))) return;
      }
      try {
        await mutate(UPDATE, { organizationId, input: { enabled: turnOn, force: false } });
      } catch (failure) {
        if (!(failure instanceof ApiError && failure.code === 'LOCKOUT')) throw failure;
        const warning = h('p', { class: 'warning' }, 'Admins who have no mapped group lose access at once.');
        if (!(await confirmDialog(failure.message, 'Turn on anyway', warning))) return;
        await mutate(UPDATE, { organizationId, input: { enabled: true, force: true } });
      }
      announce(`Advanced Group Mappings ${turnOn ? 'on' : 'off'}`);
      await view.reload();
    };
    toggle.addEventListener('change', async () => {
      toggle.checked = enabled;
      error.textContent = '';
      toggle.disabled = true;
      try {
        await change();
      } catch (failure) {
        error.textContent = failure instanceof Error ? failure.message : String(failure);
      } finally {
        toggle.disabled = false;
      }
    });
    fill(
      body,
      h(
        'div',
        { class: 'switch' },
        toggle,
        h('label', { for: 'mappings-toggle' }, 'Advanced Group Mappings'),
        h('span', { class: 'muted' }, enabled ? ' On: IdP groups decide access and roles.' : ' Off'),
      ),
      error,
      h(
        'p',
        {},
        'Create these groups in your IdP and assign people to them. Names are exact and case-sensitive.',
      ),
      h(
        'div',
        { class: 'group-names' },
        data.organization.groupMappingNames.map((name) => copyField(`${name.role} group`, name.groupName)),
      ),
      preview && h('div', { class: 'preview' }, h('h3', {}, 'If you turn it on now'), impactList(preview)),
    );
  });
  return section('mappings', 'Advanced Group Mappings', view.element);
}

/** @param {Preview} preview */
function impactList(preview) {
  /** @param {Impact} impact @param {string} change */
  const item = (impact, change) =>
    h(
      'li',
      {},
      `${impact.email}: ${change}`,
      impact.groupsKnown ? '' : ' (no groups received from the IdP yet)',
    );
  const lines = [
    ...preview.loseAccess.map((impact) => item(impact, `loses access (now ${impact.currentRole})`)),
    ...preview.roleChanges.map((impact) => item(impact, `${impact.currentRole} becomes ${impact.newRole}`)),
  ];
  return h(
    'div',
    { class: 'impact' },
    preview.actorLosesAdmin &&
      h('p', { class: 'warning' }, 'You would lose the role that manages this setting.'),
    preview.leavesNoAdmin && h('p', { class: 'warning' }, 'No one would be left as an admin.'),
    lines.length === 0 ? h('p', {}, 'No one loses access or changes role.') : h('ul', {}, lines),
  );
}
