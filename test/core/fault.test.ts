/** The fault module itself: counting, the log line, the test seam, worker counts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fault, faultCount, faultCounts, faultInjection, inject, InjectedFault, localFaultCounts, setRemoteFaultCounts } from '../../src/core/fault.js';
import type { Logger } from '../../src/log.js';

function recorder(): Logger & { lines: Array<{ msg: string; fields: Record<string, unknown> | undefined }> } {
  const lines: Array<{ msg: string; fields: Record<string, unknown> | undefined }> = [];
  const l = {
    lines,
    fatal() {},
    error(msg: string, fields?: Record<string, unknown>) {
      lines.push({ msg, fields });
    },
    warn() {},
    info() {},
    verb() {},
    huge() {},
    debug() {},
    enabled: () => true,
    child: () => l,
  };
  return l;
}

test('fault() counts by boundary and logs one error line with the ids and the stack', () => {
  const log = recorder();
  const before = faultCount('plugin_timer');
  fault(log, 'plugin_timer', new Error('tick broke'), { plugin: 'p', room: 7, where: 'mixer' });
  assert.equal(faultCount('plugin_timer'), before + 1);
  assert.equal(log.lines.length, 1);
  const { msg, fields } = log.lines[0]!;
  assert.equal(msg, 'fault contained (plugin_timer)');
  assert.equal(fields?.room, 7);
  assert.equal(fields?.where, 'mixer');
  assert.match(String(fields?.err), /Error: tick broke\n\s+at /);
  // A non-Error and a logger that throws: still counted, never rethrown.
  const throwing = { ...log, error: () => { throw new Error('log down'); } } as Logger;
  fault(throwing, 'plugin_timer', 'a string');
  assert.equal(faultCount('plugin_timer'), before + 2);
});

test('inject() throws only where and for whom a test armed it', () => {
  faultInjection.armed = 'dtls';
  faultInjection.target = 5;
  try {
    inject('sctp', 5);
    inject('dtls', 6);
    assert.throws(() => inject('dtls', 5), InjectedFault);
    faultInjection.target = null;
    assert.throws(() => inject('dtls', 99), InjectedFault);
  } finally {
    faultInjection.armed = null;
  }
  inject('dtls', 5);
});

test('worker counts add up per worker (the last report of each), local counts exclude them', () => {
  const base = faultCounts().worker;
  setRemoteFaultCounts('w1', { worker: 2 });
  setRemoteFaultCounts('w2', { worker: 3 });
  setRemoteFaultCounts('w1', { worker: 4 });
  assert.equal(faultCounts().worker, base + 7);
  assert.equal(localFaultCounts().worker, faultCount('worker'));
  setRemoteFaultCounts('w1', {});
  setRemoteFaultCounts('w2', {});
});
