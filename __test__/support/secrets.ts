/** Checks that a token never shows: in an error's message, string, stack and inspection. */
import { inspect } from 'node:util';
import { expect } from 'vitest';

/** The strings that must never be shown: each token, and a JWT's signature on its own. */
export function secretsOf(...tokens: (string | undefined)[]): string[] {
  return tokens.flatMap((token) => (token ? [token, ...(token.split('.').length === 3 ? [token.split('.')[2]] : [])] : []));
}

export function assertNoToken(error: unknown, ...tokens: (string | undefined)[]): void {
  const e = error as Error;
  for (const text of [String(e?.message), String(e), String(e?.stack), inspect(error)]) {
    for (const secret of secretsOf(...tokens)) expect(text).not.toContain(secret);
  }
}
