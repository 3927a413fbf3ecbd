/**
 * Automatic layer choice for Streaming viewers (mountpoint `auto_layers = true`, Portunus only),
 * with VideoRoom's allocation (src/plugins/videoroom/auto-layers.ts): twice a second per viewer,
 * the core's send-side estimate towards that viewer (transport-cc, which such a mountpoint's offer
 * negotiates, with RTX so probes can find bandwidth again) is shared among its streams: audio
 * first, then video in m-line order, each video stream first its cheapest option (lowest
 * substream, lowest VP8 temporal layer; paused when even that does not fit, audio goes on), then
 * upgrades to the best substream/temporal pair whose measured bitrate fits. Down at once (also when
 * the pacer towards the viewer backs up), up with VideoRoom's hysteresis (margin, keyframe size,
 * a sustained wish, the hold after a step down). A `configure` with `substream`/`temporal` takes that
 * stream out of the automatic choice. When the estimate forces a stream down the viewer gets
 * `{"streaming":"slow_link","id":<mountpoint>,"current-bitrate":<estimate>}` (at most every 5 s).
 *
 * A plain RTP source cannot be asked for a keyframe: a switch to another substream waits for that
 * substream's next keyframe (fanout.ts), and a resumed stream for the next keyframe.
 */
import type { PluginMediaHost, PluginSession } from '../../core/plugin.js';
import {
  AUTO_EVAL_MS,
  HEADROOM,
  LAYER_GONE_MS,
  QUEUE_DOWN_MS,
  SLOWLINK_EVENT_MS,
  chargeUpgrades,
  probeCeiling,
  cheapestFirst,
  choiceIndex,
  queueBackOff,
  shareBudget,
  steppedDown,
  upAllowed,
  type LayerChoice,
} from '../videoroom/auto-layers.js';
import type { ViewerStream } from './viewer-stream.js';

interface Choice extends LayerChoice {
  v: ViewerStream;
}

/** One viewer's automatic choice (shared by its streams: ViewerStream.auto). */
export class ViewerAutoLayers {
  nextAt = 0;
  /** The estimate the last allocation used (bps), 0 before any. */
  estimate = 0;
  lastSlowLinkMs = -Infinity;
  evaluations = 0;

  constructor(
    private readonly session: PluginSession,
    private readonly streams: () => readonly ViewerStream[],
    private readonly slowLink: (estimate: number) => void,
  ) {}

  evaluate(media: PluginMediaHost, now: number): void {
    this.nextAt = now + AUTO_EVAL_MS;
    let audioBps = 0;
    let wanted = 0;
    const choices: Choice[] = [];
    for (const v of this.streams()) {
      if (!v.active || !v.send) continue;
      const st = v.stream;
      const rates = st.rates;
      if (st.spec.type === 'audio') {
        audioBps += 32_000;
        continue;
      }
      if (st.spec.type !== 'video' || rates === null) continue;
      rates.refresh(now);
      const c: Choice = { v, layers: [], temporals: [], costs: [], keys: [], pick: 0, cur: -1, fixed: v.explicitLayers };
      const maxLayer = st.spec.simulcast ? 2 : 0;
      for (let l = 0; l <= maxLayer; l++) {
        if (now - st.lastLayerMs[l]! > LAYER_GONE_MS) continue;
        const tmax = rates.temporal ? 2 : 0;
        for (let t = 0; t <= tmax; t++) {
          const cost = rates.cost(l, rates.temporal ? t : 2);
          if (cost <= 0) continue;
          c.layers.push(l);
          c.temporals.push(rates.temporal ? t : 2);
          c.costs.push(cost);
          c.keys.push(rates.keyframeBytes(l, now));
        }
      }
      if (c.costs.length === 0) continue;
      cheapestFirst(c);
      c.cur = v.autoPaused ? -1 : choiceIndex(c, st.spec.simulcast ? v.targetSubstream : 0, v.targetTemporal);
      wanted += c.costs[c.costs.length - 1]!;
      choices.push(c);
    }
    const est = media.bandwidthEstimate?.(this.session, probeCeiling(wanted, audioBps)) ?? 0;
    if (est <= 0 || choices.length === 0) return;
    this.evaluations++;
    this.estimate = est;
    let budget = est * HEADROOM - audioBps;
    for (const c of choices) {
      if (!c.fixed) continue;
      const k = choiceIndex(c, c.v.stream.spec.simulcast ? c.v.targetSubstream : 0, c.v.targetTemporal);
      budget -= k >= 0 ? c.costs[k]! : c.costs[c.costs.length - 1]!;
    }
    for (const c of choices) chargeUpgrades(c, budget);
    shareBudget(choices, budget);
    if ((media.sendQueueMs?.(this.session) ?? 0) > QUEUE_DOWN_MS) queueBackOff(choices);
    let down = false;
    for (const c of choices) if (!c.fixed) down = this.apply(c, now) || down;
    if (down && now - this.lastSlowLinkMs >= SLOWLINK_EVENT_MS) {
      this.lastSlowLinkMs = now;
      this.slowLink(est);
    }
  }

  /** Apply a choice to its stream; true when it went down (lower cost, or paused). */
  private apply(c: Choice, now: number): boolean {
    const v = c.v;
    const simulcast = v.stream.spec.simulcast;
    if (c.pick < 0) {
      v.autoUpSinceMs = NaN;
      if (v.autoPaused) return false;
      v.autoPaused = true;
      steppedDown(v, now);
      return true;
    }
    const layer = c.layers[c.pick]!;
    const temporal = c.temporals[c.pick]!;
    const curCost = v.autoPaused || c.cur < 0 ? -1 : c.costs[c.cur]!;
    const up = c.costs[c.pick]! > curCost;
    if (!up) v.autoUpSinceMs = NaN;
    else if (!upAllowed(v, now)) return false;
    if (v.autoPaused) {
      v.autoPaused = false;
      v.resync(); // continue seq/ts, wait for a keyframe
    }
    if ((!simulcast || v.targetSubstream === layer) && v.targetTemporal === temporal) return false;
    if (simulcast) v.targetSubstream = layer;
    v.targetTemporal = temporal;
    if (up) v.lastAutoUpMs = now;
    else steppedDown(v, now);
    return !up;
  }
}
