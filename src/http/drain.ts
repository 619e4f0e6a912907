import type { Server } from 'node:net';

export interface DrainOptions {
  /** The listener closes once no connection has arrived for this long... */
  quietMs: number;
  /** ...or this long after the shutdown began, whichever comes first. */
  maxMs: number;
}

/** The defaults of src/app.ts: a burst already sent when the signal came is answered, not reset. */
export const DEFAULT_DRAIN: DrainOptions = { quietMs: 100, maxMs: 2_000 };

/**
 * The first step of a graceful shutdown, before the listener closes: resolves once no new
 * connection has been accepted for `quietMs` (or after `maxMs`).
 *
 * Why the listener stays open at all: connections a client opened just before the signal may still
 * wait in the kernel's accept queue. Closing the listening socket resets every one of them, and
 * their requests fail with ECONNRESET: neither an answer nor a refusal. Kept open a moment, they are
 * accepted and answered (503 with Connection: close, src/app.ts), and the listener closes when they
 * have stopped coming; a connection attempted after that is refused. Under a steady stream of new
 * connections the listener closes at `maxMs`, and only what is in the accept queue at that instant
 * is reset.
 */
export async function untilListenerQuiet(server: Server, { quietMs, maxMs }: DrainOptions): Promise<void> {
  if (!server.listening) return;
  const started = Date.now();
  let last = started;
  const accepted = () => {
    last = Date.now();
  };
  server.on('connection', accepted);
  try {
    for (;;) {
      const now = Date.now();
      const wait = Math.min(last + quietMs, started + maxMs) - now;
      if (wait <= 0) return;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  } finally {
    server.removeListener('connection', accepted);
  }
}
