/** The transports' JSON parsing: jansson-worded diagnoses agree with JSON.parse on what is valid. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { diagnoseJson } from '../../src/transports/json-diagnosis.js';
import { parseRequestBytes, scanTransaction } from '../../src/transports/json.js';

const acceptsAsRequest = (text: string): boolean => {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null;
  } catch {
    return false;
  }
};

test('diagnoseJson finds no fault exactly where JSON.parse accepts an object or array', () => {
  // Valid requests (objects and arrays of any JSON), pretty-printed or not.
  fc.assert(
    fc.property(fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.jsonValue())), fc.boolean(), (v, pretty) => {
      assert.equal(diagnoseJson(JSON.stringify(v, null, pretty ? 2 : undefined)), null);
    }),
  );
  // Mangled JSON: one character deleted, replaced or inserted.
  const mangled = fc
    .tuple(fc.json(), fc.nat(), fc.constantFrom('', '{', '}', '[', ']', ':', ',', '"', '\\', '0', '-', '.', 'e', 'x', ' ', '\n', '\u0001'), fc.boolean())
    .map(([j, at, ch, replace]) => {
      const i = j.length === 0 ? 0 : at % j.length;
      return j.slice(0, i) + ch + j.slice(replace ? i + 1 : i);
    });
  fc.assert(
    fc.property(fc.oneof(mangled, fc.string({ unit: 'binary' })), (text) => {
      const d = diagnoseJson(text);
      assert.equal(d === null, acceptsAsRequest(text), `${JSON.stringify(text)}: ${JSON.stringify(d)}`);
      if (d) assert.ok(d.line >= 1 && d.column >= 0 && d.text.length > 0);
    }),
    { numRuns: 2000 },
  );
});

test('parseRequestBytes: invalid UTF-8 anywhere is a 454 located at the bad byte; valid UTF-8 parses as text', () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80]), (a, b, bad) => {
      const prefix = Buffer.from(`{"a":${JSON.stringify(a)},"b":"`);
      const r = parseRequestBytes(Buffer.concat([prefix, Buffer.from(bad), Buffer.from(`${b.replace(/["\\]/g, '')}"}`)]), 'ws');
      assert.equal(r.ok, false);
      const reason = (r as unknown as { error: { error: { code: number; reason: string } } }).error.error;
      assert.equal(reason.code, 454);
      const lines = prefix.toString('utf8').split('\n');
      const column = [...lines[lines.length - 1]!].length;
      assert.ok(reason.reason.startsWith(`Invalid Janus API request - <string>(${lines.length},${column}): unable to decode byte 0x${bad[0]!.toString(16)}`), reason.reason);
    }),
  );
  const ok = parseRequestBytes(Buffer.from('{"janus":"ping","transaction":"é"}'), 'ws');
  assert.deepEqual(ok, { ok: true, value: { janus: 'ping', transaction: 'é' } });
});

test('scanTransaction reads the transaction at the start or the end of a message, unescaped, and nothing else', () => {
  const pad = 'x'.repeat(100_000);
  assert.equal(scanTransaction(Buffer.from(`{"transaction":"a\\"b","body":{"pad":"${pad}"}}`)), 'a"b');
  assert.equal(scanTransaction(Buffer.from(`{"janus":"message","body":{"pad":"${pad}"},"transaction":"t-é"}`)), 't-é');
  assert.equal(scanTransaction(Buffer.from(`{"janus":"message","body":{"pad":"${pad}","transaction":"hidden"},"x":1,"y":"${pad}"}`)), null);
  assert.equal(scanTransaction(Buffer.from('{"transaction": 12}')), null);
  assert.equal(scanTransaction(Buffer.concat([Buffer.from('{"transaction":"'), Buffer.from([0xff]), Buffer.from('"}')])), null);
});
