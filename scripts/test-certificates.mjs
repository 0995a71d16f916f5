/**
 * Certificates for the TLS tests, made per run with `openssl`: a certificate authority of the
 * run's own, and server certificates it signs. Used by the test command (the TLS pass: its
 * servers sit behind a TLS terminator whose CA the tests trust through NODE_EXTRA_CA_CERTS) and
 * by __test__/remote/tls.test.ts (untrusted issuers, wrong names, expired certificates).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const openssl = (args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** A new CA in `dir`: `{ certPath, keyPath }` (PEM). */
export function makeCertificateAuthority(dir, name) {
  mkdirSync(dir, { recursive: true });
  const keyPath = join(dir, `${name}-key.pem`);
  const certPath = join(dir, `${name}.pem`);
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return { certPath, keyPath };
}

/**
 * A server certificate signed by `ca`, valid for `hosts` (IP addresses and DNS names): `{
 * certPath, keyPath }`. Valid from now for two days, or with `{ expired: true }` for one day of
 * January 2020 (`openssl ca` sets both dates, which `x509 -req` of OpenSSL 3.0 cannot).
 */
export function issueCertificate(ca, dir, name, hosts, { expired = false } = {}) {
  const keyPath = join(dir, `${name}-key.pem`);
  const requestPath = join(dir, `${name}.csr`);
  const certPath = join(dir, `${name}.pem`);
  const configPath = join(dir, `${name}.cnf`);
  const database = join(dir, `${name}.index`);
  const names = hosts.map((host) => (/^[\d.]+$/.test(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
  writeFileSync(database, '');
  writeFileSync(join(dir, `${name}.serial`), `${randomBytes(8).toString('hex')}\n`);
  writeFileSync(configPath, [
    '[ca]', 'default_ca = run', '[run]', `database = ${database}`, `new_certs_dir = ${dir}`, `serial = ${join(dir, `${name}.serial`)}`,
    'default_md = sha256', 'policy = any', 'x509_extensions = server', 'unique_subject = no',
    '[any]', 'commonName = supplied',
    '[server]', `subjectAltName = ${names}`, 'extendedKeyUsage = serverAuth', 'basicConstraints = CA:FALSE', '',
  ].join('\n'));
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', requestPath, '-subj', `/CN=${hosts[0]}`]);
  const validity = expired ? ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z'] : ['-days', '2'];
  openssl(['ca', '-batch', '-notext', '-config', configPath, '-cert', ca.certPath, '-keyfile', ca.keyPath, '-in', requestPath, '-out', certPath, ...validity]);
  return { certPath, keyPath };
}
