/**
 * The one ufrag registry of a plane (ufrag-router.ts), shared by the single-port UDP mux and the
 * ICE-TCP listener: one route per ufrag names the PeerConnection on each, and each listener finds its
 * own field; prefixes (one-port mode) and uniqueness.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ICE_CHARS, UfragRouter } from '../../../src/media/net/ufrag-router.js';
import { UdpMux } from '../../../src/media/net/udp-mux.js';
import { IceTcpListener } from '../../../src/media/net/ice-tcp.js';

test('fresh() draws ufrags with the plane prefix, unique among the registered ones', () => {
  const r = new UfragRouter(ICE_CHARS[5]!);
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const u = r.fresh();
    assert.equal(u[0], ICE_CHARS[5]);
    assert.ok(u.length >= 4 && /^[A-Za-z0-9+/]+$/.test(u), u);
    assert.ok(!seen.has(u), `duplicate ${u}`);
    seen.add(u);
    r.register(u, {});
  }
  assert.equal(r.size, 2000);
  assert.equal(new UfragRouter().fresh().length, 4);
});

test('one registry for the UDP mux and the ICE-TCP listener: each finds its own field; unregister only by the same route', async (t) => {
  const router = new UfragRouter();
  const mux = await UdpMux.bind(0, { address: '127.0.0.1', router });
  const tcp = await IceTcpListener.listen({ range: { min: 0, max: 0 }, address: '127.0.0.1', router });
  t.after(() => {
    mux.close();
    tcp.close();
  });
  const view = mux.open();
  const owner = { adopt: () => true };
  const route = { udp4: view, tcp: owner };
  router.register('abcd', route);
  assert.ok(mux.isTaken('abcd') && tcp.isTaken('abcd'), 'both listeners see the PeerConnection registered once');
  router.unregister('abcd', { udp4: view, tcp: owner }); // an equal-looking route is not the same registration
  assert.ok(router.isTaken('abcd'));
  router.unregister('abcd', route);
  assert.ok(!mux.isTaken('abcd') && !tcp.isTaken('abcd'));
  // The listeners' own register() still works (callers that do not use the router directly).
  tcp.register('tcp1', owner);
  mux.register('udp1', view);
  assert.ok(router.isTaken('tcp1') && router.isTaken('udp1'));
  view.close();
  assert.ok(!router.isTaken('udp1'), 'closing the view drops what mux.register filed');
  tcp.unregister('tcp1', owner);
  assert.equal(router.size, 0);
});
