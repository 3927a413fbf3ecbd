/**
 * Configuration (src/config): any text gives a document or a ConfigSyntaxError that names the file
 * and a real line; a parsed document written back parses to the same values; Jcfg edits serialize
 * to text that parses again; and loadGatewayConfig over a folder of fuzzed .jcfg files returns a
 * config or throws ConfigSyntaxError/ConfigError, nothing else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, check, checkAsync, boundedHeap, mutatedText, mutatedLines, typedOnly, withinTime , REPLAYING } from './harness.js';
import { parseLibconfig, documentValues, writeLibconfig, ConfigSyntaxError, MAX_NESTING } from '../../src/config/libconfig.js';
import { Jcfg } from '../../src/config/jcfg.js';
import { ConfigError, loadGatewayConfig, JANUS_FILE, HTTP_FILE, WS_FILE } from '../../src/config/schema.js';
import type { CfgValue } from '../../src/config/types.js';

const name = fc.stringMatching(/^[A-Za-z*][-A-Za-z0-9_*]{0,10}$/);
const scalar: fc.Arbitrary<string> = fc.oneof(
  fc.integer().map(String),
  fc.constantFrom('0x7f', '0XFFFFFFFF', '123L', '9223372036854775807L', '99999999999999999999', '-0', '1e400', '.5', '5.', '+1', 'true', 'FALSE', 'yes', 'on'),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('"a" "b"', '"\\x41\\n\\t\\"\\\\"', '"\\q"', '"unterminated', "'single'", '"\\u00e9"'),
);

/** libconfig text built from a random tree of groups, arrays and lists, with comments and separators. */
const configText: fc.Arbitrary<string> = fc.letrec<{ value: string; group: string; settings: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('group'),
    fc.array(scalar, { maxLength: 4 }).map((xs) => `[${xs.join(', ')}]`),
    fc.array(tie('value'), { maxLength: 3 }).map((xs) => `(${xs.join(', ')})`)),
  group: tie('settings').map((s) => `{ ${s} }`),
  settings: fc
    .array(fc.tuple(name, fc.constantFrom(' = ', ': ', '='), tie('value'), fc.constantFrom(';', ',', '', '\n', ' # c\n', ' // c\n', ' /* c */ ')), { maxLength: 5 })
    .map((xs) => xs.map(([n, eq, v, end]) => `${n}${eq}${v}${end}`).join('\n')),
})).settings;

const anyConfig = fc.oneof(
  { weight: 3, arbitrary: configText },
  { weight: 2, arbitrary: mutatedText(configText, 3) },
  { weight: 2, arbitrary: mutatedLines(configText, '\n') },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constantFrom('@include "other.jcfg"\n', '@include "self.jcfg"\n', '@include "missing.jcfg"\n', 'a = 1\n@include "other.jcfg"', 'x = @include "other.jcfg"') },
);

/** Values without the `line` bookkeeping of groups (a rewrite moves lines). */
function plain(v: CfgValue): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'group') return v.entries.map((e) => [e.name, plain(e.value)]);
  return v;
}

function numeric(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Object.is(v, -0)) return 0; // written as "0"; libconfig has no negative zero integer
  if (Array.isArray(v)) return v.map(numeric);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, numeric(x)]));
  return v;
}

