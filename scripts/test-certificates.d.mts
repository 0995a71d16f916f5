export interface PemFiles { certPath: string; keyPath: string }
/** A new CA in `dir`. */
export declare function makeCertificateAuthority(dir: string, name: string): PemFiles;
/** A server certificate signed by `ca`, valid for `hosts` (IP addresses and DNS names); `expired`: valid for one day of 2020 only. */
export declare function issueCertificate(ca: PemFiles, dir: string, name: string, hosts: string[], options?: { expired?: boolean }): PemFiles;
