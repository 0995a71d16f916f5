// For flue/adapter.test.ts: a program whose `libsql()` takes its connection from the
// environment (the test gives the working folder and the variables). Imports the shipped JavaScript.
//
//   node adapter-from-env.mjs <agent>
//     Migrates, creates stream `agents/<agent>/1` and closes.
import { libsql } from '../../../dist/index.js';

const [agent] = process.argv.slice(2);
const adapter = libsql();
await adapter.migrate();
const stores = await adapter.connect();
await stores.conversationStreamStore.createStream(`agents/${agent}/1`, { agentName: agent, instanceId: '1' });
await adapter.close();
