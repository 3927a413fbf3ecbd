/** Locating the repository from a compiled test file (works from dist/ and dist-e2e/), and port checks. */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

/** The directory holding Portunus's package.json (walks up from this file). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'portunus') return dir;
      } catch {
        /* keep walking */
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the portunus package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** True if nothing listens on `port` (checked by binding it on all interfaces). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, () => srv.close(() => resolve(true)));
  });
}

/** Who listens on a port (for error messages), best effort. */
export function whoListens(port: number): string {
  const r = spawnSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim() || 'unknown process';
}
