/**
 * Imported before werift-dtls (werift-engine.ts's first import). werift-dtls requires two packages at
 * load that Portunus never uses through it, and each thread that loads werift (main and every media
 * worker) paid for them in RSS:
 * - @peculiar/x509 (with its asn1 schemas, tsyringe, reflect-metadata), only for werift's self-signed
 *   certificate generation (CipherContext.createSelfSignedCertificateWithKey; certificate.ts makes ours);
 * - @noble/curves/p256, werift's JavaScript P-256, replaced by OpenSSL in werift-engine.ts.
 * So werift gets a stand-in for each in the require cache that loads the real package at its first
 * real use (a werift path we did not replace still works, it just pays then). The one thing werift does
 * with one of them at load (@peculiar's `cryptoProvider.set`) is remembered and replayed.
 */
import { createRequire } from 'node:module';

type Exports = Record<string | symbol, unknown>;

const here = createRequire(import.meta.url);
const cache = here.cache;
/** Stand-in exports -> whether its real package has been loaded. */
const standIns = new Map<string, { exports: object; loaded: () => boolean }>();

/** `spec` as werift's file `from` (a path inside werift-dtls) requires it: its cache key and a require from there. */
function resolveFrom(from: string, spec: string): { id: string; load: () => Exports } {
  const fromWerift = createRequire(here.resolve(`werift-dtls/lib/dtls/src/${from}`));
  return { id: fromWerift.resolve(spec), load: () => fromWerift(spec) as Exports };
}

/**
 * Puts a stand-in for `spec` (as required from werift's `from`) in the require cache, unless the
 * package is loaded already. `atLoad` answers property reads that must not load it (werift's load-time use).
 */
function defer(from: string, spec: string, atLoad: () => Exports = () => ({})): void {
  const { id, load: loadReal } = resolveFrom(from, spec);
  if (cache[id] !== undefined) return;
  let real: Exports | null = null;
  const proxy: object = new Proxy(Object.create(null) as object, {
    get(_t, key) {
      // __importStar returns an __esModule object as it is (no copy of its properties, no load).
      if (key === '__esModule') return true;
      const early = real === null ? atLoad() : null;
      if (early !== null && key in early) return early[key];
      return load()[key];
    },
    has: (_t, key) => key in load(),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_t, key) => {
      const d = Object.getOwnPropertyDescriptor(load(), key);
      return d === undefined ? undefined : { ...d, configurable: true };
    },
  });
  const load = (): Exports => {
    if (real !== null) return real;
    if (cache[id]?.exports === proxy) delete cache[id];
    real = loadReal();
    onRealLoad.get(id)?.(real);
    return real;
  };
  cache[id] = { id, filename: id, loaded: true, exports: proxy, children: [], paths: [] } as unknown as NodeJS.Module;
  standIns.set(spec, { exports: proxy, loaded: () => real !== null });
}

const onRealLoad = new Map<string, (real: Exports) => void>();

// werift calls `x509.cryptoProvider.set(crypto)` when cipher.js loads: kept for the real package.
{
  let provider: unknown;
  let providerSet = false;
  const { id } = resolveFrom('context/cipher.js', '@peculiar/x509');
  onRealLoad.set(id, (real) => {
    if (providerSet) (real['cryptoProvider'] as { set(p: unknown): void }).set(provider);
  });
  const cryptoProvider = {
    set(p: unknown): void {
      provider = p;
      providerSet = true;
    },
  };
  defer('context/cipher.js', '@peculiar/x509', () => ({ cryptoProvider }));
}
defer('cipher/ec.js', '@noble/curves/p256');

/** Tests: false while `spec`'s stand-in has not loaded the real package (undefined: no stand-in in this thread). */
export function deferredLoaded(spec: '@peculiar/x509' | '@noble/curves/p256'): boolean | undefined {
  return standIns.get(spec)?.loaded();
}
