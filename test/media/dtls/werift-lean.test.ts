/**
 * werift-dtls loads without @peculiar/x509 and @noble/curves/p256 (issue 12, base memory: ~8 MB of RSS
 * per thread that loads werift), handshakes still complete (they use OpenSSL for P-256/X25519 and our
 * certificate), and werift's own certificate generation still works: it loads the real package then.
 * In a fresh worker thread: this process may have loaded either package already.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

const here = new URL('.', import.meta.url).href;

test('werift-dtls runs a handshake without loading @peculiar/x509 or @noble/curves/p256; werift certificate generation loads them', async () => {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { createRequire } = require('node:module');
    (async () => {
      const { connectPair } = await import(workerData.here + 'pair.js'); // werift-dtls through the endpoint first
      const lean = await import(workerData.here + '../../../src/media/dtls/werift-lean.js');
      const state = () => ({ peculiar: lean.deferredLoaded('@peculiar/x509'), noble: lean.deferredLoaded('@noble/curves/p256') });
      const afterImport = state();
      const p = await connectPair();
      if (p.client.ep.state !== 'connected' || p.server.ep.state !== 'connected') throw new Error('handshake did not complete: ' + p.client.ep.state + '/' + p.server.ep.state);
      const afterHandshake = state();
      const r = createRequire(require.resolve('werift-dtls/lib/dtls/src/context/cipher.js', { paths: [workerData.cwd] }));
      const { CipherContext } = r('./cipher.js');
      const gen = await CipherContext.createSelfSignedCertificateWithKey({ signature: 3, hash: 4 }, 23);
      const { p256Keypair } = r('../cipher/ec.js');
      const kp = p256Keypair();
      parentPort.postMessage({ afterImport, afterHandshake, generated: String(gen.certPem).startsWith('-----BEGIN CERTIFICATE-----'), p256: kp.publicKey.length, afterUse: state() });
    })().catch((e) => parentPort.postMessage({ error: String((e && e.stack) || e) }));`;
  const r = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { here, cwd: process.cwd() } });
    w.once('message', (m: Record<string, unknown>) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
  assert.equal(r.error, undefined, String(r.error));
  assert.deepEqual(r.afterImport, { peculiar: false, noble: false });
  assert.deepEqual(r.afterHandshake, { peculiar: false, noble: false }, 'a handshake needs neither package');
  assert.equal(r.generated, true, "werift's certificate generation works through the stand-in");
  assert.equal(r.p256, 65, "werift's JS P-256 works through the stand-in");
  assert.deepEqual(r.afterUse, { peculiar: true, noble: true });
});
