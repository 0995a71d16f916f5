/**
 * "npm install flue-libsql works in a fresh Flue project, no Rust needed."
 *
 * The packages are packed with `npm pack` (the main package, and the platform package with
 * the built `.node` copied into a temp copy of `npm/<platform>/`), then installed into a
 * fresh project under `os.tmpdir()` together with `@flue/runtime` and pi-ai from the registry,
 * from an environment with no Rust toolchain on PATH. In that project:
 *
 * - `src/db.ts` is the README's block, verbatim (read from README.md, so the test breaks when
 *   the README drifts), and a script runs a real Flue agent on it through `start()` with
 *   pi-ai's faux model: prompt, stop, start again in the same process, then a new process —
 *   the history is still there and the model's next call receives it;
 * - ESM `import` and CJS `require` both work and share one `LibsqlError` class;
 * - `tsc --noEmit` (moduleResolution nodenext) accepts a .ts and a .cts importing the package,
 *   and rejects a wrong option type in both (so the types are real, not `any`);
 * - `npx flue-libsql status | migrate | check` work on the file and fail cleanly on bad urls,
 *   never printing the token;
 * - with the platform package gone, importing the package fails with a message that names the
 *   platform, what was tried and how to build from source.
 *
 * Timings go to the console (install time depends on the npm cache in node_modules/.cache).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cannotPackReason,
  createProject,
  freePort,
  TEST_NODE,
  packPackages,
  readmeDbTs,
  REPO_ROOT,
  removeTemp,
  run,
  runOk,
  VERSIONS,
  type PackedPackages,
  type Project,
} from '../support/packed-project.js';
import { FAUX_MODEL_TS } from '../support/flue-server.js';

const skipReason = cannotPackReason();
if (skipReason) console.warn(`packaging/package-install.test.ts skipped: ${skipReason}`);

/** The agent module of the fresh project (what a user writes; `'use agent'` as Flue's docs show). */
const AGENT_TS = `'use agent';
import { useModel } from '@flue/runtime';

export function Echo() {
  useModel('faux-e2e/echo-model');
  return 'You repeat what you hear.';
}
Echo.agentName = 'e2e-echo';
`;

/**
 * The runner script (run by Node >= 22.18 directly: type stripping). Phase "first": start(),
 * prompt, stop(), start() again on the same adapter and re-read without a model call, stop().
 * Phase "second" (a new process): start(), read the history, prompt again, stop(). The faux
 * model's reply is computed from the context it receives, so it proves what history reached it.
 * Prints one JSON line.
 */
const RUN_TS = `import type { AssistantMessage, Context } from '@earendil-works/pi-ai';
import { fauxAssistantMessage, fauxProvider } from '@earendil-works/pi-ai/providers/faux';
import { init } from '@flue/runtime';
import { start } from '@flue/runtime/node';
import { createAgentRouter } from '@flue/runtime/routing';
import db from './src/db.ts';
import { Echo } from './src/agents/echo.ts';
import { echoReply, transcriptOf } from './src/faux-model.ts';

const faux = fauxProvider({ provider: 'faux-e2e', models: [{ id: 'echo-model' }] });
const seen: { role: string; text: string }[][] = [];

function reply(context: Context): AssistantMessage {
  seen.push(transcriptOf(context));
  return fauxAssistantMessage(echoReply(context));
}
faux.setResponses(Array.from({ length: 10 }, () => reply));

async function history(id: string) {
  const response = await createAgentRouter(Echo).request(\`/\${id}?view=history\`);
  const body = (await response.json()) as { messages: { role: string; submissionId?: string; parts: { type: string; text?: string }[] }[] };
  return body.messages.map((message) => ({
    role: message.role,
    submissionId: message.submissionId,
    text: message.parts.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join(''),
  }));
}

const boot = () => start({ agents: [Echo], db, providers: [faux.provider] });
const [phase, id, prompt] = process.argv.slice(2) as [string, string, string];
const result: Record<string, unknown> = { phase, pid: process.pid, node: process.version };

let flue = await boot();
try {
  if (phase === 'first') {
    const agent = init(Echo, { id });
    const receipt = await agent.dispatch(prompt);
    result.submissionId = receipt.submissionId;
    result.reply = (await agent.read(receipt)).text;
    await flue.stop();
    flue = await boot(); // the same adapter object, reconnected after stop()
    const calls = faux.state.callCount;
    result.reread = (await init(Echo, { id }).read(receipt)).text;
    result.modelCallsForReread = faux.state.callCount - calls;
    result.historyAfterRestart = await history(id);
  } else {
    result.historyAtBoot = await history(id);
    const agent = init(Echo, { id });
    const receipt = await agent.dispatch(prompt);
    result.submissionId = receipt.submissionId;
    result.reply = (await agent.read(receipt)).text;
    result.historyAfter = await history(id);
  }
  result.modelCalls = faux.state.callCount;
  result.modelSaw = seen;
} finally {
  await flue.stop();
}
console.log(JSON.stringify(result));
`;

