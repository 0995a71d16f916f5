/**
 * "Ship with Flue's Node-target build": a fresh Flue project laid out as Flue's docs show
 * (`vite.config.ts` with `flue()`, `src/app.ts`, one `'use agent'` module, and the README's
 * `src/db.ts` verbatim), with flue-libsql installed from the packed tarballs.
 *
 * `vite build`, then what ships — `dist/` plus a production install (`npm install --omit=dev`, so
 * no vite, no @flue/vite, no sources) in another folder — runs as `node dist/server.mjs` with
 * `LIBSQL_URL` on a file. Over HTTP: a prompt is answered; SIGTERM; a new server shows the
 * first turn and a second prompt's model call receives it. Then a conversation is answered
 * and the server SIGKILLed while idle: the file checks out, and a new server (configured
 * through `TURSO_DATABASE_URL` this time) has everything that was accepted.
 *
 * It runs twice, once per end of the peer range (`@flue/runtime` >=2.0.3 <2.2.0):
 *
 * - the app on `@flue/runtime` 2.0.3, the version `@flue/vite` 2.0.3 pins exactly: one copy,
 *   2.0.3, in the build project and in what ships, so the build and the server both run on it
 *   (`npm install flue-libsql @flue/runtime@2.0.3 @flue/vite@2.0.3` — an ERESOLVE with a peer
 *   range that leaves 2.0.3 out);
 * - the app on 2.1.0: npm nests @flue/vite's pinned 2.0.3 under it for the build, and the
 *   server ships and runs the app's 2.1.0 only.
 *
 * The app's sources (the faux model that answers from the context it receives) and the server's
 * start, stop and HTTP routes: support/flue-server.ts, shared with failover/flue-servers.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_TS,
  APP_TS,
  FAUX_MODEL_TS,
  history,
  prompt,
  replyTo,
  settled,
  startServer,
  stopAllServers,
  stopServer,
  VITE_CONFIG,
  writeLoopbackPreload,
  type Turn,
} from '../support/flue-server.js';
import { echo } from '../support/faux-model.js';
import {
  cannotPackReason,
  createProject,
  packPackages,
  readmeDbTs,
  removeTemp,
  runOk,
  userEnv,
  VERSIONS,
  type PackedPackages,
  type Project,
} from '../support/packed-project.js';

const skipReason = cannotPackReason();
if (skipReason) console.warn(`packaging/deploy-vite.test.ts skipped: ${skipReason}`);

/** Every installed copy of `name` under a node_modules tree (nested ones included). */
function findPackages(nodeModules: string, name: string): string[] {
  const found: string[] = [];
  const visit = (dir: string, depth: number) => {
    if (depth > 8 || !existsSync(dir)) return;
    if (existsSync(join(dir, name, 'package.json'))) found.push(join(dir, name));
    for (const entry of readdirSync(dir)) {
      if (entry.startsWith('.')) continue;
      const packages = entry.startsWith('@') ? readdirSync(join(dir, entry)).map((child) => join(dir, entry, child)) : [join(dir, entry)];
      for (const pkg of packages) visit(join(pkg, 'node_modules'), depth + 1);
    }
  };
  visit(nodeModules, 0);
  return found;
}

