/**
 * What every part of the report shares: numbers as the report writes them, medians over
 * rounds per peer, and markdown tables. Used by report.mjs and the sections it includes
 * (report-remote.mjs, report-concurrency.mjs, report-cli.mjs).
 */
import { OURS } from './config.mjs';

// ---- numbers --------------------------------------------------------------------------

const sorted = (values) => [...values].sort((x, y) => x - y);
export function median(values) {
  const s = sorted(values);
  const mid = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
export const groupCommas = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
/** 123456.7 → "123,457"; 12.345 → "12.3": three significant digits at least, no locale. */
export function num(value) {
  if (!Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 100) return groupCommas(String(Math.round(value)));
  return value.toFixed(Math.abs(value) >= 10 ? 1 : 2);
}
export const ratio = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '—');
export const mb = (kib) => (kib * 1024) / 1e6;

/** Results from before durability levels existed were all at synchronous=FULL. */
export const durabilityOf = (cell) => cell.durability ?? 'full';

/** Per peer: the ok cells' ops/s, peak RSS (KiB) and anything else, over the rounds. */
export function summarize(cells, workload, durability) {
  const byPeer = new Map();
  for (const cell of cells.filter((c) => c.workload === workload && durabilityOf(c) === durability)) {
    if (!byPeer.has(cell.peer)) byPeer.set(cell.peer, { peer: cell.peer, cells: [], failed: [] });
    const entry = byPeer.get(cell.peer);
    (cell.ok ? entry.cells : entry.failed).push(cell);
  }
  for (const entry of byPeer.values()) {
    const ops = entry.cells.map((c) => c.opsPerSec);
    entry.median = median(ops);
    entry.min = Math.min(...ops);
    entry.max = Math.max(...ops);
    entry.rssKB = median(entry.cells.map((c) => c.maxRssKB));
    entry.newSpaceMB = median(entry.cells.map((c) => (c.newSpaceBytes ?? NaN) / 1e6));
    entry.errors = entry.cells.reduce((sum, c) => sum + (c.errors ?? 0), 0);
    entry.firstError = entry.cells.find((c) => c.firstError)?.firstError ?? null;
    entry.burstMs = median(entry.cells.map((c) => c.burstMs));
    entry.openMs = median(entry.cells.map((c) => c.openMs));
    entry.openMin = Math.min(...entry.cells.map((c) => c.openMs));
    entry.openMax = Math.max(...entry.cells.map((c) => c.openMs));
    /** The median over rounds of any other measurement the cells carry (latencies, round trips). */
    entry.of = (key) => median(entry.cells.map((c) => c[key]));
  }
  return byPeer;
}

// ---- markdown -------------------------------------------------------------------------

/** The peer's name (flue-libsql in bold), and how many of its cells failed, if any. */
export const peerName = (p, suffix = '') =>
  `${p.peer === OURS ? `**${p.peer}**${suffix}` : p.peer}${p.failed.length ? ` (${p.failed.length} cell(s) failed)` : ''}`;

export const table = (header, rows) =>
  [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');


/**
 * Of the peers named `names` in `peers` (from `summarize`), the one whose `value(entry)` is best
 * (highest, or lowest with `{ lowest: true }`): peer 1's better transport, for instance.
 */
export function bestOf(peers, names, value, { lowest = false } = {}) {
  const found = names.map((name) => peers.get(name)).filter((entry) => entry && Number.isFinite(value(entry)));
  return found.reduce((best, entry) => (best === undefined || (lowest ? value(entry) < value(best) : value(entry) > value(best)) ? entry : best), undefined);
}

/** A targets table: one row per `{ what, target, measured, met }`, and how many were met. */
export const targetsTable = (rows) => [
  table(['what', 'target', 'measured', 'met'], rows.map((t) => [t.what, t.target, t.measured, t.met ? 'yes' : '**no**'])),
  '',
  `${rows.filter((t) => t.met).length} of ${rows.length} targets met.`,
];