/** ESM entry, CJS entry (via createRequire) and the stores subpath: one module instance. */
const DUAL_MJS = `import { createRequire } from 'node:module';
import * as esm from 'flue-libsql';
import * as esmStores from 'flue-libsql/stores';
const require = createRequire(import.meta.url);
const cjs = require('flue-libsql');
const cjsStores = require('flue-libsql/stores');
const db = await esm.open(':memory:');
let thrown;
try { await db.query('SELEC 1'); } catch (error) { thrown = error; }
await db.close();
console.log(JSON.stringify({
  esmResolved: import.meta.resolve('flue-libsql'),
  cjsResolved: require.resolve('flue-libsql'),
  sameLibsqlError: esm.LibsqlError === cjs.LibsqlError,
  sameLibsql: esm.libsql === cjs.libsql,
  sameOpen: esm.open === cjs.open,
  sameCreateStores: esmStores.createStores === cjsStores.createStores && typeof cjsStores.createStores === 'function',
  thrownIsEsmLibsqlError: thrown instanceof esm.LibsqlError,
  thrownIsCjsLibsqlError: thrown instanceof cjs.LibsqlError,
  code: thrown?.code,
}));
`;

/** A genuine CommonJS file (.cjs): require() first, then import() the ESM side. */
const DUAL_CJS = `const cjs = require('flue-libsql');
const adapter = cjs.libsql({ url: ':memory:' });
(async () => {
  const esm = await import('flue-libsql');
  await adapter.migrate();
  const db = await cjs.open(':memory:');
  let thrown;
  try { await db.query('SELECT * FROM missing_table'); } catch (error) { thrown = error; }
  await db.close();
  await adapter.close();
  console.log(JSON.stringify({
    cjsResolved: require.resolve('flue-libsql'),
    sameLibsqlError: esm.LibsqlError === cjs.LibsqlError,
    thrownIsEsmLibsqlError: thrown instanceof esm.LibsqlError,
    thrownIsCjsLibsqlError: thrown instanceof cjs.LibsqlError,
    code: thrown && thrown.code,
    adapterMethods: ['migrate', 'connect', 'close'].filter((name) => typeof adapter[name] === 'function'),
  }));
})();
`;

/** Type checks: `// @ts-expect-error` lines fail tsc if the package's types resolved to `any`. */
const TYPES_ESM_TS = `import { libsql, LibsqlError, open, type LibsqlAdapter, type Row } from 'flue-libsql';
import { createStores } from 'flue-libsql/stores';
import type { PersistenceAdapter } from '@flue/runtime/adapter';

const adapter: LibsqlAdapter = libsql({ url: ':memory:', authToken: undefined });
export const asFlue: PersistenceAdapter = adapter;
export const stores = createStores;

// @ts-expect-error url is a string
libsql({ url: 42 });

export async function rows(): Promise<Row[]> {
  const db = await open(':memory:');
  try {
    // @ts-expect-error query's sql is a string
    await db.query(1);
    return await db.query<{ one: number }>('SELECT 1 AS one');
  } finally {
    await db.close();
  }
}

export function codeOf(error: unknown): string | undefined {
  return error instanceof LibsqlError ? error.code : undefined;
}
`;