const INCLUDES: Record<string, string> = { '/cfg/other.jcfg': 'b = 2\n', '/cfg/self.jcfg': '@include "self.jcfg"\n' };
const readFile = (p: string): string => {
  const t = INCLUDES[p];
  if (t === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${p}'`), { code: 'ENOENT' });
  return t;
};

function parseChecked(text: string): ReturnType<typeof parseLibconfig> | undefined {
  try {
    return parseLibconfig(text, '/cfg/janus.jcfg', { readFile });
  } catch (e) {
    if (!(e instanceof ConfigSyntaxError)) throw new Error(`untyped exception escaped: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    assert.ok(e.file.startsWith('/cfg/'), `error names the file (${e.file})`);
    const lines = (e.file === '/cfg/janus.jcfg' ? text : (INCLUDES[e.file] ?? '')).split('\n').length;
    assert.ok(e.line >= 1 && e.line <= lines, `error line ${e.line} within the file's ${lines} lines`);
    assert.ok(e.column >= 1, `error column ${e.column}`);
    return undefined;
  }
}

test('libconfig: any text parses or fails with a ConfigSyntaxError naming file and line; documents round-trip', async () => {
  let parsed = 0;
  await boundedHeap(16 << 20, () => {
    check('libconfig', [anyConfig], (text) => {
      const doc = withinTime(2000, () => parseChecked(text));
      if (!doc) return;
      parsed++;
      const values = documentValues(doc);
      let written: string;
      try {
        written = writeLibconfig(values);
      } catch (e) {
        // The writer refuses values it cannot express (non-finite floats) with a plain Error by design.
        assert.match(String(e), /cannot write/);
        return;
      }
      const again = parseLibconfig(written, '/cfg/rewritten.jcfg');
      assert.deepEqual(documentValues(again).map((s) => [s.name, plain(s.value)]), values.map((s) => [s.name, plain(s.value)]), 'write then parse gives the same values');
    }, 2500);
  });
  if (!REPLAYING) assert.ok(parsed > 200, `generated texts reach a parsed document (${parsed})`);
});

test('libconfig: deep nesting is a ConfigSyntaxError, not a stack overflow (regression)', () => {
  // Found by this suite: 10,000 nested groups threw RangeError (Maximum call stack size exceeded).
  for (const open of ['{ b = ', '(', '[']) {
    const close = open === '(' ? ')' : open === '[' ? ']' : '};';
    for (const n of [MAX_NESTING + 1, 10_000, 100_000]) {
      const text = `a = ${open.repeat(n)}${open === '{ b = ' ? '1;' : ''}${close.repeat(n)};`;
      assert.throws(() => parseLibconfig(text, 'deep.jcfg'), (e: unknown) => e instanceof ConfigSyntaxError && e.file === 'deep.jcfg' && e.line === 1, `${n} x ${open}`);
    }
  }
  // Nesting as deep as the limit still parses.
  const ok = `a = ${'{ b = '.repeat(MAX_NESTING)}1;${'};'.repeat(MAX_NESTING)}`;
  assert.equal(parseLibconfig(ok, 'ok.jcfg').settings.length, 1);
});

test('libconfig writer: integral numbers past int64 read back (regression)', () => {
  // Found by this suite: 2^63 was written as "9223372036854776000", which reads back as an
  // out-of-range integer, so a saved plugin config stopped loading.
  for (const n of [2 ** 63, -(2 ** 63) * 2, 1e20, 9.99e20, 1e21, 1e300]) {
    const text = writeLibconfig({ x: n });
    const v = documentValues(parseLibconfig(text, 'w.jcfg'))[0]!.value;
    assert.equal(v, n, `${n} written as ${text.trim()}`);
  }
});

test('libconfig writer: a list mixing int64 and a float past int64 stays a list (regression)', () => {
  // Found by this suite: (9223372036854775807L, 1e+21) was written as an array, which libconfig
  // refuses (mixed element types), so the rewritten file no longer loaded.
  const doc = parseLibconfig('x = (9223372036854775807L, 1e+21);', 'l.jcfg');
  const again = parseLibconfig(writeLibconfig(documentValues(doc)), 'w.jcfg');
  assert.deepEqual(documentValues(again)[0]!.value, [9223372036854775807n, 1e21]);
});

test('Jcfg: category edits serialize to text that parses to the edited values', () => {
  const cfgValue: fc.Arbitrary<CfgValue> = fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 20 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.array(fc.integer(), { maxLength: 3 }));
  check('jcfg edits', [anyConfig, fc.array(fc.tuple(name, fc.option(fc.dictionary(name, cfgValue, { maxKeys: 4, noNullPrototype: true }))), { maxLength: 4 })], (text, edits) => {
    const doc = typedOnly(() => Jcfg.fromText(text, '/cfg/janus.plugin.x.jcfg'), [ConfigSyntaxError]);
    if (!doc) return;
    const expect = new Map<string, Record<string, CfgValue> | null>();
    for (const [cat, items] of edits) {
      if (items === null) {
        doc.removeCategory(cat);
        expect.set(cat, null);
      } else {
        doc.setCategory(cat, items);
        expect.set(cat, items);
      }
    }
    const out = doc.serialize();
    const back = Jcfg.fromText(out, '/cfg/again.jcfg');
    for (const [cat, items] of expect) {
      if (items === null) assert.equal(back.category(cat), undefined, `category ${cat} removed`);
      // Integers past 2^53 come back as exact bigints (documented): compare numerically.
      else assert.deepEqual(numeric(back.category(cat)), numeric(items), `category ${cat} as set`);
    }
  }, 1000);
});

test('loadGatewayConfig: fuzzed janus/http/websockets jcfg files give a config or a Config error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portunus-fuzz-cfg-'));
  const known = fc.constantFrom(
    'general: { debug_level = 4; admin_secret = "x"; session_timeout = 60 }',
    'media: { rtp_port_range = "20000-40000"; dtls_mtu = 1200 }',
    'nat: { nat_1_1_mapping = "1.2.3.4"; ice_lite = true; stun_server = "stun.example.com" }',
    'certificates: { cert_pem = "/nonexistent.pem" }',
    'general: { http = true; port = 8088; base_path = "/janus" }',
    'admin: { admin_http = true; admin_port = 7088 }',
    'general: { ws = true; ws_port = 8188 }',
    'plugins: { disable = "libjanus_voicemail.so" }',
    'events: { broadcast = true; stats_period = 5 }',
  );
  // Known sections with values swapped for odd ones (wrong types, out of range), then mutated.
  const section = fc.tuple(known, fc.array(fc.tuple(fc.nat(), scalar), { maxLength: 3 })).map(([s, swaps]) => {
    const parts = s.split(/(=\s*[^;}]+)/);
    for (const [at, v] of swaps) {
      const idx = parts.findIndex((p, i) => i >= at % parts.length && p.startsWith('='));
      if (idx >= 0) parts[idx] = `= ${v} `;
    }
    return parts.join('');
  });
  const file = fc.oneof(fc.array(section, { maxLength: 4 }).map((xs) => xs.join('\n')), mutatedText(known, 3), anyConfig);
  try {
    await checkAsync('load config', [file, file, file], async (janus, http, ws) => {
      writeFileSync(join(dir, JANUS_FILE), janus);
      writeFileSync(join(dir, HTTP_FILE), http);
      writeFileSync(join(dir, WS_FILE), ws);
      try {
        const cfg = await loadGatewayConfig({ configsFolder: dir });
        assert.equal(typeof cfg.janus.general.session_timeout, 'number');
      } catch (e) {
        if (e instanceof ConfigSyntaxError || e instanceof ConfigError) {
          assert.ok(e.file.startsWith(dir), `error names a file in the folder (${e.file})`);
          return;
        }
        throw new Error(`untyped exception escaped: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }, 300);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('libconfig writer: a negative zero float reads back as negative zero (regression)', () => {
  // Found by `npm run fuzz`: "-1.157501238223833e-2309" parses to -0, which was written as "0" and
  // read back as the integer 0.
  const doc = parseLibconfig('x = -1.157501238223833e-2309;', 'z.jcfg');
  assert.ok(Object.is(documentValues(doc)[0]!.value, -0));
  const text = writeLibconfig(documentValues(doc));
  assert.ok(Object.is(documentValues(parseLibconfig(text, 'w.jcfg'))[0]!.value, -0), `written as ${text.trim()}`);
  // Next to integers it is a float all the same: the list must not become a mixed array.
  const list = parseLibconfig(writeLibconfig({ x: [1, -0] }), 'l.jcfg');
  const back = documentValues(list)[0]!.value as number[];
  assert.equal(back[0], 1);
  assert.ok(Object.is(back[1], -0));
});
