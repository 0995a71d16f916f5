/** The counters of `startFaultProxy` (scripts/fault-proxy.mjs), since its start. */
export interface FaultProxyStats {
  connections: number;
  /** Connections whose upstream could not be reached (sqld down): the client was reset. */
  upstreamRefused: number;
  resetsBeforeForward: number;
  resetsAfterForward: number;
  stalls: number;
  stalledMs: number;
}

export interface FaultProxyOptions {
  seed?: number;
  /** Per client chunk: the probability of a reset before it is forwarded. */
  resetBefore?: number;
  /** Per client chunk: the probability of a reset just after it is forwarded. */
  resetAfter?: number;
  /** Per client chunk: the probability of a stall of the connection. */
  stall?: number;
  /** A stall's length: [min, max] ms. */
  stallMs?: [number, number];
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  stats(): FaultProxyStats;
  /** Faults are injected only while on (off at the start). */
  setFaults(on: boolean): void;
  /** The next chunk a client sends is reset before it reaches the server (once, faults on or off). */
  resetNextRequest(): void;
  close(): Promise<void>;
}

export declare function startFaultProxy(target: string, options?: FaultProxyOptions): Promise<FaultProxy>;
