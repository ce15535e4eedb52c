// The downloads of a parent's domain memberships, as CSV (RFC 4180) and as JSON. Both stream from the
// service's keyset batches, so a large parent costs the server one batch of memory, not the whole file.
// Access is decided before the first byte, while a refusal can still be an HTTP status.
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { requestScope } from '../../http/request-scope.js';
import type { Services } from '../../services.js';
import type { DomainMembershipRow } from './domain-membership.service.js';

type Value = string | boolean | null;

/** Both formats have these columns in this order: the CSV header and the JSON keys are the same names. */
const COLUMNS: ReadonlyArray<readonly [string, (row: DomainMembershipRow) => Value]> = [
  ['email', (row) => row.email],
  ['userId', (row) => row.userId],
  ['domain', (row) => row.domain],
  ['organizationId', (row) => row.organizationId],
  ['organizationName', (row) => row.organizationName],
  ['organizationSlug', (row) => row.organizationSlug],
  ['organizationKind', (row) => row.organizationKind],
  ['inParent', (row) => row.inParent],
  ['role', (row) => row.role],
  ['source', (row) => row.source],
  ['memberSince', (row) => row.memberSince?.toISOString() ?? null],
];

const FORMATS = {
  csv: { contentType: 'text/csv; charset=utf-8; header=present', encode: csv },
  json: { contentType: 'application/json; charset=utf-8', encode: json },
} as const;

/** Writes of about this size: one per row would cost a syscall per row. */
const CHUNK_CHARS = 64 * 1024;

export function domainMembershipRoutes(app: FastifyInstance, services: Services): void {
  for (const [extension, format] of Object.entries(FORMATS)) {
    app.get<{ Params: { id: string } }>(
      `/parents/:id/domain-memberships.${extension}`,
      async (request, reply) => {
        const parentId = request.params.id;
        // Refusals (AccessError) reach the server's error handler before a byte is streamed.
        const scope = await requestScope(services, request);
        const rows: AsyncGenerator<DomainMembershipRow> = await services.domainMemberships.openExport(
          scope,
          parentId,
        );
        // The id is a UUID here (anything else was refused as not found), so it is safe in the header.
        return reply
          .type(format.contentType)
          .header('content-disposition', `attachment; filename="domain-memberships-${parentId}.${extension}"`)
          .header('cache-control', 'no-store')
          .header('x-content-type-options', 'nosniff')
          .send(Readable.from(chunked(format.encode(rows))));
      },
    );
  }
}

async function* csv(rows: AsyncIterable<DomainMembershipRow>): AsyncGenerator<string> {
  yield `${COLUMNS.map(([name]) => name).join(',')}\r\n`;
  for await (const row of rows) {
    yield `${COLUMNS.map(([, value]) => csvField(value(row))).join(',')}\r\n`;
  }
}

/**
 * RFC 4180 quoting, after neutralising spreadsheet formulas: organization names are user input, and a
 * cell starting with = + - @ tab or CR is evaluated by Excel and LibreOffice unless prefixed with a quote.
 */
export function csvField(value: Value): string {
  if (value === null) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A JSON array written element by element; `[]` when there are no rows. */
async function* json(rows: AsyncIterable<DomainMembershipRow>): AsyncGenerator<string> {
  let separator = '\n';
  yield '[';
  for await (const row of rows) {
    yield separator + JSON.stringify(Object.fromEntries(COLUMNS.map(([name, value]) => [name, value(row)])));
    separator = ',\n';
  }
  yield separator === '\n' ? ']\n' : '\n]\n';
}

async function* chunked(parts: AsyncIterable<string>): AsyncGenerator<string> {
  let buffer = '';
  for await (const part of parts) {
    buffer += part;
    if (buffer.length >= CHUNK_CHARS) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer) yield buffer;
}
