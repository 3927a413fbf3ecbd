/**
 * The certificate, key and ciphers of a transport's HTTPS/WSS listeners (the transport file's
 * `certificates` section), read and checked so that every problem is a ConfigError naming the
 * file, the line and the key: a missing or unreadable file, a file that is not PEM, an encrypted
 * key without `cert_pwd` or with the wrong one, a key that does not belong to the certificate, a
 * cipher list nothing matches. Nothing here ever puts key material or the passphrase in a message.
 *
 * `ciphers`: the WebSocket transport's is an OpenSSL cipher list (Janus hands it to libwebsockets/
 * OpenSSL) and is used as is. The HTTP transport's is a GnuTLS priority string in Janus
 * (libmicrohttpd), e.g. "PFS:-VERS-TLS1.0:-VERS-TLS1.1:-3DES-CBC:-ARCFOUR-128": Portunus maps what has
 * an OpenSSL equivalent (protocol versions, PFS) and warns about the tokens it cannot apply; an
 * OpenSSL cipher list is accepted there too.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { createSecureContext, DEFAULT_CIPHERS, type SecureVersion } from 'node:tls';
import { ConfigError } from './errors.js';
import type { HttpTransportConfig, TransportCertificates, WsTransportConfig } from './types.js';

/** What node:https / node:tls need; hand it to createServer as is. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  passphrase?: string;
  ciphers?: string;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
}

export interface TlsSource {
  /** The transport file read (null: programmatic config; `fileName` is used in messages). */
  file: string | null;
  certificates: TransportCertificates;
  keyLines: Record<string, number>;
}

export interface TlsLoadOptions {
  /** Name for messages when `file` is null, e.g. "janus.transport.http.jcfg". */
  fileName: string;
  /** The keys that turned TLS on ("general.https", "admin.admin_https"): a missing certificate is reported at the first. */
  enabledBy: string[];
  /** "gnutls": `ciphers` may be a GnuTLS priority string (HTTP transport); "openssl": an OpenSSL cipher list (WebSockets). */
  ciphers: 'gnutls' | 'openssl';
  /** Non-fatal findings (an expired certificate, GnuTLS tokens without an equivalent). */
  warn?: (key: string, line: number | undefined, message: string) => void;
  /** "now" for the expiry check (tests). */
  now?: Date;
}

/** The keys of janus.transport.http.jcfg that turn on a TLS listener. */
export function httpTlsEnabledBy(http: HttpTransportConfig): string[] {
  return [...(http.general.https ? ['general.https'] : []), ...(http.admin.admin_https ? ['admin.admin_https'] : [])];
}

/** The keys of janus.transport.websockets.jcfg that turn on a TLS listener. */
export function wsTlsEnabledBy(ws: WsTransportConfig): string[] {
  return [...(ws.general.wss ? ['general.wss'] : []), ...(ws.admin.admin_wss ? ['admin.admin_wss'] : [])];
}

/** Reads and checks the section; throws ConfigError. */
export function loadTlsCredentials(src: TlsSource, opts: TlsLoadOptions): TlsCredentials {
  const file = src.file ?? opts.fileName;
  const lineOf = (key: string): number | undefined => src.keyLines[key];
  const fail = (key: string, reason: string, at: string = key): never => {
    throw new ConfigError(file, lineOf(at), key, reason);
  };
  const c = src.certificates;
  const enabled = opts.enabledBy.map((k) => `${k} = true`).join(' and ');
  const at = opts.enabledBy.find((k) => lineOf(k) !== undefined) ?? opts.enabledBy[0] ?? 'certificates.cert_pem';

  if (!c.cert_pem) fail('certificates.cert_pem', `not set, but ${enabled} needs a certificate (PEM file)`, at);
  if (!c.cert_key) fail('certificates.cert_key', `not set, but ${enabled} needs the certificate's private key (PEM file)`, at);
  const certPath = c.cert_pem!;
  const keyPath = c.cert_key!;
  const cert = readPem(certPath, 'certificates.cert_pem', fail);
  const key = readPem(keyPath, 'certificates.cert_key', fail);

  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    return fail('certificates.cert_pem', `"${certPath}" is not a PEM certificate`);
  }

  const passphrase = c.cert_pwd ?? undefined;
  const encrypted = /ENCRYPTED/.test(key.toString('latin1'));
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key, format: 'pem', ...(passphrase !== undefined ? { passphrase } : {}) });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MISSING_PASSPHRASE' || (encrypted && passphrase === undefined)) {
      return fail('certificates.cert_key', `"${keyPath}" is encrypted: set certificates.cert_pwd to its passphrase`);
    }
    if (encrypted) return fail('certificates.cert_pwd', `does not decrypt "${keyPath}" (wrong passphrase?)`);
    return fail('certificates.cert_key', `"${keyPath}" is not a PEM private key`);
  }
  if (!x509.checkPrivateKey(keyObject)) {
    fail('certificates.cert_key', `"${keyPath}" is not the private key of the certificate in "${certPath}"`);
  }
  const now = opts.now ?? new Date();
  if (new Date(x509.validTo).getTime() < now.getTime()) {
    opts.warn?.('certificates.cert_pem', lineOf('certificates.cert_pem'), `the certificate in "${certPath}" expired on ${x509.validTo}; clients will refuse it`);
  }

  const out: TlsCredentials = { cert, key, ...(passphrase !== undefined ? { passphrase } : {}) };
  if (c.ciphers !== null && c.ciphers.trim() !== '') {
    const mapped: GnutlsMapping = opts.ciphers === 'gnutls' && isGnutlsPriority(c.ciphers) ? fromGnutls(c.ciphers) : { ciphers: c.ciphers.trim(), ignored: [] };
    if (mapped.noVersion) fail('certificates.ciphers', `${JSON.stringify(c.ciphers)} leaves no TLS version enabled`);
    if (mapped.ignored.length > 0) {
      opts.warn?.(
        'certificates.ciphers',
        lineOf('certificates.ciphers'),
        `GnuTLS priority tokens with no OpenSSL equivalent are not applied: ${mapped.ignored.join(', ')} (write an OpenSSL cipher list to restrict ciphers)`,
      );
    }
    if (mapped.ciphers !== undefined) out.ciphers = mapped.ciphers;
    if (mapped.minVersion) out.minVersion = mapped.minVersion;
    if (mapped.maxVersion) out.maxVersion = mapped.maxVersion;
    try {
      createSecureContext({ ...(out.ciphers !== undefined ? { ciphers: out.ciphers } : {}), ...versions(out) });
    } catch {
      fail('certificates.ciphers', `no usable cipher or protocol version in ${JSON.stringify(c.ciphers)} (expected an OpenSSL cipher list, e.g. "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256")`);
    }
  }
  // Last: everything together the way the listener will use it.
  try {
    createSecureContext({ cert, key, ...(passphrase !== undefined ? { passphrase } : {}), ...(out.ciphers !== undefined ? { ciphers: out.ciphers } : {}), ...versions(out) });
  } catch (err) {
    fail('certificates.cert_pem', `the certificate and key cannot be used for TLS (${safeReason(err)})`);
  }
  return out;
}

