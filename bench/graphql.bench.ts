// GraphQL over HTTP under a closed-loop load of 32 connections: the cheapest operation (`{ __typename }`)
// against a bare JSON route on the same Fastify server (what Apollo's pipeline costs), then signed-in
// callers' organizations with their role against that trivial query (what authentication, the database
// and resolvers cost), each connection with a session of its own user. Throughput and p99 latency of
// each, all measured in the same run.
import { OrganizationKind } from '../src/modules/organizations/roles.js';
import { load, type LoadOptions, type LoadResult } from './load.js';
import { report } from './report.js';
import type { BenchResult } from './run.js';
import { benchApp, benchDatabase, signedInUser } from './support.js';

const CONNECTIONS = 32;
const SECONDS = 5;
const ORGANIZATIONS = 5;
const TRIVIAL = '{ __typename }';
const ORGANIZATIONS_QUERY = '{ organizations(first: 20) { nodes { id name viewerRole } } }';

async function measure(name: string, options: Omit<LoadOptions, 'connections' | 'seconds'>) {
  const result = await load({ ...options, connections: CONNECTIONS, seconds: SECONDS });
  if (result.errors > 0) throw new Error(`${name}: ${result.errors} of ${result.requests} requests failed.`);
  return result;
}

export default async function graphql(): Promise<BenchResult> {
  const database = await benchDatabase('bench_graphql');
  const app = await benchApp(database.url);
  try {
    // Bench-only: the floor of an HTTP round trip through this Fastify instance, its hooks included.
    app.http.app.get('/bench/raw', async () => ({ ok: true }));
    const url = await app.listen();
    const tokens: string[] = [];
    for (let user = 0; user < CONNECTIONS; user++) {
      const { token, viewer } = await signedInUser(app, `bench${user}@bench-graphql.example`);
      tokens.push(token);
      for (let i = 0; i < ORGANIZATIONS; i++) {
        await app.services.organizations.create(
          { em: app.orm.em.fork(), viewer, requestId: 'bench' },
          { name: `Bench GraphQL ${user}-${i}`, kind: OrganizationKind.ENTERPRISE },
        );
      }
    }
    const sessions = tokens.map((token) => ({ authorization: `Bearer ${token}` }));
    const graphqlRequest = (query: string, headers: Record<string, string> = {}) => ({
      url: `${url}/graphql`,
      method: 'POST' as const,
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query }),
    });
    const check = await fetch(`${url}/graphql`, graphqlRequest(ORGANIZATIONS_QUERY, sessions.at(-1)));
    const checked = (await check.json()) as { data?: { organizations: { nodes: unknown[] } } };
    if (checked.data?.organizations.nodes.length !== ORGANIZATIONS)
      throw new Error(`The organizations query answered ${JSON.stringify(checked)}`);

    const raw = await measure('raw route', { url: `${url}/bench/raw`, method: 'GET' });
    const trivial = await measure('trivial query', graphqlRequest(TRIVIAL));
    const organizations = await measure('organizations query', {
      ...graphqlRequest(ORGANIZATIONS_QUERY),
      connectionHeaders: sessions,
    });

    const rawName = 'GET /bench/raw returning {ok:true}, same server';
    const trivialName = `POST /graphql ${TRIVIAL}, anonymous`;
    const p99 = (metric: string, figure: LoadResult, baseline: LoadResult, baselineName: string) =>
      report({ metric, value: figure.p99Ms, unit: 'ms', baseline: baseline.p99Ms, baselineName });
    return {
      connections: CONNECTIONS,
      seconds: SECONDS,
      raw,
      trivial,
      organizations,
      figures: [
        report({
          metric: `POST /graphql ${TRIVIAL} (${CONNECTIONS} connections)`,
          value: trivial.perSecond,
          unit: 'req/s',
          baseline: raw.perSecond,
          baselineName: rawName,
          target: { of: 'ratio', op: '>=', value: 0.12 },
        }),
        p99(`POST /graphql ${TRIVIAL}, p99 latency`, trivial, raw, rawName),
        report({
          metric: `POST /graphql organizations with viewerRole, Bearer session (${CONNECTIONS} connections, a user each)`,
          value: organizations.perSecond,
          unit: 'req/s',
          baseline: trivial.perSecond,
          baselineName: trivialName,
          target: { of: 'ratio', op: '>=', value: 0.5 },
        }),
        p99('POST /graphql organizations with viewerRole, p99 latency', organizations, trivial, trivialName),
      ],
    };
  } finally {
    await app.close();
    await database.close();
  }
}
