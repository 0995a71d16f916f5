/**
 * TLS as Node users set it up, against a real sqld behind a TLS terminator
 * (support/tls-terminator.ts) whose certificates come from a CA made for this run
 * (scripts/test-certificates.mjs): trust from NODE_EXTRA_CA_CERTS or SSL_CERT_FILE for
 * `https://`, `wss://`, `libsql://` and a replica's sync; and certificate and protocol failures
 * named as such (`TLS_FAILED`), at once, without the token. Trust is read once per process, so
 * each case runs in a child process started with its own environment.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCertificate, makeCertificateAuthority, type PemFiles } from '../../scripts/test-certificates.mjs';
import { OWN_SERVER_SKIP_REASON, skipSuffix } from '../support/remote-target.js';
import { makeTempDir, runNodeChild, type TempDir } from '../support/runner-helpers.js';
import { startSqld, type SqldServer } from '../support/sqld-server.js';
import { startTlsTerminator, type TlsTerminator } from '../support/tls-terminator.js';

const CLIENT = new URL('../support/children/tls-client.mjs', import.meta.url).pathname;

interface Outcome { target: string; wrote?: string; rows?: unknown; error?: { code: string; message: string }; ms: number }

describe.skipIf(OWN_SERVER_SKIP_REASON !== undefined)(`TLS to a libSQL server${skipSuffix(OWN_SERVER_SKIP_REASON)}`, () => {
  let dir: TempDir;
  let server: SqldServer;
  let ca: PemFiles;
  let stranger: PemFiles;
  let tls: TlsTerminator;
  let wrongName: TlsTerminator;
  let expired: TlsTerminator;
  let token: string;

  beforeAll(async () => {
    dir = await makeTempDir();
    ca = makeCertificateAuthority(dir.path, 'private-ca');
    stranger = makeCertificateAuthority(dir.path, 'stranger-ca');
    server = await startSqld({ auth: true });
    token = server.tokens!.readWrite;
    tls = await startTlsTerminator(server.port, issueCertificate(ca, dir.path, 'server', ['127.0.0.1', 'localhost']));
    wrongName = await startTlsTerminator(server.port, issueCertificate(ca, dir.path, 'elsewhere', ['db.example.invalid']));
    expired = await startTlsTerminator(server.port, issueCertificate(ca, dir.path, 'expired', ['127.0.0.1', 'localhost'], { expired: true }));
  });
  afterAll(async () => {
    await tls?.close();
    await wrongName?.close();
    await expired?.close();
    await server?.dispose();
    await dir?.remove();
  });

  /** Runs the client with `env` (no inherited trust settings) against `targets`. */
  async function client(env: NodeJS.ProcessEnv, targets: string[]): Promise<Outcome[]> {
    const { NODE_EXTRA_CA_CERTS: _extra, SSL_CERT_FILE: _file, SSL_CERT_DIR: _dir, ...inherited } = process.env;
    const result = await runNodeChild(CLIENT, [token, ...targets], { env: { ...inherited, ...env } }).done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(token);
    return result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Outcome);
  }
  const targets = (port: number, replicaName: string) => [
    `https://127.0.0.1:${port}`,
    `wss://127.0.0.1:${port}`,
    `libsql://127.0.0.1:${port}`,
    `replica=${join(dir.path, replicaName)}:https://127.0.0.1:${port}`,
    `replica=${join(dir.path, `${replicaName}-ws`)}:wss://127.0.0.1:${port}`,
  ];

  it.each([
    ['NODE_EXTRA_CA_CERTS', () => ({ NODE_EXTRA_CA_CERTS: ca.certPath })],
    ['SSL_CERT_FILE', () => ({ SSL_CERT_FILE: ca.certPath })],
  ])('with the private CA in %s, https://, wss://, libsql:// and a replica syncing over https:// and wss:// all work', async (name, env) => {
    const outcomes = await client(env(), targets(tls.port, `trusted-${name}.db`));
    expect(outcomes).toHaveLength(5);
    for (const outcome of outcomes) {
      expect(outcome.error, outcome.target).toBeUndefined();
      expect(outcome.rows, outcome.target).toEqual([{ v: outcome.wrote }]);
    }
  });

  it('without trusting the CA, each fails at once with TLS_FAILED naming the unknown issuer (a new replica too), without the token', async () => {
    const outcomes = await client({}, targets(tls.port, 'untrusted.db'));
    for (const outcome of outcomes) {
      expect(outcome.error?.code, outcome.target).toBe('TLS_FAILED');
      expect(outcome.error?.message, outcome.target).toMatch(/issuer this process does not trust.*NODE_EXTRA_CA_CERTS/);
      // A replica's replication alone would retry its handshake for seconds, then time out.
      expect(outcome.ms, outcome.target).toBeLessThan(2000);
    }
  });

  it('a CA that is trusted does not vouch for another CA’s certificate, nor for a certificate of another name', async () => {
    const [stray] = await client({ NODE_EXTRA_CA_CERTS: stranger.certPath }, [`https://127.0.0.1:${tls.port}`]);
    expect(stray.error?.code).toBe('TLS_FAILED');
    const outcomes = await client({ NODE_EXTRA_CA_CERTS: ca.certPath }, [`https://127.0.0.1:${wrongName.port}`, `wss://127.0.0.1:${wrongName.port}`]);
    for (const outcome of outcomes) {
      expect(outcome.error?.code, outcome.target).toBe('TLS_FAILED');
      expect(outcome.error?.message, outcome.target).toContain('not valid for this host name');
    }
  });

  it('an expired certificate from a trusted CA fails at once with TLS_FAILED saying it expired (a new replica too)', async () => {
    const outcomes = await client({ NODE_EXTRA_CA_CERTS: ca.certPath }, targets(expired.port, 'expired.db'));
    expect(outcomes).toHaveLength(5);
    for (const outcome of outcomes) {
      expect(outcome.error?.code, outcome.target).toBe('TLS_FAILED');
      expect(outcome.error?.message, outcome.target).toContain('its certificate has expired');
      expect(outcome.ms, outcome.target).toBeLessThan(2000);
    }
  });

  it('NODE_EXTRA_CA_CERTS naming a file that is not there is said in the failure', async () => {
    const [outcome] = await client({ NODE_EXTRA_CA_CERTS: join(dir.path, 'missing.pem') }, [`https://127.0.0.1:${tls.port}`]);
    expect(outcome.error?.code).toBe('TLS_FAILED');
    expect(outcome.error?.message).toMatch(/NODE_EXTRA_CA_CERTS \(.*missing\.pem\) could not be read/);
  });

  it('https:// to a plain port is TLS_FAILED ("did not answer in TLS"); http:// to a TLS port fails with a hint, neither hangs', async () => {
    const plain = `https://127.0.0.1:${server.port}`;
    const toPlain = await client({ NODE_EXTRA_CA_CERTS: ca.certPath }, [plain, `wss://127.0.0.1:${server.port}`]);
    for (const outcome of toPlain) {
      expect(outcome.error?.code, outcome.target).toBe('TLS_FAILED');
      expect(outcome.error?.message, outcome.target).toContain('did not answer in TLS');
    }
    const [toTls] = await client({ NODE_EXTRA_CA_CERTS: ca.certPath }, [`http://127.0.0.1:${tls.port}`]);
    expect(toTls.error?.code).toBe('SERVER_UNREACHABLE');
    expect(toTls.error?.message).toContain('speaks TLS, use https://');
    for (const outcome of [...toPlain, toTls]) expect(outcome.ms, outcome.target).toBeLessThan(2000);
  });
});