const TYPES_CJS_CTS = `import flue = require('flue-libsql');
import type { PersistenceAdapter } from '@flue/runtime/adapter';

const adapter: flue.LibsqlAdapter = flue.libsql({ url: ':memory:' });
const asFlue: PersistenceAdapter = adapter;

// @ts-expect-error url is a string
flue.libsql({ url: 42 });

function codeOf(error: unknown): string | undefined {
  return error instanceof flue.LibsqlError ? error.code : undefined;
}

export = { asFlue, codeOf };
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    noEmit: true,
    allowImportingTsExtensions: true,
    verbatimModuleSyntax: false,
    skipLibCheck: true,
    types: ['node'],
  },
  include: ['src/**/*.ts', 'run.ts', 'types-esm.ts', 'types-cjs.cts'],
};

describe.skipIf(skipReason)('npm install flue-libsql in a fresh Flue project (no Rust)', () => {
  let root: string;
  let packed: PackedPackages;
  let project: Project;
  let dbPath: string;
  let dbUrl: string;
  const conversation = 'conversation-1';
  const firstPrompt = 'the code word is tangerine';
  const secondPrompt = 'what was the code word?';
  let first: Record<string, any>;
  let second: Record<string, any>;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'flue-libsql-install-'));
    const packStarted = performance.now();
    packed = await packPackages(join(root, 'packs'));
    const packMs = Math.round(performance.now() - packStarted);
    project = await createProject(join(root, 'app'), {
      name: 'fresh-flue-app',
      tarballs: [packed.main, packed.native],
      dependencies: {
        '@flue/runtime': VERSIONS.flueRuntime,
        '@earendil-works/pi-ai': VERSIONS.piAi,
        typescript: VERSIONS.typescript,
        '@types/node': VERSIONS.typesNode,
      },
    });
    console.log(`package-install (Node ${process.versions.node}, @flue/runtime ${VERSIONS.flueRuntime}): npm pack ${packMs} ms, npm install ${project.installMs} ms (npm cache: node_modules/.cache/flue-libsql-tests)`);
    await project.write('src/db.ts', readmeDbTs());
    await project.write('src/agents/echo.ts', AGENT_TS);
    await project.write('src/faux-model.ts', FAUX_MODEL_TS);
    await project.write('run.ts', RUN_TS);
    await project.write('dual.mjs', DUAL_MJS);
    await project.write('dual.cjs', DUAL_CJS);
    await project.write('types-esm.ts', TYPES_ESM_TS);
    await project.write('types-cjs.cts', TYPES_CJS_CTS);
    await project.write('tsconfig.json', `${JSON.stringify(TSCONFIG, null, 2)}\n`);
    dbPath = join(root, 'data', 'agent.db');
    dbUrl = pathToFileURL(dbPath).href;
  }, 600_000);

  afterAll(async () => {
    await removeTemp(root);
  });

  it('packs the main package with dist/ (ESM, CJS, CLI, types) and without the binary or the sources', () => {
    const files = packed.main.files;
    for (const file of ['package.json', 'README.md', 'dist/index.js', 'dist/index.cjs', 'dist/flue/cli.js', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/flue/stores/index.js', 'dist/flue/stores/index.d.ts', 'index.js', 'index.d.ts']) {
      expect(files, file).toContain(file);
    }
    expect(files.filter((file) => file.endsWith('.node'))).toEqual([]);
    expect(files.filter((file) => /^(src|target|lib|__test__|bench|node_modules|npm)\//.test(file) || file === 'Cargo.toml')).toEqual([]);
    // Every file the exports map and bin name is in the tarball.
    const manifest = packed.main.packageJson as { exports: unknown; bin: Record<string, string> };
    const targets: string[] = [];
    const collect = (node: unknown): void => {
      if (typeof node === 'string') targets.push(node.replace(/^\.\//, ''));
      else if (node && typeof node === 'object') Object.values(node).forEach(collect);
    };
    collect(manifest.exports);
    collect(manifest.bin);
    expect(targets.length).toBeGreaterThan(4);
    for (const target of targets) expect(files, `exports/bin target ${target}`).toContain(target);
  });

  it('packs the platform package with the binary as its main, leaving npm/ in the repo without one', () => {
    const file = `flue-libsql.${packed.platform}.node`;
    expect(packed.native.name).toBe(`flue-libsql-${packed.platform}`);
    expect(packed.native.files).toContain(file);
    expect(packed.native.packageJson.main).toBe(file);
    expect(existsSync(join(REPO_ROOT, 'npm', packed.platform, file))).toBe(false);
    // The main package names it as an optional dependency at the same version.
    const optional = packed.main.packageJson.optionalDependencies as Record<string, string>;
    expect(optional[packed.native.name]).toBe(packed.native.version);
    expect(packed.main.version).toBe(packed.native.version);
  });

  it('installs with no Rust toolchain on PATH and no install scripts', async () => {
    const cargo = await run('sh', ['-c', 'command -v cargo || command -v rustc || command -v rustup'], { cwd: project.dir, env: project.env });
    expect(cargo.code, `found a Rust tool: ${cargo.stdout}`).not.toBe(0);
    expect(cargo.stdout.trim()).toBe('');
    for (const manifest of [packed.main.packageJson, packed.native.packageJson]) {
      const scripts = (manifest.scripts ?? {}) as Record<string, string>;
      expect(Object.keys(scripts).filter((name) => /^(pre|post)?install$|^prepare$/.test(name))).toEqual([]);
    }
    const installed = (name: string) => JSON.parse(readFileSync(project.file('node_modules', name, 'package.json'), 'utf8')) as { version: string };
    expect(installed('flue-libsql').version).toBe(packed.main.version);
    expect(installed(packed.native.name).version).toBe(packed.native.version);
    expect(installed('@flue/runtime').version).toBe(VERSIONS.flueRuntime);
    expect(existsSync(project.file('node_modules', packed.native.name, `flue-libsql.${packed.platform}.node`))).toBe(true);
  });

  it("runs a Flue agent on the README's db.ts through start(): prompt, stop, start again — the history is kept", async () => {
    const env = { ...project.env, LIBSQL_URL: dbUrl };
    const firstRun = await runOk(TEST_NODE, ['run.ts', 'first', conversation, firstPrompt], { cwd: project.dir, env, timeoutMs: 120_000 });
    first = JSON.parse(firstRun.stdout.trim().split('\n').at(-1)!);
    expect(first.node, 'the agent ran under the Node running the tests').toBe(process.version);
    const expectedFirst = `echo #1: ${firstPrompt} | heard: ${firstPrompt} | replies seen: 0`;
    expect(first.reply).toBe(expectedFirst);
    expect(first.modelCalls).toBe(1);
    // After stop() and a new start() on the same adapter: the reply re-reads from the file.
    expect(first.reread).toBe(expectedFirst);
    expect(first.modelCallsForReread).toBe(0);
    expect(first.historyAfterRestart).toEqual([
      { role: 'user', submissionId: first.submissionId, text: firstPrompt },
      { role: 'assistant', submissionId: first.submissionId, text: expectedFirst },
    ]);
    // The url came from LIBSQL_URL (the README's db.ts), not the default file:.flue/flue.db.
    expect(existsSync(dbPath)).toBe(true);
    expect(existsSync(project.file('.flue', 'flue.db'))).toBe(false);
  });

  it('a new process on the same file sees the history, and the next prompt reaches the model with it', async () => {
    expect(first, 'the first run must have passed').toBeDefined();
    const env = { ...project.env, LIBSQL_URL: dbUrl };
    const secondRun = await runOk(TEST_NODE, ['run.ts', 'second', conversation, secondPrompt], { cwd: project.dir, env, timeoutMs: 120_000 });
    second = JSON.parse(secondRun.stdout.trim().split('\n').at(-1)!);
    expect(second.pid).not.toBe(first.pid);
    expect(second.historyAtBoot).toEqual(first.historyAfterRestart);
    expect(second.reply).toBe(`echo #2: ${secondPrompt} | heard: ${firstPrompt} / ${secondPrompt} | replies seen: 1`);
    expect(second.modelCalls).toBe(1);
    expect(second.modelSaw.at(-1)).toEqual([
      { role: 'user', text: firstPrompt },
      { role: 'assistant', text: first.reply },
      { role: 'user', text: secondPrompt },
    ]);
    expect(second.historyAfter).toEqual([
      ...first.historyAfterRestart,
      { role: 'user', submissionId: second.submissionId, text: secondPrompt },
      { role: 'assistant', submissionId: second.submissionId, text: second.reply },
    ]);
  });

  it('ESM import and CJS require both load it and share one LibsqlError class (and one flue-libsql/stores)', async () => {
    const dual = JSON.parse((await runOk(TEST_NODE, ['dual.mjs'], { cwd: project.dir, env: project.env })).stdout);
    expect(dual.esmResolved).toBe(pathToFileURL(project.file('node_modules', 'flue-libsql', 'dist', 'index.js')).href);
    expect(dual.cjsResolved).toBe(project.file('node_modules', 'flue-libsql', 'dist', 'index.cjs'));
    expect(dual).toMatchObject({ sameLibsqlError: true, sameLibsql: true, sameOpen: true, sameCreateStores: true });
    expect(dual).toMatchObject({ thrownIsEsmLibsqlError: true, thrownIsCjsLibsqlError: true, code: 'SQLITE_ERROR' });

    const cjs = JSON.parse((await runOk(TEST_NODE, ['dual.cjs'], { cwd: project.dir, env: project.env })).stdout);
    expect(cjs.cjsResolved).toBe(dual.cjsResolved);
    expect(cjs).toMatchObject({ sameLibsqlError: true, thrownIsEsmLibsqlError: true, thrownIsCjsLibsqlError: true, code: 'SQLITE_ERROR' });
    expect(cjs.adapterMethods).toEqual(['migrate', 'connect', 'close']);
  });

  it('type-checks under moduleResolution nodenext from a .ts (ESM) and a .cts (CJS) file', async () => {
    const tsc = await run(TEST_NODE, [project.file('node_modules', 'typescript', 'bin', 'tsc'), '-p', '.', '--explainFiles'], {
      cwd: project.dir,
      env: project.env,
      timeoutMs: 120_000,
    });
    const errors = tsc.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
    expect(errors, tsc.stdout.slice(-3000)).toEqual([]);
    expect(tsc.code).toBe(0);
    // Each file got the declarations of its own entry: import -> index.d.ts, require -> index.d.cts.
    expect(tsc.stdout).toMatch(/node_modules\/flue-libsql\/dist\/index\.d\.ts\n\s+Imported via 'flue-libsql' from file '(src\/db\.ts|types-esm\.ts)'/);
    expect(tsc.stdout).toMatch(/node_modules\/flue-libsql\/dist\/index\.d\.cts\n\s+Imported via 'flue-libsql' from file 'types-cjs\.cts'/);

    // The @ts-expect-error lines are live: without them, tsc reports exactly those errors.
    await writeFile(project.file('types-esm.ts'), TYPES_ESM_TS.replaceAll('// @ts-expect-error', '//'));
    await writeFile(project.file('types-cjs.cts'), TYPES_CJS_CTS.replaceAll('// @ts-expect-error', '//'));
    try {
      const failing = await run(TEST_NODE, [project.file('node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], { cwd: project.dir, env: project.env, timeoutMs: 120_000 });
      const reported = failing.stdout.split('\n').filter((line) => /error TS\d+/.test(line)).map((line) => line.replace(/\(.*$/, ''));
      expect(reported.sort()).toEqual(['types-cjs.cts', 'types-esm.ts', 'types-esm.ts']);
    } finally {
      await writeFile(project.file('types-esm.ts'), TYPES_ESM_TS);
      await writeFile(project.file('types-cjs.cts'), TYPES_CJS_CTS);
    }
  });

  it('npx flue-libsql status / migrate / check report on the file', async () => {
    expect(second, 'the agent runs must have passed').toBeDefined();
    const env = { ...project.env, LIBSQL_URL: dbUrl, LIBSQL_AUTH_TOKEN: 'tok-should-never-print-0451' };
    const status = await runOk('npx', ['flue-libsql', 'status'], { cwd: project.dir, env });
    expect(status.stdout).toContain(`database: ${dbUrl}`);
    expect(status.stdout).toContain('reachable: yes');
    expect(status.stdout).toMatch(/^format version: format_version = 1$/m);
    expect(status.stdout).toMatch(/^pending migrations: none$/m);
    // Two prompts were dispatched on one conversation: two submissions, one stream.
    expect(status.stdout).toMatch(/^ {2}flue_agent_submissions: 2 row\(s\)$/m);
    expect(status.stdout).toMatch(/^ {2}flue_conversation_streams: 1 row\(s\)$/m);
    expect(status.stdout).toMatch(/^ {2}flue_meta: \d+ row\(s\)$/m);

    const migrate = await runOk('npx', ['flue-libsql', 'migrate'], { cwd: project.dir, env });
    expect(migrate.stdout).toContain('already up to date');
    expect(migrate.stdout).toMatch(/format version: 1/);

    const check = await runOk('npx', ['flue-libsql', 'check'], { cwd: project.dir, env });
    expect(check.stdout).toMatch(/^integrity: ok$/m);

    // A new file: migrate creates the schema, then status shows the stamp and empty tables.
    const freshUrl = pathToFileURL(join(root, 'data', 'fresh.db')).href;
    const freshEnv = { ...env, LIBSQL_URL: freshUrl };
    const before = await runOk('npx', ['flue-libsql', 'status'], { cwd: project.dir, env: freshEnv });
    expect(before.stdout).toMatch(/^format version: none \(not migrated\)$/m);
    expect(before.stdout).not.toMatch(/pending migrations: none/);
    const applied = await runOk('npx', ['flue-libsql', 'migrate'], { cwd: project.dir, env: freshEnv });
    expect(applied.stdout).toMatch(/^applied: /m);
    const after = await runOk('npx', ['flue-libsql', 'status'], { cwd: project.dir, env: freshEnv });
    expect(after.stdout).toMatch(/^format version: format_version = 1$/m);
    expect(after.stdout).toMatch(/^ {2}flue_agent_submissions: 0 row\(s\)$/m);

    for (const result of [status, migrate, check, before, applied, after]) {
      expect(result.stdout + result.stderr).not.toContain('tok-should-never-print-0451');
    }
  });

  it('npx flue-libsql exits non-zero with a clear message on a bad url, never printing the token', async () => {
    const token = 'tok-should-never-print-9137';
    const closedPort = await freePort();
    const notADatabase = join(root, 'not-a-database.db');
    await writeFile(notADatabase, 'this is a text file, not SQLite\n'.repeat(200));
    const cases = [
      { url: `http://127.0.0.1:${closedPort}`, expect: /^flue-libsql: SERVER_UNREACHABLE: \S/m },
      { url: 'nonsense://where', expect: /^flue-libsql: INVALID_OPTION: unknown url scheme 'nonsense:'/m },
      { url: pathToFileURL(notADatabase).href, expect: /^flue-libsql: SQLITE_NOTADB: .*the file is not a database.*$/m },
    ];
    for (const bad of cases) {
      const result = await run('npx', ['flue-libsql', 'status'], { cwd: project.dir, env: { ...project.env, LIBSQL_URL: bad.url, LIBSQL_AUTH_TOKEN: token }, timeoutMs: 60_000 });
      const output = result.stdout + result.stderr;
      expect(result.code, `${bad.url}: ${output}`).not.toBe(0);
      expect(output, bad.url).toMatch(bad.expect);
      expect(result.stdout).toContain(`database: ${bad.url}\nreachable: no\n`);
      expect(output).not.toContain(token);
      expect(output, 'no stack trace').not.toMatch(/\n\s+at .+:\d+:\d+/);
    }
    // A token in the url's query is redacted too.
    const inUrl = await run('npx', ['flue-libsql', 'status', '--url', `http://127.0.0.1:${closedPort}?authToken=${token}`], { cwd: project.dir, env: project.env, timeoutMs: 60_000 });
    expect(inUrl.code).not.toBe(0);
    expect(inUrl.stdout + inUrl.stderr).not.toContain(token);
  });

  it('without the platform package, importing it fails with the platform, what was tried and how to build from source', async () => {
    // A copy of the installed package in a project whose node_modules has everything else.
    const broken = join(root, 'broken');
    await mkdir(join(broken, 'node_modules'), { recursive: true });
    await writeFile(join(broken, 'package.json'), '{"name":"broken","private":true,"type":"module"}\n');
    await cp(project.file('node_modules', 'flue-libsql'), join(broken, 'node_modules', 'flue-libsql'), { recursive: true });
    for (const entry of readdirSync(project.file('node_modules'))) {
      if (entry.startsWith('.') || entry === 'flue-libsql' || entry === packed.native.name) continue;
      await symlink(project.file('node_modules', entry), join(broken, 'node_modules', entry));
    }
    expect(existsSync(join(broken, 'node_modules', packed.native.name))).toBe(false);
    const probe = `
      const messages = {};
      try { await import('flue-libsql'); } catch (error) { messages.esm = error.message; }
      try { (await import('node:module')).createRequire(import.meta.url)('flue-libsql'); } catch (error) { messages.cjs = error.message; }
      console.log(JSON.stringify(messages));`;
    await writeFile(join(broken, 'probe.mjs'), probe);
    const result = await runOk(TEST_NODE, ['probe.mjs'], { cwd: broken, env: project.env });
    const { esm, cjs } = JSON.parse(result.stdout) as { esm?: string; cjs?: string };
    expect(esm, 'import must throw').toBeDefined();
    expect(cjs).toBe(esm);
    const message = esm!;
    expect(message).toContain(`(${packed.platform}, Node v`);
    expect(message).toMatch(/^Tried:$/m);
    expect(message).toContain(`  ${packed.native.name}: not installed`);
    expect(message).toContain(`${packed.native.name} should have been installed as an optional dependency`);
    expect(message).toMatch(/To build from source: install Rust .*cmake/);
    expect(message).toContain(`flue-libsql.${packed.platform}.node`);
    expect(message, 'no loader internals').not.toMatch(/Require stack|\n\s+at |MODULE_NOT_FOUND|node:internal/);

    // The CLI says the same, as one clean message instead of an uncaught stack.
    const cli = await run(TEST_NODE, [join(broken, 'node_modules', 'flue-libsql', 'dist', 'flue', 'cli.js'), 'status'], { cwd: broken, env: project.env });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain(`  ${packed.native.name}: not installed`);
    expect(cli.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });
});
