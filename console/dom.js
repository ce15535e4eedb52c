// A few DOM helpers. Text always goes in as text nodes, never as markup, so no value from the API can
// become HTML.

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 * @param {string} tag
 * @param {Record<string, string | boolean | EventListener | undefined>} [attrs] `on<event>` entries are listeners
 * @param {(Child | Child[])[]} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  return fill(element, ...children);
}

/**
 * Replaces an element's content, leaving out the null, undefined and false of conditional children.
 * @template {HTMLElement} E
 * @param {E} element
 * @param {(Child | Child[])[]} children
 * @returns {E}
 */
export function fill(element, ...children) {
  element.replaceChildren();
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** @param {string} text @param {string} label what is copied, for screen readers */
export function copyButton(text, label) {
  const button = h('button', { type: 'button', class: 'secondary', 'aria-label': `Copy ${label}` }, 'Copy');
  button.addEventListener('click', async () => {
    await navigator.clipboard?.writeText(text).catch(() => {});
    button.textContent = 'Copied';
    announce(`${label} copied`);
    setTimeout(() => (button.textContent = 'Copy'), 1500);
  });
  return button;
}

/** A value to copy, shown whole in a read-only field with its copy button. */
/** @param {string} label @param {string} value */
export function copyField(label, value) {
  const id = controlId('copy');
  return h(
    'div',
    { class: 'copy-field' },
    h('label', { for: id }, label),
    h('div', { class: 'row' }, h('input', { id, value, readonly: true }), copyButton(value, label)),
  );
}

const BADGE = /** @type {Record<string, string>} */ ({
  PENDING: 'Pending',
  VERIFIED: 'Verified',
  FAILED: 'Failed',
  UNVERIFIED: 'Unverified',
  BLOCKED: 'Blocked',
  DRAFT: 'Draft',
  ACTIVE: 'Active',
  INACTIVE: 'Inactive',
});

/** @param {string} status */
export function badge(status) {
  return h('span', { class: `badge badge-${status.toLowerCase()}` }, BADGE[status] ?? status);
}

/** Says something to screen readers through the page's polite live region. */
/** @param {string} message */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (region) region.textContent = message;
}

/** @param {Date | string | null | undefined} value */
export function when(value) {
  return value ? new Date(value).toLocaleString() : 'never';
}

/**
 * Runs `action` for a control: the control is disabled meanwhile and a failure is written to `error`
 * (a live region that stays in the page, so screen readers announce what lands in it).
 * @param {HTMLElement} control
 * @param {HTMLElement} error
 * @param {() => Promise<void>} action
 */
async function run(control, error, action) {
  error.textContent = '';
  control.setAttribute('disabled', '');
  try {
    await action();
  } catch (failure) {
    error.textContent = failure instanceof Error ? failure.message : String(failure);
  } finally {
    control.removeAttribute('disabled');
  }
}

/**
 * A form whose submit runs `action` with its fields; errors are shown in the form, not lost.
 * @param {{ label: string, action: (data: FormData) => Promise<void> }} options
 * @param {(Child | Child[])[]} fields
 */
export function form({ label, action }, ...fields) {
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, label);
  const element = /** @type {HTMLFormElement} */ (
    h('form', {}, ...fields, h('div', { class: 'row' }, submit), error)
  );
  element.addEventListener('submit', (event) => {
    event.preventDefault();
    void run(submit, error, () => action(new FormData(element)));
  });
  return element;
}

/**
 * A button that runs `action`; its failure is shown next to it.
 * @param {string} label
 * @param {() => Promise<void>} action
 * @param {{ class?: string, 'aria-label'?: string }} [attrs]
 */
export function actionButton(label, action, attrs = {}) {
  const error = h('span', { class: 'error', role: 'alert' });
  const button = h('button', { type: 'button', ...attrs }, label);
  button.addEventListener('click', () => void run(button, error, action));
  return h('span', { class: 'action' }, button, error);
}

/** A unique id for a control and its label. @param {string} name */
const controlId = (name) => `field-${name}-${Math.random().toString(36).slice(2, 9)}`;

/** @param {string} name @param {string} label @param {Record<string, string | boolean>} [attrs] */
export function field(name, label, attrs = {}) {
  const id = controlId(name);
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, name, ...attrs }));
}

/** @param {string} name @param {string} label @param {string[]} options @param {string} [selected] */
export function select(name, label, options, selected) {
  const id = controlId(name);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    h(
      'select',
      { id, name },
      options.map((option) => h('option', { value: option, selected: option === selected }, option)),
    ),
  );
}

/** A section with a heading that a screen reader can jump to. */
/** @param {string} id @param {string} title @param {(Child | Child[])[]} children */
export function section(id, title, ...children) {
  return h(
    'section',
    { id, 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, title),
    ...children,
  );
}

/**
 * Asks before something that cannot be undone, in a modal dialog (focus moves into it and returns after).
 * @param {string} message
 * @param {string} confirmLabel
 * @param {(Child | Child[])[]} details
 * @returns {Promise<boolean>}
 */
export function confirmDialog(message, confirmLabel, ...details) {
  const dialog = /** @type {HTMLDialogElement} */ (
    h(
      'dialog',
      { 'aria-labelledby': 'dialog-message' },
      h(
        'form',
        { method: 'dialog' },
        h('p', { id: 'dialog-message' }, message),
        ...details,
        h(
          'div',
          { class: 'row' },
          h('button', { value: 'cancel', class: 'secondary' }, 'Cancel'),
          h('button', { value: 'confirm', class: 'danger' }, confirmLabel),
        ),
      ),
    )
  );
  document.body.append(dialog);
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
  });
}
