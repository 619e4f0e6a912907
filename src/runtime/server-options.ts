import fs from 'node:fs/promises';
import type { FastifyServerOptions } from 'fastify';
import type { Config } from '../config/config.js';
import { StartupError } from './runtime.js';

/** The PEM key pair for HTTPS, read once at start-up; a clear error names the unreadable file. */
export async function loadTls(config: Pick<Config, 'tls'>): Promise<{ key: Buffer; cert: Buffer } | undefined> {
  if (!config.tls) return undefined;
  const read = async (file: string, variable: string) => {
    try {
      return await fs.readFile(file);
    } catch (err) {
      throw new StartupError(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code})`);
    }
  };
  return { cert: await read(config.tls.certFile, 'TLS_CERT_FILE'), key: await read(config.tls.keyFile, 'TLS_KEY_FILE') };
}

/** JSON lines (pino); human-readable through pino-pretty when writing to a terminal. */
export function loggerOptions(config: Pick<Config, 'logLevel'>, tty = process.stdout.isTTY === true): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    ...(tty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
    // Belt and braces: the default serializers log no headers or bodies, but nothing that could
    // carry a credential may ever reach a log line, whatever a future log call passes in.
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        '*.password',
        '*.clientSecret',
        '*.client_secret',
        '*.access_token',
        '*.refresh_token',
        'password',
        'clientSecret',
      ],
      censor: '[REDACTED]',
    },
  };
}
