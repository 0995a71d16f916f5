/**
 * The echo model the Flue tests run on pi-ai's faux provider: its reply is computed from the
 * context it receives, so a reply after a restart proves what history reached the model.
 *
 * Used in the test process (flue/agent, failover/soak) and, as a copy (`FAUX_MODEL_TS` in
 * flue-server.ts), in the projects the packaging and failover tests generate; so it imports
 * types only, and runs under Node's type stripping as it is.
 */
import type { Context } from '@earendil-works/pi-ai';

/** A message's text: its string content, or its text parts joined. */
export function textOf(message: Context['messages'][number]): string {
  const content = message.content;
  if (typeof content === 'string') return content;
  return content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('');
}

/** The messages of `context` as role and text, as the model saw them. */
export function transcriptOf(context: Context): { role: string; text: string }[] {
  return context.messages.map((message) => ({ role: message.role, text: textOf(message) }));
}

/** The reply to a conversation that has heard `heard` (its user texts) and seen `repliesSeen` replies. */
export function echo(heard: string[], repliesSeen: number): string {
  return `echo #${heard.length}: ${heard.at(-1)} | heard: ${heard.join(' / ')} | replies seen: ${repliesSeen}`;
}

/** "echo #<user messages it received>: <last user text> | heard: <every user text> | replies seen: <assistant messages it received>". */
export function echoReply(context: Context): string {
  const users = context.messages.filter((message) => message.role === 'user').map(textOf);
  const assistants = context.messages.filter((message) => message.role === 'assistant');
  return echo(users, assistants.length);
}
