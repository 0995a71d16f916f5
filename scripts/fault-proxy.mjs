/**
 * A TCP proxy on 127.0.0.1 in front of sqld that breaks connections at random, for the soak
 * (__test__/failover/soak.test.ts, `npm run soak`). Built like scripts/latency-proxy.mjs (one upstream
 * connection per client connection, either side failing takes the other with it), but instead of
 * delaying every chunk it injects, per chunk the client sends:
 *
 * - a reset before the chunk reaches the server (the request is lost; the client sees ECONNRESET);
 * - a reset after the chunk was forwarded (the server may have run the request and its answer is
 *   lost: the ambiguous outcome a retry must not turn into a duplicate or a loss);
 * - a stall: this connection forwards nothing, either way, for a random time, then goes on in order.
 *
 * `resetNextRequest()` resets the next chunk any client sends, once, before it reaches the
 * server (a request lost with its connection, on purpose).
 *
 * Resets are real TCP resets (`socket.resetAndDestroy()`, RST on both sides). A connection made
 * while sqld is down (the soak restarts it) fails as it would without the proxy: the client's
 * socket is reset. Faults are drawn from a seeded generator (the same seed, the same sequence of draws),
 * and only while `setFaults(true)` is in force.
 */
import { connect, createServer } from 'node:net';
import { seededRandom } from './seeded-random.mjs';

/**
 * Starts the proxy to `target` (`http://host:port`). Options: `seed`; per client chunk, the
 * probability of `resetBefore`, `resetAfter` and `stall`; a stall lasts `stallMs: [min, max]`.
 * Resolves to `{ url, stats(), setFaults(on), close() }`.
 */
export async function startFaultProxy(target, { seed = 1, resetBefore = 0.003, resetAfter = 0.003, stall = 0.005, stallMs = [100, 1000] } = {}) {
  const { hostname, port } = new URL(target);
  const random = seededRandom(seed);
  const totals = { connections: 0, upstreamRefused: 0, resetsBeforeForward: 0, resetsAfterForward: 0, stalls: 0, stalledMs: 0 };
  let faults = false;
  /** Chunks still to reset before they reach the server, whatever `faults` says (`resetNextRequest`). */
  let resetsRequested = 0;
  const sockets = new Set();

  const server = createServer({ allowHalfOpen: true }, (client) => {
    totals.connections++;
    const upstream = connect({ port: Number(port), host: hostname, allowHalfOpen: true });
    let connected = false;
    upstream.once('connect', () => (connected = true));
    const reset = () => {
      if (!client.destroyed) client.resetAndDestroy();
      if (!upstream.destroyed) upstream.resetAndDestroy();
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => {
        if (socket === upstream && !connected) totals.upstreamRefused++;
        reset();
      });
      socket.on('close', () => sockets.delete(socket));
    }
    // Both directions go through one ordered queue per direction; a stall holds both.
    let stalledUntil = 0;
    const pipe = (from, to, injects) => {
      const queue = [];
      let timer = null;
      const flush = () => {
        timer = null;
        const wait = stalledUntil - performance.now();
        if (wait > 0) {
          timer = setTimeout(flush, wait);
          return;
        }
        while (queue.length > 0) {
          const data = queue.shift();
          if (to.destroyed || to.writableEnded) continue;
          if (data === null) to.end();
          else to.write(data);
        }
      };
      from.on('data', (data) => {
        if (injects && resetsRequested > 0) {
          resetsRequested--;
          totals.resetsBeforeForward++;
          reset();
          return;
        }
        if (injects && faults) {
          const draw = random();
          if (draw < resetBefore) {
            totals.resetsBeforeForward++;
            reset();
            return;
          }
          if (draw < resetBefore + resetAfter) {
            // Behind held chunks (a stall), or before sqld accepted the connection, the request would
            // not reach the server: a reset before, then.
            if (queue.length > 0 || stalledUntil > performance.now() || !connected) {
              totals.resetsBeforeForward++;
              reset();
              return;
            }
            totals.resetsAfterForward++;
            to.write(data);
            // Once the request is on its way, but before any answer can come back through us.
            setImmediate(reset);
            return;
          }
          if (draw < resetBefore + resetAfter + stall) {
            const ms = stallMs[0] + random() * (stallMs[1] - stallMs[0]);
            totals.stalls++;
            totals.stalledMs += Math.round(ms);
            stalledUntil = Math.max(stalledUntil, performance.now() + ms);
          }
        }
        queue.push(data);
        if (timer === null) flush();
      });
      from.on('end', () => {
        queue.push(null);
        if (timer === null) flush();
      });
    };
    pipe(client, upstream, true);
    pipe(upstream, client, false);
  });
  await new Promise((ok, fail) => server.once('error', fail).listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stats: () => ({ ...totals }),
    setFaults(on) {
      faults = on;
    },
    resetNextRequest() {
      resetsRequested++;
    },
    close: () =>
      new Promise((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}
