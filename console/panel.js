// A section whose body is (re)loaded from the API: the shape every screen of the console shares.
import { h } from './dom.js';

/**
 * @param {(body: HTMLElement) => Promise<void>} load fills the body; a failure is shown in its place
 * @returns {{ element: HTMLElement, reload: () => Promise<void> }}
 */
export function panel(load) {
  const element = h('div', { class: 'panel-body', 'aria-busy': 'true' });
  const reload = async () => {
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
    element.replaceChildren(...body.childNodes);
    element.setAttribute('aria-busy', 'false');
  };
  void reload();
  return { element, reload };
}

/**
 * What a screen gets: the things it shows and a way to stop its subscriptions and timers when the
 * person moves on.
 * @typedef {{ organizationId: string, parentId: string, onLeave: (stop: () => void) => void }} ScreenContext
 */
