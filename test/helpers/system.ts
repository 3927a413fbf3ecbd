/**
 * System packages some tests need (the reference Janus, Chromium). A missing package is
 * installed when we are root with apt; otherwise the test fails naming the package.
 * Tests never skip silently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const tried = new Set<string>();

/** Make sure `binary` exists, installing Debian `pkg` if needed and possible. Throws with a clear message otherwise. */
export function ensureSystemPackage(pkg: string, binary: string): string {
  if (existsSync(binary)) return binary;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('which', ['apt-get']).status === 0;
  if (isRoot && hasApt && !tried.has(pkg)) {
    tried.add(pkg);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { stdio: 'ignore', env, timeout: 600_000 });
    } catch {
      execFileSync('apt-get', ['update'], { stdio: 'ignore', env, timeout: 600_000 });
      execFileSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { stdio: 'ignore', env, timeout: 600_000 });
    }
  }
  if (!existsSync(binary)) {
    throw new Error(`this test needs the Debian package '${pkg}' (${binary}); install it with: apt-get install -y ${pkg}`);
  }
  return binary;
}