/** Sockets in LISTEN state on `port` from /proc/net/tcp{,6}, as local hex addresses. */
function listeningAddresses(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((file) =>
    existsSync(file)
      ? readFileSync(file, 'utf8').split('\n').slice(1).map((line) => line.trim().split(/\s+/))
          .filter((fields) => fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A')
          .map((fields) => fields[1]!.split(':')[0]!)
      : [],
  );
}

for (const flueRuntime of [VERSIONS.flueRuntimeOldest, VERSIONS.flueRuntime]) {
  describe.skipIf(skipReason)(`a Flue app on @flue/runtime ${flueRuntime} built with vite (Node target) on flue-libsql, shipped as dist/ + node_modules`, () => {
    let root: string;
    let packed: PackedPackages;
    let app: Project;
    let deploy: string;
    let deployEnv: NodeJS.ProcessEnv;
    let dbUrl: string;
    let built: string[] = [];
    let buildRuntimes: string[] = [];
    let npmLs = '';
    const termId = 'conversation-term';
    const killId = 'conversation-kill';
    const turns = { term1: 'the code word is tangerine', term2: 'what was the code word?', kill1: 'remember 42', kill2: 'what number?' };
    let termHistory: Turn[] = [];

    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'flue-libsql-deploy-'));
      packed = await packPackages(join(root, 'packs'));
      app = await createProject(join(root, 'app'), {
        name: 'fresh-flue-vite-app',
        tarballs: [packed.main, packed.native],
        dependencies: { '@flue/runtime': flueRuntime, hono: VERSIONS.hono, '@earendil-works/pi-ai': VERSIONS.piAi },
        devDependencies: { '@flue/vite': VERSIONS.flueVite, vite: VERSIONS.vite },
      });
      await app.write('vite.config.ts', VITE_CONFIG);
      await app.write('src/app.ts', APP_TS);
      await app.write('src/faux-model.ts', FAUX_MODEL_TS);
      await app.write('src/agents/echo.ts', AGENT_TS);
      await app.write('src/db.ts', readmeDbTs());
      const build = await runOk('npx', ['vite', 'build'], { cwd: app.dir, env: app.env, timeoutMs: 180_000 });
      built = readdirSync(app.file('dist'));
      buildRuntimes = findPackages(app.file('node_modules'), '@flue/runtime').map((dir) =>
        `${dir.slice(app.dir.length + 1)}@${(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version}`);
      const version = (name: string) => (JSON.parse(readFileSync(app.file('node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
      // npm's own verdict on the tree: exits non-zero on an invalid or missing peer.
      npmLs = (await runOk('npm', ['ls', '--all', '@flue/runtime'], { cwd: app.dir, env: app.env, timeoutMs: 120_000 })).stdout;
      console.log(
        `deploy-vite (Node ${process.versions.node}): tested ${['@flue/runtime', '@flue/vite', 'vite', 'hono', '@earendil-works/pi-ai'].map((name) => `${name}@${version(name)}`).join(', ')}; ` +
          `@flue/runtime copies in the build project: ${buildRuntimes.join(', ')}`,
      );

      // What ships: dist/ and a production install from the same lockfile, in a new folder.
      deploy = join(root, 'deploy');
      await mkdir(deploy);
      await cp(app.file('dist'), join(deploy, 'dist'), { recursive: true });
      for (const file of ['package.json', 'package-lock.json']) await cp(app.file(file), join(deploy, file));
      await writeLoopbackPreload(deploy);
      // (`npm install --omit=dev`, not `npm ci`: the lockfile cannot list the other platforms'
      // flue-libsql-* optional packages while they are unpublished, and npm ci refuses that.)
      const ci = await runOk('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'], { cwd: deploy, env: app.env, timeoutMs: 600_000 });
      console.log(`deploy-vite: npm install ${app.installMs} ms, vite build ${build.ms} ms, npm install --omit=dev ${ci.ms} ms`);

      dbUrl = pathToFileURL(join(root, 'data', 'flue.db')).href;
      deployEnv = userEnv();
    }, 900_000);

    afterEach(async () => {
      // A failed test must not leave a server behind.
      await stopAllServers();
    });

    afterAll(async () => {
      await removeTemp(root);
    });

    it(`npm installs @flue/runtime ${flueRuntime} with @flue/vite ${VERSIONS.flueVite} and flue-libsql's peer range, and vite builds on the copy it expects`, () => {
      // Only @flue/vite's exact pin can add a second copy: none when the app is on 2.0.3 too.
      const expected = [`node_modules/@flue/runtime@${flueRuntime}`];
      if (flueRuntime !== VERSIONS.flueRuntimeOldest) expected.push(`node_modules/@flue/vite/node_modules/@flue/runtime@${VERSIONS.flueRuntimeOldest}`);
      expect(buildRuntimes.sort()).toEqual(expected.sort());
      expect(npmLs).toContain(`flue-libsql@${packed.main.version}`);
      expect(npmLs).not.toMatch(/invalid|UNMET|ERESOLVE/);
    });

    it('vite build writes dist/server.mjs and dist/app.mjs, with flue-libsql left external', () => {
      expect(built).toEqual(expect.arrayContaining(['server.mjs', 'app.mjs']));
      const code = built.filter((file) => file.endsWith('.mjs')).map((file) => readFileSync(app.file('dist', file), 'utf8')).join('\n');
      expect(code).toMatch(/from "flue-libsql"/);
      expect(code).toMatch(/from "@flue\/runtime(\/[a-z]+)?"/);
      expect(built.filter((file) => file.endsWith('.node'))).toEqual([]);
      // The README's db.ts is the adapter the build wired in.
      expect(code).toContain('LIBSQL_AUTH_TOKEN');
    });

    it('the shipped folder has dist/ and production dependencies only (no vite, no sources)', () => {
      const has = (...parts: string[]) => existsSync(join(deploy, ...parts));
      expect(has('node_modules', 'flue-libsql', 'dist', 'index.js')).toBe(true);
      expect(has('node_modules', packed.native.name, `flue-libsql.${packed.platform}.node`)).toBe(true);
      expect(has('node_modules', '@flue', 'runtime')).toBe(true);
      expect(has('node_modules', 'vite')).toBe(false);
      expect(has('node_modules', '@flue', 'vite')).toBe(false);
      expect(has('src')).toBe(false);
      // Exactly one @flue/runtime ships (the app's): @flue/vite's own pinned copy is build-time only.
      const runtimes = findPackages(join(deploy, 'node_modules'), '@flue/runtime');
      expect(runtimes.map((dir) => dir.slice(deploy.length))).toEqual(['/node_modules/@flue/runtime']);
      const runtime = JSON.parse(readFileSync(join(runtimes[0]!, 'package.json'), 'utf8')) as { version: string };
      expect(runtime.version).toBe(flueRuntime);
    });

    it('answers a prompt over HTTP; after SIGTERM a new server has the turn and the next prompt sees it', async () => {
      const env = { ...deployEnv, LIBSQL_URL: dbUrl };
      const first = await startServer(deploy, env);
      expect(listeningAddresses(first.port)).toEqual(process.platform === 'linux' ? ['0100007F'] : []);
      const firstSubmission = await prompt(first, termId, turns.term1);
      expect(await settled(first, termId, firstSubmission)).toBe('completed');
      expect(await replyTo(first, termId, firstSubmission)).toBe(echo([turns.term1], 0));
      expect(await stopServer(first, 'SIGTERM')).toEqual({ code: 143, signal: null }); // Flue's graceful stop

      const second = await startServer(deploy, env);
      expect(second.child.pid).not.toBe(first.child.pid);
      expect(await history(second, termId)).toEqual([
        { role: 'user', submissionId: firstSubmission, text: turns.term1 },
        { role: 'assistant', submissionId: firstSubmission, text: echo([turns.term1], 0) },
      ]);
      const secondSubmission = await prompt(second, termId, turns.term2);
      expect(await settled(second, termId, secondSubmission)).toBe('completed');
      expect(await replyTo(second, termId, secondSubmission)).toBe(echo([turns.term1, turns.term2], 1));
      termHistory = await history(second, termId);
      expect(termHistory).toHaveLength(4);
      expect(await stopServer(second, 'SIGTERM')).toEqual({ code: 143, signal: null });
    });

    it('SIGKILL while idle loses nothing accepted: the file checks out and a new server continues the conversation', async () => {
      expect(termHistory, 'the SIGTERM test must have passed').toHaveLength(4);
      const server = await startServer(deploy, { ...deployEnv, LIBSQL_URL: dbUrl });
      const submission = await prompt(server, killId, turns.kill1);
      expect(await settled(server, killId, submission)).toBe('completed');
      const before = await history(server, killId);
      expect(before.at(-1)).toEqual({ role: 'assistant', submissionId: submission, text: echo([turns.kill1], 0) });
      expect(await stopServer(server, 'SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

      // The file as the killed process left it (WAL and all).
      const cliEnv = { ...app.env, LIBSQL_URL: dbUrl };
      const check = await runOk(join(deploy, 'node_modules', '.bin', 'flue-libsql'), ['check'], { cwd: deploy, env: cliEnv });
      expect(check.stdout).toMatch(/^integrity: ok$/m);
      const status = await runOk(join(deploy, 'node_modules', '.bin', 'flue-libsql'), ['status'], { cwd: deploy, env: cliEnv });
      expect(status.stdout).toMatch(/^ {2}flue_agent_submissions: 3 row\(s\)$/m); // 2 on termId, 1 on killId
      expect(status.stdout).toMatch(/^ {2}flue_conversation_streams: 2 row\(s\)$/m);

      // The new server gets its url from TURSO_DATABASE_URL (db.ts's url is LIBSQL_URL, unset here).
      const restarted = await startServer(deploy, { ...deployEnv, TURSO_DATABASE_URL: dbUrl });
      expect(await history(restarted, killId)).toEqual(before);
      expect(await history(restarted, termId)).toEqual(termHistory);
      const next = await prompt(restarted, killId, turns.kill2);
      expect(await settled(restarted, killId, next)).toBe('completed');
      expect(await replyTo(restarted, killId, next)).toBe(echo([turns.kill1, turns.kill2], 1));
      const health = (await (await fetch(`http://127.0.0.1:${restarted.port}/health`)).json()) as { modelCalls: number };
      expect(health.modelCalls).toBe(1); // nothing was re-run: only the new prompt called the model
      expect(await stopServer(restarted, 'SIGTERM')).toEqual({ code: 143, signal: null });
    });
  });
}
