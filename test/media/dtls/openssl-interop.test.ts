/**
 * Interop against an independent DTLS implementation: the openssl CLI over UDP on 127.0.0.1.
 * Skipped when openssl is not installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCertificate, type DtlsCertificate } from '../../../src/media/dtls/certificate.js';
import { DtlsEndpoint, type DtlsConnectedInfo } from '../../../src/media/dtls/endpoint.js';

function hasOpenssl(): boolean {
  try { execFileSync('openssl', ['version'], { stdio: 'ignore' }); return true; } catch { return false; }
}
const skip = !hasOpenssl();

function writeCert(c: DtlsCertificate): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'portunus-ossl-'));
  writeFileSync(join(dir, 'c.pem'), c.certPem);
  writeFileSync(join(dir, 'k.pem'), c.keyPem);
  return { cert: join(dir, 'c.pem'), key: join(dir, 'k.pem') };
}

function waitFor(cond: () => boolean, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const iv = setInterval(() => {
      if (cond()) { clearInterval(iv); resolve(); } else if (Date.now() - t0 > ms) { clearInterval(iv); reject(new Error('timeout')); }
    }, 20);
  });
}

interface Harness {
  ep: DtlsEndpoint;
  sock: Socket;
  info?: DtlsConnectedInfo;
  data: string[];
  sizes: number[];
  closed?: string;
  stop(): void;
}

function drive(ep: DtlsEndpoint, sock: Socket): () => void {
  const iv = setInterval(() => {
    const t = ep.pollTimeout();
    if (t !== undefined && Date.now() >= t) ep.handleTimeout(Date.now());
  }, 20);
  return () => { clearInterval(iv); sock.close(); };
}

function keymat(out: string): string | undefined {
  return /Keying material: ([0-9A-F]+)/.exec(out)?.[1];
}

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

test('our DTLS client against openssl s_server (mtu 500, use_srtp, keying material)', { skip, timeout: 20_000 }, async () => {
  const ours = generateCertificate();
  const theirs = generateCertificate({ commonName: 'openssl' });
  const files = writeCert(theirs);
  const port = await freePort();
  const srv: ChildProcessWithoutNullStreams = spawn('openssl', ['s_server', '-dtls1_2', '-accept', `127.0.0.1:${port}`,
    '-cert', files.cert, '-key', files.key, '-use_srtp', 'SRTP_AES128_CM_SHA1_80', '-verify', '1', '-mtu', '500',
    '-keymatexport', 'EXTRACTOR-dtls_srtp', '-keymatexportlen', '60']);
  let out = '';
  srv.stdout.on('data', (d) => { out += d; });
  srv.stderr.on('data', (d) => { out += d; });
  try {
    await waitFor(() => out.includes('ACCEPT'), 5000);
    const sock = createSocket('udp4');
    const h = { data: [] as string[], sizes: [] as number[] } as unknown as Harness;
    h.ep = new DtlsEndpoint({ role: 'client', certificate: ours, remoteFingerprints: [theirs.fingerprint], mtu: 500 }, {
      transmit: (d) => { h.sizes.push(d.length); sock.send(d, port, '127.0.0.1'); },
      connected: (i) => { h.info = i; h.ep.send(Buffer.from('hello from portunus\n')); },
      data: (d) => { h.data.push(d.toString()); },
      closed: (r) => { h.closed = r; },
    });
    sock.on('message', (m) => h.ep.handleDatagram(m, Date.now()));
    h.stop = drive(h.ep, sock);
    h.ep.start(Date.now());
    await waitFor(() => !!h.info && out.includes('hello from portunus'), 8000);
    assert.equal(h.info!.srtp!.profile, 1);
    assert.equal(keymat(out), h.info!.srtp!.keyingMaterial.toString('hex').toUpperCase());
    assert.match(out, /SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80/);
    for (const s of h.sizes) assert.ok(s <= 500);
    srv.stdin.write('hello from openssl\n');
    await waitFor(() => h.data.join('').includes('hello from openssl'), 5000);
    h.ep.close();
    h.stop();
  } finally {
    srv.kill();
  }
});

test('our DTLS server against openssl s_client (close_notify ends it with alert)', { skip, timeout: 20_000 }, async () => {
  const ours = generateCertificate();
  const theirs = generateCertificate({ commonName: 'openssl' });
  const files = writeCert(theirs);
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  const port = sock.address().port;
  const h = { data: [] as string[], sizes: [] as number[] } as unknown as Harness;
  let peer: { port: number; address: string } | undefined;
  h.ep = new DtlsEndpoint({ role: 'server', certificate: ours, remoteFingerprints: [theirs.fingerprint], mtu: 1200 }, {
    transmit: (d) => { h.sizes.push(d.length); if (peer) sock.send(d, peer.port, peer.address); },
    connected: (i) => { h.info = i; },
    data: (d) => { h.data.push(d.toString()); },
    closed: (r) => { h.closed = r; },
  });
  sock.on('message', (m, rinfo) => { peer ??= rinfo; h.ep.handleDatagram(m, Date.now()); });
  h.stop = drive(h.ep, sock);
  const cli = spawn('openssl', ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${port}`, '-cert', files.cert, '-key', files.key,
    '-use_srtp', 'SRTP_AEAD_AES_128_GCM', '-keymatexport', 'EXTRACTOR-dtls_srtp', '-keymatexportlen', '56']);
  let out = '';
  cli.stdout.on('data', (d) => { out += d; });
  cli.stderr.on('data', (d) => { out += d; });
  try {
    await waitFor(() => !!h.info && !!keymat(out), 8000);
    // openssl offered only AEAD_AES_128_GCM: 56 bytes of keying material, equal on both sides
    assert.equal(h.info!.srtp!.profile, 7);
    assert.equal(h.info!.srtp!.keyingMaterial.length, 56);
    assert.equal(keymat(out), h.info!.srtp!.keyingMaterial.toString('hex').toUpperCase());
    for (const sz of h.sizes) assert.ok(sz <= 1200);
    cli.stdin.write('hello from s_client\n');
    await waitFor(() => h.data.join('').includes('hello from s_client'), 5000);
    h.ep.send(Buffer.from('hello from portunus\n'));
    await waitFor(() => out.includes('hello from portunus'), 5000);
    cli.stdin.end(); // EOF: s_client sends close_notify and exits
    await waitFor(() => h.closed !== undefined, 5000);
    assert.equal(h.closed, 'alert');
  } finally {
    cli.kill();
    h.stop();
  }
});
