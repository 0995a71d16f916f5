/**
 * Conversations written by Flue's own runtime (`start()` from `@flue/runtime/node`, pi-ai's
 * faux provider as the model) for the CLI tests: tool calls that succeed, a tool that fails, a
 * submission that fails, one that was retried (its runtime stopped mid-call, the next runtime
 * took it over: a second attempt), two agents. Returns what the runtime itself reported (receipts,
 * replies, the model calls it made) so the tests can compare the CLI's reading with it.
 */
import * as v from 'valibot';
import type { AssistantMessage, Context } from '@earendil-works/pi-ai';
import { fauxAssistantMessage, fauxProvider, fauxToolCall } from '@earendil-works/pi-ai/providers/faux';
import { AgentRunError, init, useModel, useTool } from '@flue/runtime';
import { start } from '@flue/runtime/node';
import { libsql, open, type LibsqlAdapterOptions } from '../../dist/index.js';

const faux = fauxProvider({ provider: 'faux-cli', models: [{ id: 'tool-model' }] });
export const MODEL = 'faux-cli/tool-model';

function Helper() {
  useModel(MODEL);
  useTool({
    name: 'lookup',
    description: 'Looks a key up.',
    input: v.object({ key: v.string() }),
    run: async ({ data }) => ({ output: { value: `value-of-${data.key}` } }),
  });
  useTool({
    name: 'explode',
    description: 'Always fails.',
    input: v.object({}),
    run: async () => {
      throw new Error('boom: the tool failed');
    },
  });
  return 'You look things up.';
}
Helper.agentName = 'helper';

function Other() {
  useModel(MODEL);
  return 'You answer.';
}
Other.agentName = 'other';

/** The text of the last tool result the model was sent: the reply proves the tool ran. */
function lastToolResult(context: Context): string {
  const result = context.messages.filter((message) => message.role === 'toolResult').at(-1);
  if (!result || typeof result.content === 'string') return 'no tool result';
  return result.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');
}

const answerWithToolResult = (context: Context): AssistantMessage => fauxAssistantMessage(`the tool said: ${lastToolResult(context)}`);

export interface WrittenTurn {
  prompt: string;
  submissionId: string;
  /** The reply text, or the error of a failed submission. */
  reply: string;
  outcome: 'completed' | 'failed';
}

export interface Workload {
  /** Conversations in the order they were written, with their model calls. */
  conversations: { agent: string; id: string; turns: WrittenTurn[]; modelCalls: number }[];
  startedAt: number;
  finishedAt: number;
}

export async function writeWorkload(options: LibsqlAdapterOptions): Promise<Workload> {
  const startedAt = Date.now();
  const flue = await start({ agents: [Helper, Other], db: libsql(options), providers: [faux.provider] });
  const conversations: Workload['conversations'] = [];
  try {
    const converse = async (agent: typeof Helper, id: string, script: { prompt: string; responses: Parameters<typeof faux.setResponses>[0] }[]) => {
      const handle = init(agent, { id });
      const calls = faux.state.callCount;
      const turns: WrittenTurn[] = [];
      for (const { prompt, responses } of script) {
        faux.setResponses(responses);
        const receipt = await handle.dispatch(prompt);
        try {
          turns.push({ prompt, submissionId: receipt.submissionId, reply: (await handle.read(receipt)).text, outcome: 'completed' });
        } catch (error) {
          if (!(error instanceof AgentRunError)) throw error;
          turns.push({ prompt, submissionId: receipt.submissionId, reply: String((error.cause as Error | undefined)?.message ?? error.message), outcome: 'failed' });
        }
      }
      conversations.push({ agent: agent.agentName, id, turns, modelCalls: faux.state.callCount - calls });
    };
    await converse(Helper, 'c1', [
      { prompt: 'look up k', responses: [fauxAssistantMessage(fauxToolCall('lookup', { key: 'k' }), { stopReason: 'toolUse' }), answerWithToolResult] },
      { prompt: 'now explode', responses: [fauxAssistantMessage(fauxToolCall('explode', {}), { stopReason: 'toolUse' }), answerWithToolResult] },
    ]);
    await converse(Helper, 'c2', [
      {
        prompt: 'are you there?',
        responses: [
          () => {
            throw new Error('model down');
          },
        ],
      },
    ]);
    await converse(Other, 'o1', [{ prompt: 'hello other', responses: [fauxAssistantMessage('hello back')] }]);
  } finally {
    await flue.stop();
  }
  conversations.push(await writeRetriedSubmission(options));
  return { conversations, startedAt, finishedAt: Date.now() };
}

/**
 * A submission whose runtime stops while the model call is in flight (the call ends with the
 * runtime's abort), and that the next runtime takes over as a second attempt. The first
 * runtime's lease would keep the next one waiting 30 s: the test ends it at once, as its
 * expiry would.
 */
async function writeRetriedSubmission(options: LibsqlAdapterOptions): Promise<Workload['conversations'][number]> {
  const calls = faux.state.callCount;
  const prompt = 'take your time';
  faux.setResponses([
    (_context, streamOptions) =>
      new Promise<AssistantMessage>((_resolve, reject) => {
        streamOptions?.signal?.addEventListener('abort', () => reject(streamOptions.signal!.reason));
      }),
  ]);
  const first = await start({ agents: [Helper, Other], db: libsql(options), providers: [faux.provider] });
  let submissionId: string;
  try {
    const receipt = await init(Helper, { id: 'r1' }).dispatch(prompt);
    submissionId = receipt.submissionId;
    while (faux.state.callCount === calls) await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    await first.stop();
  }
  const db = await open({ url: options.url!, authToken: options.authToken });
  try {
    await db.query('UPDATE flue_agent_submissions SET lease_expires_at = 1 WHERE submission_id = ?', [submissionId]);
  } finally {
    await db.close();
  }
  const second = await start({ agents: [Helper, Other], db: libsql(options), providers: [faux.provider] });
  let turn: WrittenTurn;
  try {
    await init(Helper, { id: 'r1' }).read(submissionId);
    turn = { prompt, submissionId, reply: 'unexpected: the retried submission completed', outcome: 'completed' };
  } catch (error) {
    if (!(error instanceof AgentRunError)) throw error;
    turn = { prompt, submissionId, reply: String((error.cause as Error | undefined)?.message ?? error.message), outcome: error.outcome === 'failed' ? 'failed' : 'completed' };
  } finally {
    await second.stop();
  }
  return { agent: 'helper', id: 'r1', turns: [turn], modelCalls: faux.state.callCount - calls };
}
