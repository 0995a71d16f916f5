/** Human output: times, counts and tables that fit in 100 columns. */
import type { OutcomeCounts } from './submissions.js';

export const MAX_WIDTH = 100;

/** `2026-12-07 21:10:53Z` from an ISO string or epoch milliseconds; `-` when unknown. */
export function formatTime(time: string | number | null | undefined): string {
  if (time === undefined || time === null) return '-';
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? String(time) : `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** `2 completed, 1 failed` (largest first); `none` when empty. */
export function formatOutcomes(counts: OutcomeCounts): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return entries.length ? entries.map(([outcome, n]) => `${n} ${outcome}`).join(', ') : 'none';
}

/** Cuts `text` to `width` characters, marking the cut with `…`; newlines become spaces. */
export function truncate(text: string, width: number): string {
  const line = text.replace(/\s*\n\s*/g, ' ');
  return line.length <= width ? line : `${line.slice(0, Math.max(0, width - 1))}…`;
}

/** A percentage with one decimal, `-` for 0 of 0. */
export function percent(part: number, whole: number): string {
  return whole ? `${((part / whole) * 100).toFixed(1)}%` : '-';
}

export interface Column {
  header: string;
  /** The most characters a cell may take; longer cells are cut with `…`. */
  max: number;
  align?: 'right';
}

/** Rows as aligned columns separated by two spaces, each line at most MAX_WIDTH long. */
export function table(columns: Column[], rows: string[][]): string[] {
  const cells = [columns.map((column) => column.header), ...rows].map((row) =>
    row.map((cell, i) => truncate(cell, columns[i]!.max)),
  );
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) =>
    truncate(
      row.map((cell, i) => (columns[i]!.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd(),
      MAX_WIDTH,
    ),
  );
}

/** `text` wrapped at word boundaries to lines of at most `width` characters, each prefixed by `indent`. */
export function wrap(text: string, indent: string, width = MAX_WIDTH): string[] {
  const room = width - indent.length;
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      for (let rest = word; ; ) {
        const sep = line ? ' ' : '';
        if (line.length + sep.length + rest.length <= room) {
          line += sep + rest;
          break;
        }
        if (line) {
          lines.push(line);
          line = '';
          continue;
        }
        // A word longer than a line is cut.
        lines.push(rest.slice(0, room));
        rest = rest.slice(room);
        if (!rest) break;
      }
    }
    lines.push(line);
  }
  return lines.map((line) => `${indent}${line}`.trimEnd());
}

/** `1,234,567` */
export const count = (n: number): string => n.toLocaleString('en-US');
