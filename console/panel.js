// A section whose body is (re)loaded from the API: the shape every screen of the console shares.
import { h } from './dom.js';

/**
 * Reloads never overlap: a reload asked for while one runs makes one more run after it, so a burst of
 * live events costs two queries and the newest answer is the one shown. Focus inside the body survives a
 * reload: it returns to the control with the same label, or to the section's heading.
 * @param {(body: HTMLElement) => Promise<void>} load fills the body; a failure is shown in its place
 * @returns {{ element: HTMLElement, reload: () => Promise<void> }}
 */
export function panel(load) {
  const element = h('div', { class: 'panel-body', 'aria-busy': 'true' });
  /** @type {Promise<void> | undefined} */
  let running;
  let again = false;

  const render = async () => {
    element.setAttribute('aria-busy', 'true');
    const body = h('div');
    try {
      await load(body);
    } catch (failure) {
      body.replaceChildren(
        h(
          'p',
          { class: 'error', role: 'alert' },
          failure instanceof Error ? failure.message : String(failure),
        ),
      );
    }
    const focused = element.contains(document.activeElement) ? document.activeElement : null;
    const label = focused?.getAttribute('aria-label') ?? focused?.textContent?.trim();
    element.replaceChildren(...body.childNodes);
    element.setAttribute('aria-busy', 'false');
    if (focused) restoreFocus(element, label);
  };

  const reload = async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await render();
      } while (again);
    })();
    try {
      await running;
    } finally {
      running = undefined;
    }
  };
  void reload();
  return { element, reload };
}

/** @param {HTMLElement} element @param {string | null | undefined} label */
function restoreFocus(element, label) {
  const controls = [...element.querySelectorAll('button, input, select, textarea, a[href]')];
  const same = controls.find((c) => (c.getAttribute('aria-label') ?? c.textContent?.trim()) === label);
  const heading = /** @type {HTMLElement | null | undefined} */ (
    element.closest('section')?.querySelector('h2')
  );
  heading?.setAttribute('tabindex', '-1');
  /** @type {HTMLElement | null | undefined} */ (same ?? heading)?.focus();
}

/**
 * What a section gets: the organization and parent it shows, and a way to stop its subscriptions and
 * timers when the person moves on.
 * @typedef {{ organizationId: string, parentId: string, onLeave: (stop: () => void) => void }} ScreenContext
 */
