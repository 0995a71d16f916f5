/**
 * A TCP proxy on 127.0.0.1 in front of a libSQL server that counts the Hrana pipeline requests
 * (`POST …/v3/pipeline`) clients send through it: how many requests a call really cost.
 */
import { createConnection, createServer, type Socket } from 'node:net';

export interface RequestCounter {
  /** The server's url through the proxy (`http://127.0.0.1:<port>`). */
  url: string;
  /** Pipeline requests sent so far. */
  readonly requests: number;
  close(): Promise<void>;
}

const REQUEST_LINE = 'POST /v3/pipeline';

export async function countRequests(serverUrl: string): Promise<RequestCounter> {
  const target = new URL(serverUrl);
  if (target.protocol !== 'http:') throw new Error(`the request counter speaks plain HTTP, not ${target.protocol} (give it the server's httpUrl)`);
  let requests = 0;
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    const server = createConnection({ host: target.hostname, port: Number(target.port || 80) });
    sockets.add(client).add(server);
    // The end of the previous chunk, so a request line split across chunks is still seen once.
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      requests += text.split(REQUEST_LINE).length - 1;
      tail = text.slice(-(REQUEST_LINE.length - 1));
      server.write(chunk);
    });
    server.on('data', (chunk) => client.write(chunk));
    for (const [from, to] of [[client, server], [server, client]] as const) {
      from.on('end', () => to.end());
      from.on('error', () => to.destroy());
      from.on('close', () => sockets.delete(from));
    }
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}
