// Reads a test's database directly, for what the API does not show (outbox rows, counters, whether a
// row a client was told about exists), over a connection of its own that the app's pool never sees.
import pg from 'pg';

export async function sqlRows<Row extends pg.QueryResultRow>(
  databaseUrl: string,
  text: string,
  values: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<Row>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export interface OutboxRow {
  id: string;
  attempts: number;
  sent_at: Date | null;
  last_error: string | null;
}

/** The outbox rows of mail to one address, as the delivery worker left them. */
export const outboxRows = (databaseUrl: string, to: string) =>
  sqlRows<OutboxRow>(
    databaseUrl,
    'select id, attempts, sent_at, last_error from mail_outbox where "to" = $1',
    [to],
  );
