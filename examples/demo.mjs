// The README's main job: a real Flue agent, remembering across processes.
//
// An agent with one tool (`shout`) runs on Flue's runtime with flue-libsql as its database
// (`libsql({ url: 'file:.flue/demo.db' })`). Its model is offline — pi-ai's faux provider with
// a small scripted model below — but the memory is real: the first process tells the agent a
// code word; the second process, started afresh, asks for it, and the model can only answer
// from the conversation history Flue loaded from the database. The run ends by printing what
// `flue-libsql show` prints for that conversation.
//
//   node examples/demo.mjs [URL]             both runs, then `flue-libsql show`
//   node examples/demo.mjs [URL] --run tell|ask ID   one run (what the first form starts twice)
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fauxAssistantMessage, fauxProvider, fauxToolCall } from '@earendil-works/pi-ai/providers/faux';
import { init, useModel, useTool } from '@flue/runtime';
import { start } from '@flue/runtime/node';
import * as v from 'valibot';
import { libsql } from 'flue-libsql';

const args = process.argv.slice(2);
const url = args[0] && !args[0].startsWith('--') ? args[0] : 'file:.flue/demo.db';
const runIndex = args.indexOf('--run');

const PROMPTS = {
  tell: 'Please remember this: the code word is tangerine.',
  ask: 'What was the code word? Shout it.',
};

/** The scripted model: it sees only the context Flue sends it, nothing else. */
function scriptedModel(context) {
  const textOf = (message) =>
    typeof message.content === 'string'
      ? message.content
      : message.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');
  const last = context.messages.at(-1);
  const remembered = context.messages
    .filter((message) => message.role === 'user')
    .map((message) => /code word is (\w+)/.exec(textOf(message))?.[1])
    .findLast(Boolean);
  if (last.role === 'toolResult') return fauxAssistantMessage(`You told me earlier: ${JSON.parse(textOf(last))}!`);
  if (/what was the code word/i.test(textOf(last))) {
    return remembered
      ? fauxAssistantMessage(fauxToolCall('shout', { text: remembered }), { stopReason: 'toolUse' })
      : fauxAssistantMessage('You never told me a code word.');
  }
  return fauxAssistantMessage(remembered ? `Noted: the code word is ${remembered}.` : 'Noted.');
}

const model = fauxProvider({ provider: 'offline', models: [{ id: 'scripted' }] });

function Assistant() {
  useModel('offline/scripted');
  useTool({
    name: 'shout',
    description: 'Says a text in capitals.',
    input: v.object({ text: v.string() }),
    run: async ({ data }) => ({ output: data.text.toUpperCase() }),
  });
  return 'You remember what you are told.';
}
Assistant.agentName = 'demo';

/** One process's run: start Flue on the database, send one prompt, print the reply. */
async function run(step, id) {
  const flue = await start({ agents: [Assistant], db: libsql({ url }), providers: [model.provider] });
  try {
    model.setResponses(Array.from({ length: 4 }, () => scriptedModel));
    const agent = init(Assistant, { id });
    console.log(`[process ${process.pid}] you:   ${PROMPTS[step]}`);
    const reply = await agent.read(await agent.dispatch(PROMPTS[step]));
    console.log(`[process ${process.pid}] agent: ${reply.text}`);
  } finally {
    await flue.stop();
  }
}

function node(script, scriptArgs) {
  // Flue's runtime loads node:sqlite, whose experimental-feature warning is noise here.
  const result = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', script, ...scriptArgs], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (runIndex >= 0) {
  await run(args[runIndex + 1], args[runIndex + 2]);
} else {
  if (url.startsWith('file:.flue/')) mkdirSync('.flue', { recursive: true });
  const id = `conversation-${Date.now().toString(36)}`;
  const self = fileURLToPath(import.meta.url);
  console.log(`database: ${url}, agent demo, conversation ${id}\n`);
  node(self, [url, '--run', 'tell', id]);
  node(self, [url, '--run', 'ask', id]);
  console.log(`\n$ flue-libsql show demo/${id} --messages --url ${url}\n`);
  node(fileURLToPath(new URL('../dist/flue/cli.js', import.meta.url)), ['show', `demo/${id}`, '--messages', '--url', url]);
}
