import { type DestinationStream, pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      serializers: {
        // `*.code` is redacted for sign-in codes; an error's code (a SQLSTATE, ECONNREFUSED) is no secret
        // and is what tells one failure from another, so it is logged under its own name.
        err: (error: Error & { code?: unknown }) => ({
          ...pino.stdSerializers.err(error),
          errorCode: error.code,
        }),
      },
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', '*.token', '*.code', '*.password'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
