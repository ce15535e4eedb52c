// A SCIM client for tests: raw HTTP with the exact bodies a test writes, JSON back.
export interface ScimResponse {
  status: number;
  body: Record<string, unknown> & {
    Resources?: Array<Record<string, unknown>>;
    id?: string;
    scimType?: string;
  };
  etag: string | null;
  contentType: string | null;
}

export function scimClient(baseUrl: string, token: string) {
  return async function scim(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ScimResponse> {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as ScimResponse['body']) : {},
      etag: response.headers.get('etag'),
      contentType: response.headers.get('content-type'),
    };
  };
}
