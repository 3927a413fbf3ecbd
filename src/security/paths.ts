/**
 * Which files and folders a request may name (recordings, announcements). Three rules:
 *  - a file *name* (VideoRoom/AudioBridge `filename`, a relative `record_file`) stays in its folder:
 *    no path separator, no `.`/`..`, no NUL;
 *  - a *folder* or *path* a request names (rec_dir, new_rec_dir, mjrs_dir, record_dir, play_file...)
 *    has no `..` component and no NUL, and is not inside one of janus.jcfg's `protected_folders`;
 *  - "inside" is decided on the normalised path and on its real path (symlinks resolved, for the part
 *    that exists), so a symlink into a protected folder is as protected as the folder itself.
 *
 * Janus 1.1.2 checks protected_folders only when a .mjr recorder opens, with a string prefix match
 * ("/etc" also protects "/etcetera"); this module compares whole path components and is used for every
 * path a request can name. With no protected_folders (the key commented out) nothing is protected,
 * as in Janus. All checks are synchronous: they run on signalling requests, never per packet.
 */
import { constants, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve, sep } from 'node:path';

/** Flags for creating a file a request named: never follow a symlink planted where the file goes. */
export const CREATE_NOFOLLOW = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;

/** What janus.jcfg gives the plugins (JanusConfig, or anything with the same `general` field). */
export interface ProtectedFoldersSource {
  general?: { protected_folders?: readonly string[] };
}

export class PathPolicy {
  /** Protected folders, absolute and normalised, plus their real paths when they exist. */
  private readonly folders: string[];

  constructor(
    protectedFolders: readonly string[] = [],
    private readonly cwd: string = process.cwd(),
  ) {
    const all = new Set<string>();
    for (const f of protectedFolders) {
      if (typeof f !== 'string' || f === '' || f.includes('\0')) continue;
      const abs = resolve(this.cwd, f);
      all.add(abs);
      all.add(realPath(abs));
    }
    this.folders = [...all];
  }

  static fromGateway(gw: ProtectedFoldersSource | undefined | null): PathPolicy {
    return new PathPolicy(gw?.general?.protected_folders ?? []);
  }

  /** The folders this policy protects (normalised; for logs and tests). */
  get protectedFolders(): readonly string[] {
    return this.folders;
  }

  /** True when `path` (file or folder) is one of the protected folders or inside one, symlinks resolved. */
  isProtected(path: string): boolean {
    if (this.folders.length === 0) return false;
    const abs = resolve(this.cwd, path);
    return this.inside(abs) || this.inside(realPath(abs));
  }

  /** Why `name` is not a bare file name, or null when it is one. */
  static nameProblem(name: string): string | null {
    if (name === '') return 'empty file name';
    if (name.includes('\0')) return 'NUL in a file name';
    if (name.includes('/') || name.includes('\\')) return 'path separator in a file name';
    if (name === '.' || name === '..' || name.includes('..')) return "'..' in a file name";
    return null;
  }

  /** Why a folder or file path a request names is refused, or null when it may be used. */
  pathProblem(path: string): string | null {
    if (path.includes('\0')) return 'NUL in a path';
    if (path.split(/[\\/]+/).includes('..')) return "'..' in a path";
    if (this.isProtected(path)) return 'inside a protected folder';
    return null;
  }

  /**
   * Where a recording goes: `name` (a bare name) in `dir` (null: the working directory, as Janus).
   * Returns the path or the reason it is refused; checked again when the file opens, because a
   * symlink may have appeared since the request.
   */
  fileIn(dir: string | null, name: string): { path: string } | { problem: string } {
    const np = PathPolicy.nameProblem(name);
    if (np !== null) return { problem: np };
    const folder = dir !== null && dir !== '' ? dir : this.cwd;
    const fp = this.pathProblem(folder);
    if (fp !== null) return { problem: fp };
    const path = dir !== null && dir !== '' ? `${dir.replace(/\/+$/, '')}/${name}` : name;
    if (this.isProtected(path)) return { problem: 'inside a protected folder' };
    return { path };
  }

  private inside(p: string): boolean {
    for (const f of this.folders) {
      if (p === f || f === sep || p.startsWith(f + sep)) return true;
    }
    return false;
  }
}

/** The real path of `abs`: symlinks resolved for the longest prefix that exists, the rest appended. */
function realPath(abs: string): string {
  const rest: string[] = [];
  let cur = abs;
  for (let i = 0; i < 4096; i++) {
    try {
      const real = realpathSync(cur);
      return rest.length === 0 ? real : resolve(real, ...rest.reverse());
    } catch {
      const parent = dirname(cur);
      if (parent === cur) break;
      rest.push(basename(cur));
      cur = parent;
    }
  }
  return isAbsolute(abs) ? abs : resolve(abs);
}
