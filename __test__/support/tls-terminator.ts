/**
 * A TLS terminator in front of a sqld, as a deployment puts one (Turso's edge, nginx, a load
 * balancer): TLS on its own port, plain TCP to the server's. Node's own `tls` module, in the
 * test's process: it speaks exactly the TLS a Node server does, needs nothing installed, and
 * passes HTTP, WebSocket upgrades and the replica's replication alike, since it only relays
 * bytes. A connection it cannot read as TLS (plain HTTP) it closes, as a TLS port does.
 */
import { readFileSync } from 'node:fs';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';

export interface TlsTerminator {
  port: number;
  close(): Promise<void>;
}

export async function startTlsTerminator(targetPort: number, pem: { certPath: string; keyPath: string }): Promise<TlsTerminator> {
  const sockets = new Set<Socket>();
  const server = createServer({ cert: readFileSync(pem.certPath), key: readFileSync(pem.keyPath), ALPNProtocols: ['http/1.1'] }, (client: TLSSocket) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      // Either side failing (the server stopped, the client gone) ends both.
      socket.on('error', () => (client.destroy(), upstream.destroy()));
    }
    client.pipe(upstream).pipe(client);
  });
  // A client that cannot complete a handshake (plain HTTP, an untrusted certificate) only ends its own socket.
  server.on('tlsClientError', () => {});
  await new Promise<void>((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}
