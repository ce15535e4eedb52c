import { lexicographicSortSchema, printSchema } from 'graphql';
import { graphqlSchema } from './schema.js';

/** The SDL committed as schema/schema.graphql: sorted, so the file changes only when the API does. */
export async function emittedSchema(): Promise<string> {
  return `${printSchema(lexicographicSortSchema(await graphqlSchema()))}\n`;
}
