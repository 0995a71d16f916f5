/**
 * A TCP proxy on 127.0.0.1 in front of sqld that makes loopback look like a wide-area link and
 * counts the round trips a client makes. This kernel has no netem qdisc, so the link is shaped
 * in user space (sqld's README suggests the same).
 *
 * Latency: every chunk read from either side is held for `delayMs` before it is written to the
 * other (in order), so one request/response costs 2 × delayMs more than on loopback (the
 * default 10 ms each way = a 20 ms round trip; Node timers add ~1 ms per hold). A new connection
 * also costs the round trip of its TCP handshake, which on loopback the proxy accepts at once:
 * its first client bytes are held 2 × delayMs longer. TLS is not modelled (the bench uses http://
 * and ws://); over a real link a new TLS connection costs one or two round trips more.
 *
 * What it counts, in client→server chunks (the client's writes as the proxy reads them):
 * - `roundTrips`: a chunk that is the first or follows a server→client chunk (on any
 *   connection) since the previous client chunk. More client chunks before anything comes back
 *   (headers and body written apart, pipelined messages, requests sent at once on several
 *   connections) belong to the same round trip. So it counts the times a client had to wait for
 *   the server before it could go on, which is what a slow link charges for; it does not
 *   depend on the delay. It assumes one client doing one thing at a time (a sequence of turns):
 *   the chunks of concurrent work would interleave.
 * - `requests`: the same, per connection (a chunk that is its connection's first or follows a
 *   server→client chunk on it): HTTP requests, or WebSocket request batches. More than
 *   `roundTrips` when a client sends requests in parallel on several connections.
 * - `connections` (new TCP connections), `bytesUp`, `bytesDown`.
 * - `mostUnanswered`: the most client chunks one connection sent in a row, before the server
 *   sent anything back on it, since the start or `resetMostUnanswered()`: above 1 when a client
 *   pipelines requests (sends the next before the answer to the last).
 */
import { connect, createServer } from 'node:net';

/** Writes what `from` sends to `to`, each chunk `delayMs` (plus `extraMs` before `openedAt + extraMs`) later, in order. */
function delayedPipe(from, to, delayMs, { extraMs = 0, onChunk }) {
  const openedAt = performance.now();
  const queue = []; // { due, data } in arrival order; data === null is the end of the stream
  let timer = null;
  const flush = () => {
    timer = null;
    const now = performance.now();
    while (queue.length > 0 && queue[0].due <= now) {
      const { data } = queue.shift();
      if (to.destroyed || to.writableEnded) continue;
      if (data === null) to.end();
      else to.write(data);
    }
    if (queue.length > 0) timer = setTimeout(flush, queue[0].due - now);
  };
  const hold = (data) => {
    // Not before the handshake would have completed; never before an earlier chunk.
    queue.push({ due: Math.max(performance.now(), openedAt + extraMs) + delayMs, data });
    timer ??= setTimeout(flush, queue[0].due - performance.now());
  };
  from.on('data', (data) => {
    onChunk(data);
    hold(data);
  });
  from.on('end', () => hold(null));
}

/**
 * Starts the proxy to `target` (`http://host:port`). Resolves to `{ url, stats(), openConnections(), close() }`:
 * `url` is the proxy's `http://127.0.0.1:PORT`; `stats()` the counters above, since the start.
 */
export async function startLatencyProxy(target, { delayMs = 10 } = {}) {
  const { hostname, port } = new URL(target);
  const totals = { roundTrips: 0, requests: 0, connections: 0, bytesUp: 0, bytesDown: 0, mostUnanswered: 0 };
  let answered = true; // whether the server sent anything since the client last did (any connection)
  const sockets = new Set();
  // Half-open allowed: each direction ends on its own, after what it still holds is written.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    totals.connections++;
    const upstream = connect({ port: Number(port), host: hostname, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      // Either side failing takes the other with it, as a real link breaking would.
      socket.on('error', () => (client.destroy(), upstream.destroy()));
      socket.on('close', () => sockets.delete(socket));
    }
    let connectionAnswered = true; // the same, on this connection: its first chunk is a request
    let unanswered = 0; // client chunks on this connection since the server's last
    delayedPipe(client, upstream, delayMs, {
      extraMs: 2 * delayMs, // the TCP handshake's round trip
      onChunk: (data) => {
        if (answered) totals.roundTrips++;
        if (connectionAnswered) totals.requests++;
        answered = connectionAnswered = false;
        totals.mostUnanswered = Math.max(totals.mostUnanswered, ++unanswered);
        totals.bytesUp += data.length;
      },
    });
    delayedPipe(upstream, client, delayMs, {
      onChunk: (data) => {
        answered = connectionAnswered = true;
        unanswered = 0;
        totals.bytesDown += data.length;
      },
    });
  });
  await new Promise((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats: () => ({ ...totals }),
    resetMostUnanswered: () => {
      totals.mostUnanswered = 0;
    },
    /** Client connections still open (each is two sockets here: the client's and the server's). */
    openConnections: () => sockets.size / 2,
    close: () =>
      new Promise((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}
