/**
 * `npm run demo` (examples/demo.mjs): a Flue agent on a `file:` database remembers across two
 * processes, and the run ends with `flue-libsql show`. The same agent asked in a conversation
 * that was never told anything does not know the word: the answer comes from the database.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runNodeChild } from '../support/runner-helpers.js';
import { emptyTempDatabase, type TempDatabase } from '../support/temp-database.js';

const DEMO = fileURLToPath(new URL('../../examples/demo.mjs', import.meta.url));

describe('the demo', () => {
  let database: TempDatabase;
  beforeAll(async () => {
    database = await emptyTempDatabase('demo.db');
  });
  afterAll(async () => {
    await database?.remove();
  });

  it('tells the agent a word in one process, gets it back in another, then shows the conversation', async () => {
    const result = await runNodeChild(DEMO, [database.url]).done;
    expect(result.code, result.stderr).toBe(0);
    const said = [...result.stdout.matchAll(/^\[process (\d+)\] (you|agent): +(.*)$/gm)].map(([, pid, who, text]) => ({ pid, who, text }));
    expect(said.map(({ who, text }) => [who, text])).toEqual([
      ['you', 'Please remember this: the code word is tangerine.'],
      ['agent', 'Noted: the code word is tangerine.'],
      ['you', 'What was the code word? Shout it.'],
      ['agent', 'You told me earlier: TANGERINE!'],
    ]);
    expect(said[0]!.pid).not.toBe(said[2]!.pid);

    const id = /conversation (conversation-\w+)/.exec(result.stdout)![1];
    const shown = result.stdout.slice(result.stdout.indexOf(`$ flue-libsql show demo/${id}`));
    expect(shown).toMatch(/^submissions\s+2 completed$/m);
    expect(shown).toMatch(/^ {4}tool shout \{"text":"tangerine"\} -> ok \(\d+ ms\): "TANGERINE"$/m);
    expect(shown).toContain('\n    You told me earlier: TANGERINE!\n');
  });

  it('a conversation never told the word does not know it', async () => {
    const result = await runNodeChild(DEMO, [database.url, '--run', 'ask', 'never-told']).done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\[process \d+\] agent: You never told me a code word\.$/m);
  });
});
