/** The counters of `startLatencyProxy` (scripts/latency-proxy.mjs), since its start. */
export interface LatencyProxyStats {
  roundTrips: number;
  requests: number;
  connections: number;
  bytesUp: number;
  bytesDown: number;
}

export interface LatencyProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  stats(): LatencyProxyStats;
  /** Client connections still open. */
  openConnections(): number;
  close(): Promise<void>;
}

/** A TCP proxy to `target` (`http://host:port`) holding every chunk `delayMs` each way. */
export declare function startLatencyProxy(target: string, options?: { delayMs?: number }): Promise<LatencyProxy>;
