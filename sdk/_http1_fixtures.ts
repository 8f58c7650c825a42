/**
 * Test-only fixtures of the Http1Transport tests: a raw TCP server answering scripted replies,
 * a request builder, and helpers around them.
 *
 * @module
 */

import { type Http1Request, Http1Transport, type Http1TransportOptions } from "./http1.ts";

export const request = (url: string, overrides: Partial<Http1Request> = {}): Http1Request => ({
  url,
  method: "POST",
  headers: { "content-type": "application/json", "x-tag": "m1" },
  body: '{"body":"héllo"}',
  signal: new AbortController().signal,
  ...overrides,
});

export type Answer = (request: string, index: number) => string | null | Promise<string | null>;

/**
 * A raw TCP server: each request's text (head and body, read by its content-length) is answered
 * with `answer(requestText, index)`; null leaves it unanswered, "" closes the connection instead.
 * `untilClientCloses(n)` waits until the client has ended n connections (the server read EOF).
 */
export function rawServer(answer: Answer, options: { oneShot?: boolean } = {}) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  const requests: string[] = [];
  let clientCloses = 0;
  let onClientClose = () => {};
  (async () => {
    for await (const conn of listener) {
      connections.push(conn);
      (async () => {
        const buffer = new Uint8Array(65536);
        let bytes = new Uint8Array(0);
        try {
          for (;;) {
            const read = await conn.read(buffer);
            if (read === null) {
              clientCloses++;
              onClientClose();
              break;
            }
            const grown = new Uint8Array(bytes.length + read);
            grown.set(bytes);
            grown.set(buffer.subarray(0, read), bytes.length);
            bytes = grown;
            const text = new TextDecoder("latin1").decode(bytes);
            const end = text.indexOf("\r\n\r\n");
            if (end < 0) continue;
            const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
            if (bytes.length < end + 4 + length) continue;
            requests.push(new TextDecoder().decode(bytes));
            const reply = await answer(requests.at(-1)!, requests.length - 1);
            bytes = new Uint8Array(0);
            if (reply === null) continue; // hang
            if (reply === "") break; // close unanswered
            await conn.write(new TextEncoder().encode(reply));
            if (reply.includes("connection: close") || reply.startsWith("HTTP/1.0")) break;
            if (options.oneShot) break;
          }
        } catch { /* closed by the client */ }
        try {
          conn.close();
        } catch { /* already closed */ }
      })();
    }
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  return {
    url: `http://127.0.0.1:${port}/v1/queues/a?x=1`,
    requests,
    get connections() {
      return connections.length;
    },
    get clientCloses() {
      return clientCloses;
    },
    /** Resolves once the client closed `count` connections; rejects after 20 s (a hang). */
    async untilClientCloses(count: number): Promise<void> {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the client closed ${clientCloses} connections, not ${count}`)),
          20_000,
        );
      });
      try {
        while (clientCloses < count) {
          await Promise.race([new Promise<void>((resolve) => onClientClose = resolve), hung]);
        }
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      try {
        listener.close();
      } catch { /* closed */ }
      for (const conn of connections) {
        try {
          conn.close();
        } catch { /* done */ }
      }
    },
  };
}

export async function withServer(
  answer: Answer,
  run: (server: ReturnType<typeof rawServer>, transport: Http1Transport) => Promise<void>,
  options: { oneShot?: boolean; transport?: Http1TransportOptions } = {},
) {
  const server = rawServer(answer, options);
  const transport = new Http1Transport(options.transport);
  try {
    await run(server, transport);
  } finally {
    transport.close();
    server.close();
  }
}

export const ok = (body: string, extra = "") =>
  `HTTP/1.1 200 OK\r\n${extra}content-length: ${
    new TextEncoder().encode(body).length
  }\r\n\r\n${body}`;

/** Blocks the event loop for `ms`: no timer runs meanwhile. */
export function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* spin */ }
}
