/**
 * Core API authentication: the shared api_secret and the stored tokens of `token_auth`.
 * When both are enabled, either one passing authorizes the request (janus.c behaviour).
 */
import { safeEqual } from './secrets.js';

/** Constant-time string comparison; hashing first makes the lengths equal and hides the secret's length. */
export function secretEquals(given: unknown, expected: string): boolean {
  return typeof given === 'string' && safeEqual(given, expected);
}

export type AuthOutcome =
  /** Nothing is required, or the api_secret matched. */
  | { ok: true; viaToken: false }
  /** A stored token matched: plugin access must still be checked on attach. */
  | { ok: true; viaToken: true; token: string }
  | { ok: false };

export class TokenStore {
  /** token -> packages it may attach to */
  private readonly tokens = new Map<string, Set<string>>();

  add(token: string, plugins: Iterable<string>): void {
    const set = this.tokens.get(token) ?? new Set<string>();
    for (const p of plugins) set.add(p);
    this.tokens.set(token, set);
  }
  has(token: string): boolean {
    return this.tokens.has(token);
  }
  allow(token: string, plugins: Iterable<string>): boolean {
    const set = this.tokens.get(token);
    if (!set) return false;
    for (const p of plugins) set.add(p);
    return true;
  }
  disallow(token: string, plugins: Iterable<string>): boolean {
    const set = this.tokens.get(token);
    if (!set) return false;
    for (const p of plugins) set.delete(p);
    return true;
  }
  remove(token: string): boolean {
    return this.tokens.delete(token);
  }
  plugins(token: string): string[] {
    return [...(this.tokens.get(token) ?? [])];
  }
  canAccess(token: string, pluginPackage: string): boolean {
    return this.tokens.get(token)?.has(pluginPackage) ?? false;
  }
  list(): Array<{ token: string; allowed_plugins: string[] }> {
    return [...this.tokens].map(([token, set]) => ({ token, allowed_plugins: [...set] }));
  }
  /** Constant-time lookup would need a scan of every token; tokens are long random strings, so a map lookup is the accepted trade-off (Janus does the same). */
  find(given: unknown): string | null {
    return typeof given === 'string' && this.tokens.has(given) ? given : null;
  }
}

export class Authenticator {
  readonly tokens = new TokenStore();

  constructor(
    public apiSecret: string | null,
    public tokenAuth: boolean,
  ) {}

  get enabled(): boolean {
    return this.apiSecret !== null || this.tokenAuth;
  }

  check(apisecret: unknown, token: unknown): AuthOutcome {
    if (!this.enabled) return { ok: true, viaToken: false };
    if (this.apiSecret !== null && secretEquals(apisecret, this.apiSecret)) return { ok: true, viaToken: false };
    if (this.tokenAuth) {
      const t = this.tokens.find(token);
      if (t !== null) return { ok: true, viaToken: true, token: t };
    }
    return { ok: false };
  }

  /** PluginHost.isTokenValidForPlugin: true when stored-token auth is off. */
  tokenValidForPlugin(token: string | null, pluginPackage: string): boolean {
    if (!this.tokenAuth) return true;
    return token !== null && this.tokens.canAccess(token, pluginPackage);
  }
}