function versions(t: TlsCredentials): { minVersion?: SecureVersion; maxVersion?: SecureVersion } {
  return { ...(t.minVersion ? { minVersion: t.minVersion } : {}), ...(t.maxVersion ? { maxVersion: t.maxVersion } : {}) };
}

function readPem(path: string, key: string, fail: (key: string, reason: string) => never): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? 'unreadable');
    return fail(key, `cannot read "${path}": ${why}`);
  }
}

/** An OpenSSL error's reason without anything from the input (OpenSSL messages never echo key bytes, but keep it short). */
function safeReason(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0]!.slice(0, 200);
}

const GNUTLS_KEYWORDS = new Set(['NORMAL', 'PFS', 'SECURE', 'SECURE128', 'SECURE192', 'SECURE256', 'SUITEB128', 'SUITEB192', 'PERFORMANCE', 'LEGACY', 'NONE', 'PRESTANDARD']);

/** GnuTLS priority strings start with a keyword (NORMAL, PFS, SECURE256...) or use +/-VERS-... tokens. */
export function isGnutlsPriority(s: string): boolean {
  const tokens = s.split(':').map((t) => t.trim());
  return GNUTLS_KEYWORDS.has(tokens[0]!.toUpperCase()) || tokens.some((t) => /^[-+!]?VERS-/i.test(t) || t.startsWith('%'));
}

export interface GnutlsMapping {
  ciphers?: string;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
  /** Every TLS version was removed. */
  noVersion?: boolean;
  /** Tokens with no OpenSSL equivalent here. */
  ignored: string[];
}

const VERSIONS: SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const GNUTLS_VERSION: Record<string, SecureVersion> = { 'TLS1.0': 'TLSv1', 'TLS1.1': 'TLSv1.1', 'TLS1.2': 'TLSv1.2', 'TLS1.3': 'TLSv1.3' };
/** Tokens that remove what Node's defaults never offer anyway (SSL 3, 3DES, RC4, MD5, NULL, export, anonymous). */
const ALREADY_OFF = /^-(VERS-SSL3\.0|3DES-CBC|ARCFOUR-128|ARCFOUR-40|ARCFOUR|RC2-40-CBC|DES-CBC|MD5|NULL|ANON-DH|ANON-ECDH|EXPORT)$/i;

/**
 * Maps a GnuTLS priority string to OpenSSL settings: protocol versions (Node's defaults are TLS 1.2 and
 * 1.3, so removing 1.0/1.1 changes nothing), PFS (no RSA key exchange); the rest is reported as ignored.
 */
export function fromGnutls(s: string): GnutlsMapping {
  const on = new Set<SecureVersion>(['TLSv1.2', 'TLSv1.3']);
  let pfs = false;
  const ignored: string[] = [];
  for (const raw of s.split(':')) {
    const t = raw.trim();
    if (t === '') continue;
    const upper = t.toUpperCase();
    if (upper === 'NORMAL' || upper === 'SECURE' || upper === 'SECURE128' || upper === 'SECURE192' || upper === 'SECURE256' || upper === 'PERFORMANCE') continue;
    if (upper === 'PFS') {
      pfs = true;
      continue;
    }
    const v = /^([+-]|!)VERS-(.+)$/i.exec(t);
    if (v) {
      const which = v[2]!.toUpperCase();
      const targets = which === 'ALL' || which === 'TLS-ALL' ? VERSIONS : GNUTLS_VERSION[which] ? [GNUTLS_VERSION[which]!] : null;
      if (targets) {
        for (const x of targets) {
          if (v[1] === '+') on.add(x);
          else on.delete(x);
        }
        continue;
      }
      if (/^SSL3\.0$|^DTLS/i.test(which)) continue;
    }
    if (ALREADY_OFF.test(t)) continue;
    ignored.push(t);
  }
  const enabled = VERSIONS.filter((x) => on.has(x));
  const out: GnutlsMapping = { ignored };
  if (enabled.length === 0) {
    out.noVersion = true;
    return out;
  }
  if (enabled[0] !== 'TLSv1.2') out.minVersion = enabled[0]!;
  if (enabled[enabled.length - 1] !== 'TLSv1.3') out.maxVersion = enabled[enabled.length - 1]!;
  if (pfs) out.ciphers = `${DEFAULT_CIPHERS}:!kRSA`;
  return out;
}
