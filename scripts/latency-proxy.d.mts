/** The counters of `startLatencyProxy` (scripts/latency-proxy.mjs), since its start. */
export interface LatencyProxyStats {
  roundTrips: number;
  requests: number;
  connections: number;
  bytesUp: number;
  bytesDown: number;
  /** The most client chunks one connection sent before the server answered on it (above 1: pipelined). */
  mostUnanswered: number;
}

export interface LatencyProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  stats(): LatencyProxyStats;
  /** Starts `mostUnanswered` again from 0. */
  resetMostUnanswered(): void;
  /** Client connections still open. */
  openConnections(): number;
  close(): Promise<void>;
}

/** A TCP proxy to `target` (`http://host:port`) holding every chunk `delayMs` each way. */
export declare function startLatencyProxy(target: string, options?: { delayMs?: number }): Promise<LatencyProxy>;
