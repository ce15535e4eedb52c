// The console's only way to the server: the public GraphQL API over HTTP (with the session cookie) and
// its subscriptions over graphql-ws on the same path.

/**
 * Marks a GraphQL document; a test validates every marked document against the schema.
 * @param {TemplateStringsArray} strings
 */
export const gql = (strings) => strings.join('');

export class ApiError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

/**
 * @template T
 * @param {string} query
 * @param {Record<string, unknown>} [variables]
 * @returns {Promise<T>}
 */
export async function request(query, variables = {}) {
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ query, variables }),
  });
  /** @type {{ data?: T, errors?: { message: string, extensions?: { code?: string } }[] }} */
  const body = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
  const error = body.errors?.[0];
  if (error) throw new ApiError(error.extensions?.code ?? 'ERROR', error.message);
  return /** @type {T} */ (body.data);
}

/**
 * Runs a mutation whose payload carries userErrors; the first one is thrown as an ApiError.
 * @param {string} query
 * @param {Record<string, unknown>} [variables]
 * @returns {Promise<Record<string, unknown>>} the payload
 */
export async function mutate(query, variables) {
  /** @type {Record<string, { userErrors: { code?: string, message: string }[] }>} */
  const data = await request(query, variables);
  const payload = Object.values(data)[0];
  const userError = payload?.userErrors[0];
  if (userError) throw new ApiError(userError.code ?? 'INVALID', userError.message);
  return payload ?? {};
}

/** @type {import('graphql-ws').Client | undefined} */
let client;
/** What to re-read after the socket reconnected: events sent while it was away are lost. */
const resyncs = new Set();

/** @param {string} message shown until the page is reloaded; empty clears it */
function liveStatus(message) {
  const status = document.getElementById('live-status');
  if (status) status.textContent = message;
}

/**
 * Subscribes until the returned function is called. The server checks access on every event and
 * closes the socket when the session ends; an error stops the live updates and says so on the page.
 * @template T
 * @param {string} query
 * @param {Record<string, unknown>} variables
 * @param {(data: T) => void} onData
 * @param {() => void} resync re-reads what the subscription keeps current, after a reconnection
 * @returns {() => void}
 */
export function subscribe(query, variables, onData, resync) {
  client ??= graphqlWs.createClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
    lazy: true,
    retryAttempts: 5,
    on: {
      connected: (_socket, _payload, wasRetry) => {
        if (!wasRetry) return;
        liveStatus('');
        for (const again of resyncs) again();
      },
    },
  });
  const stopped = (/** @type {string} */ why) =>
    liveStatus(`Live updates stopped (${why}). Reload the page to see the latest state.`);
  resyncs.add(resync);
  const unsubscribe = client.subscribe(
    { query, variables },
    {
      next: (result) => {
        if (result.errors?.length) stopped(result.errors[0]?.message ?? 'error');
        else if (result.data) onData(/** @type {T} */ (result.data));
      },
      error: () => stopped('the connection was lost'),
      complete: () => {},
    },
  );
  return () => {
    resyncs.delete(resync);
    unsubscribe();
  };
}
