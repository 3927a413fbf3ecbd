/**
 * Our own browser test pages (test/browser/pages) and Debian's janus.js / webrtc-adapter over plain
 * HTTP on one address: a Chromium inside a network namespace reaches the host only through the
 * veth address, so the pages must be served there (not on 127.0.0.1).
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { repoRoot } from './repo.js';
import { ensureSystemPackage } from './system.js';

export interface PageServer {
  origin: string;
  close(): Promise<void>;
}

export async function startPageServer(host: string): Promise<PageServer> {
  ensureSystemPackage('libjs-janus-gateway', '/usr/share/javascript/janus-gateway/janus.js');
  ensureSystemPackage('libjs-webrtc-adapter', '/usr/share/javascript/webrtc-adapter/adapter.min.js');
  const roots: Record<string, string> = { pages: join(repoRoot(), 'test/browser/pages'), javascript: '/usr/share/javascript' };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      const [, top, ...rest] = path.split('/');
      const root = roots[top ?? ''];
      if (!root || rest.includes('..')) return void res.writeHead(404).end();
      try {
        const body = await readFile(join(root, ...rest));
        const type = { '.html': 'text/html', '.js': 'text/javascript' }[extname(path)] ?? 'application/octet-stream';
        res.writeHead(200, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const port = (server.address() as { port: number }).port;
  return { origin: `http://${host}:${port}`, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}
