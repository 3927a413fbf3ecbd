/**
 * werift-dtls is loaded at the first DTLS handshake of a thread, not when the media plane is imported
 * (issue 12, base memory: ~17 MB of RSS per media worker that never does a handshake). A fresh worker
 * thread imports the plane, then makes a DTLS endpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';

const here = new URL('.', import.meta.url).href;

test('the media plane loads no werift-dtls module until a DTLS endpoint is made', async () => {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const Module = require('node:module');
    const loaded = () => Object.keys(Module._cache).filter((k) => k.includes('werift-dtls')).length;
    (async () => {
      await import(workerData.here + '../../../src/media/plane.js');
      const afterImport = loaded();
      const { generateCertificate } = await import(workerData.here + '../../../src/media/dtls/certificate.js');
      const { DtlsEndpoint } = await import(workerData.here + '../../../src/media/dtls/endpoint.js');
      const cert = generateCertificate();
      const ep = new DtlsEndpoint({ role: 'server', certificate: cert, remoteFingerprints: [] }, { transmit() {} });
      parentPort.postMessage({ afterImport, afterEndpoint: loaded(), state: ep.state });
    })().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));`;
  const r = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const w = new Worker(code, { eval: true, workerData: { here } });
    w.once('message', (m: Record<string, unknown>) => {
      void w.terminate();
      resolve(m);
    });
    w.once('error', reject);
  });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.afterImport, 0, 'no werift-dtls module after importing the plane');
  assert.ok((r.afterEndpoint as number) > 10, `werift-dtls loaded for the endpoint (${String(r.afterEndpoint)} modules)`);
});
