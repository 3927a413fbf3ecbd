/**
 * TextRoom plugin events (type 64 payloads) as the plugin hands them to the host: names, keys and
 * which handle they name, as Janus 1.1.2 sends them; none with `events = false` or no listener.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PluginSession } from '../../src/core/plugin.js';
import { DEMO_JCFG, Harness } from '../plugins/textroom/harness.js';

type Data = Record<string, unknown>;

async function withEvents(jcfg: string, enabled = true): Promise<{ h: Harness; noted: Array<{ handle: number | null; data: Data }> }> {
  const h = await Harness.start(jcfg);
  const noted: Array<{ handle: number | null; data: Data }> = [];
  Object.assign(h.host, {
    eventsEnabled: () => enabled,
    notifyEvent: (s: PluginSession | null, data: Data) => noted.push({ handle: s?.handleId ?? null, data }),
  });
  return { h, noted };
}

async function scenario(h: Harness) {
  const a = h.client();
  const b = h.client();
  assert.equal((await h.apiData({ request: 'create', room: 77, secret: 's' }, a.session)).textroom, 'created');
  assert.equal((await h.apiData({ request: 'edit', room: 77, secret: 's', new_description: 'x' }, a.session)).textroom, 'edited');
  a.join(77, 'alice', { display: 'Alice' });
  b.join(77, 'bob');
  a.request({ textroom: 'message', room: 77, text: 'hi' });
  a.request({ textroom: 'announcement', room: 77, secret: 's', text: 'hey' });
  a.request({ textroom: 'kick', room: 77, secret: 's', username: 'bob' });
  a.request({ textroom: 'leave', room: 77 });
  await h.plugin.handleAdminMessage({ request: 'destroy', room: 77, secret: 's' });
  return { a, b };
}

test('TextRoom: created/edited/join/kicked/leave/destroyed with Janus names, keys and handles', async () => {
  const { h, noted } = await withEvents(DEMO_JCFG);
  const { a, b } = await scenario(h);
  const A = a.session.handleId;
  assert.deepEqual(noted, [
    { handle: A, data: { event: 'created', room: 77 } },
    { handle: A, data: { event: 'edited', room: 77 } },
    { handle: A, data: { event: 'join', room: 77, username: 'alice', display: 'Alice' } },
    { handle: b.session.handleId, data: { event: 'join', room: 77, username: 'bob' } },
    // Keyed "textroom" in Janus, and names the requester's handle.
    { handle: A, data: { textroom: 'kicked', room: 77, username: 'bob' } },
    { handle: A, data: { event: 'leave', room: 77, username: 'alice' } },
    // From the Admin API: no handle.
    { handle: null, data: { event: 'destroyed', room: 77 } },
  ]);
  await h.stop();
});

test('TextRoom: events = false in the jcfg, or no event handler listening: nothing is sent', async () => {
  const off = DEMO_JCFG.replace('general: {', 'general: {\n\tevents = false');
  assert.notEqual(off, DEMO_JCFG);
  const a = await withEvents(off);
  await scenario(a.h);
  assert.equal(a.noted.length, 0);
  await a.h.stop();
  const b = await withEvents(DEMO_JCFG, false);
  await scenario(b.h);
  assert.equal(b.noted.length, 0);
  await b.h.stop();
});
