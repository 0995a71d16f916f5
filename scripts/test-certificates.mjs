/**
 * Certificates for the TLS tests, made per run with `openssl`: a certificate authority of the
 * run's own, and server certificates it signs. Used by the test command (the TLS pass: its
 * servers sit behind a TLS terminator whose CA the tests trust through NODE_EXTRA_CA_CERTS) and
 * by __test__/remote-tls.test.ts (untrusted issuers, wrong names).
 */
import { execFileSync } from 'node:child_process';
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

/** A server certificate signed by `ca`, valid for `hosts` (IP addresses and DNS names): `{ certPath, keyPath }`. */
export function issueCertificate(ca, dir, name, hosts) {
  const keyPath = join(dir, `${name}-key.pem`);
  const requestPath = join(dir, `${name}.csr`);
  const certPath = join(dir, `${name}.pem`);
  const extensionsPath = join(dir, `${name}.ext`);
  const names = hosts.map((host) => (/^[\d.]+$/.test(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
  writeFileSync(extensionsPath, `subjectAltName=${names}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', requestPath, '-subj', `/CN=${hosts[0]}`]);
  openssl(['x509', '-req', '-in', requestPath, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-CAcreateserial', '-out', certPath, '-days', '2', '-extfile', extensionsPath]);
  return { certPath, keyPath };
}
