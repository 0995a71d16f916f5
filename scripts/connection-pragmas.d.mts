export declare function pragmasFor(durability?: 'full' | 'normal'): string[];
export declare const PRAGMA_READBACK: readonly string[];
export declare function mergeRows(rows: readonly Record<string, unknown>[]): Record<string, unknown>;
