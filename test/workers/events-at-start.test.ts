/**
 * A pooled plugin whose host wants its events (cluster mode wraps VideoRoom's host that way: the cascade
 * and the participant-id claims follow the rooms through them) gets them from the first request on, in
 * main.ts's order: the pool's threads start first with main's own test (no event handler: false), the
 * plugin's init adds its test later. The threads used to learn of it at their next settings tick (up to
 * 1 s): a `joined` or `leaving` in that second was dropped in the worker, and a cluster never heard of
 * it. With VideoRoom's `events = false` the events still come, marked internal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginHost, PluginInitContext } from '../../src/core/plugin.js';
import { makePoolGateway } from './pool-world.js';

const VR = 'janus.plugin.videoroom';
type Data = Record<string, unknown>;

for (const events of [true, false]) {
  test(`a pooled VideoRoom (events = ${events}) whose host wants events gets the first join's \`joined\`${events ? '' : ', internal'}`, { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pool-events-'));
    writeFileSync(join(dir, `${VR}.jcfg`), `general: {\n\tevents = ${events}\n}\nroom-5151: {\n\tdescription = "r"\n}\n`);
    const seen: { data: Data; internal: boolean }[] = [];
    const g = await makePoolGateway({
      size: 1,
      plugins: [VR],
      dir,
      beforeStart: (pool, pooled) => {
        // main.ts: the threads start before any plugin's init, with main's test (no handlers here).
        pool.start(() => false).catch(() => undefined);
        const vr = pooled.get(VR)!;
        const init = vr.init.bind(vr);
        vr.init = (ctx: PluginInitContext) => {
          const host: PluginHost = new Proxy(ctx.host, {
            get(target, key, receiver) {
              if (key === 'eventsEnabled' || key === 'observesEvents') return () => true;
              if (key === 'notifyEvent') return (_s: unknown, data: Data, internal?: boolean) => seen.push({ data, internal: internal === true });
              return Reflect.get(target, key, receiver) as unknown;
            },
          });
          return init({ ...ctx, host });
        };
      },
    });
    try {
      // At once, well within the old 1 s tick.
      const h = await g.attach(VR);
      const joined = await g.message(h.session, h.handle, { request: 'join', ptype: 'publisher', room: 5151, display: 'first' });
      const id = joined.plugindata?.data['id'];
      assert.ok(id !== undefined, JSON.stringify(joined));
      const deadline = Date.now() + 5000;
      while (!seen.some((e) => e.data['event'] === 'joined' && e.data['id'] === id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const ev = seen.find((e) => e.data['event'] === 'joined' && e.data['id'] === id);
      assert.ok(ev, `the joined event reached the host: ${JSON.stringify(seen)}`);
      assert.equal(ev.internal, !events, 'internal exactly when the plugin\'s own events are off');
    } finally {
      await g.gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
