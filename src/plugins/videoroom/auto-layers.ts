/**
 * Automatic layer selection for VideoRoom subscribers (room `auto_layers = true`, Portunus only):
 * twice a second per subscriber, the core's send-side bandwidth estimate towards that subscriber
 * (transport-cc feedback, see src/media/cc) is shared among its m-lines: audio first, then video
 * streams in priority order (`auto_layers_priority`: "speaker", the most recently talking publisher
 * first, the default; or "order", m-line order). Every video stream first gets its cheapest option
 * (lowest substream, lowest temporal layer); one that cannot even have that is paused (its audio
 * goes on) and resumes when it fits again. What is left upgrades streams, in priority order, to the
 * best substream/temporal pair whose measured bitrate fits. Going down is immediate; going up is
 * harder than staying (hysteresis, see chargeUpgrades): an option above the current one must fit
 * with UP_MARGIN to spare, its layer's keyframe (which the switch asks for) must leave within
 * KEYFRAME_SEND_MS at the budget, the allocation must have wanted the step up for UP_SUSTAIN_MS
 * without a break, and it waits until UP_HOLD_MS after the last step down, so a link at its limit
 * does not flap; a step up undone within FAILED_UP_MS doubles that wait (up to MAX_UP_HOLD_MS).
 * A send queue that backs up (the subscriber's pacer holding packets longer than QUEUE_DOWN_MS)
 * steps the lowest-priority stream down at once, before the pacer starts dropping stale video.
 * An explicit `configure` with `substream`/`temporal` takes that m-line out of the automatic choice.
 *
 * Costs are measured, not guessed: each publisher stream counts the bytes of each layer and VP8
 * temporal layer it receives (LayerRates, updated on the packet path without allocation), delta
 * frames and keyframes apart, averaged over several seconds (a 1 s window with a keyframe reads up
 * to twice one without: judged on the last window, the choice stepped up on a cheap one and froze).
 */
import type { PluginMediaHost } from '../../core/plugin.js';
import type { VrContext } from './context.js';
import type { PublishedStream, SubStream } from './streams.js';
import type { Subscriber } from './subscriber.js';

/** How often a subscriber's allocation is recomputed. */
export const AUTO_EVAL_MS = 500;
/** No step up within this long after a step down. */
export const UP_HOLD_MS = 3000;
/**
 * A step down this soon after a step up means the step up did not fit (e.g. a probe read a
 * shaper's burst allowance as bandwidth): the next one waits twice as long, up to MAX_UP_HOLD_MS.
 */
const FAILED_UP_MS = 5000;
const MAX_UP_HOLD_MS = 12_000;
/** Share of the estimate we allocate (the rest absorbs RTCP, retransmissions and rate jitter). */
export const HEADROOM = 0.85;
/** A layer with no packet for this long is not offered. */
export const LAYER_GONE_MS = 1000;
/** Minimum gap between `slow_link` events to one subscriber. */
export const SLOWLINK_EVENT_MS = 5000;
/** An option above the current one must fit this much above its measured cost. */
export const UP_MARGIN = 1.05;
/**
 * The probing ceiling for `wantedBps` (bps of the best options plus audio): the estimate at which
 * the best options can be stepped up into (UP_MARGIN over their cost within HEADROOM of the
 * estimate), and a little more, since the estimator stops probing at 95 % of its ceiling.
 */
export function probeCeiling(wantedVideoBps: number, audioBps: number): number {
  return wantedVideoBps > 0 ? ((wantedVideoBps * UP_MARGIN + audioBps) / HEADROOM) * 1.06 : 0;
}
/** A step up is taken once the allocation has wanted it this long without a break. */
export const UP_SUSTAIN_MS = 2000;
/**
 * A step up to another layer asks the publisher for a keyframe of it: one that would take longer
 * than this to leave at the budget is dropped by the pacer (stale after 1 s) before it is whole,
 * and the picture freezes, so the layer is not offered. Not shorter: on a free link the budget is
 * only what probing showed (it aims no higher than the best layer needs), and Chromium's 720p
 * keyframes from a noisy camera reached 130-200 kB in the browser test, which a 500 ms limit kept
 * from the top layer for 15 s after the cap was lifted.
 */
export const KEYFRAME_SEND_MS = 1000;
/**
 * The pacer held a packet of this subscriber this long (it drops video at 1 s, and drains any
 * backlog within 500 ms unless starved of CPU): what is sent does not fit, whatever the costs say;
 * step down now. Not lower: on a loaded machine a late timer alone holds packets 100-300 ms, and
 * at 250 ms that stepped a subscriber down on a clean link.
 */
export const QUEUE_DOWN_MS = 400;

/**
 * One video stream's options, as the allocation sees them (the Streaming plugin's viewers use the
 * same allocation: src/plugins/streaming/auto-layers.ts).
 */
export interface LayerChoice {
  /** Candidate (layer, temporal) pairs, cheapest first, and their costs. */
  layers: number[];
  temporals: number[];
  costs: number[];
  /** Size of the latest keyframes of each candidate's layer (bytes, 0 unknown). */
  keys: number[];
  /** The chosen index, -1 for paused. */
  pick: number;
  /** The current index before the allocation, -1 paused (or nothing matches). */
  cur: number;
  /** An explicit choice (`configure` substream/temporal): not the allocation's to change. */
  fixed: boolean;
}

/** What the step-up back-off of one m-line remembers. */
export interface AutoLineState {
  lastAutoDownMs: number;
  lastAutoUpMs: number;
  autoUpHoldMs: number;
  autoUpSinceMs: number;
}

/**
 * Share `budget` (bps, fixed costs already taken out) among `choices` in priority order: every
 * stream its cheapest option first (one that cannot have even that is paused, pick -1), then
 * upgrades in priority order to the best option that still fits.
 */
export function shareBudget(choices: readonly LayerChoice[], budget: number): void {
  for (const c of choices) {
    if (c.fixed) continue;
    if (c.costs[0]! <= budget) {
      c.pick = 0;
      budget -= c.costs[0]!;
    } else c.pick = -1;
  }
  for (const c of choices) {
    if (c.fixed || c.pick < 0) continue;
    let best = 0;
    for (let k = c.costs.length - 1; k > 0; k--) {
      if (c.costs[k]! - c.costs[0]! <= budget) {
        best = k;
        break;
      }
    }
    budget -= c.costs[best]! - c.costs[0]!;
    c.pick = best;
  }
}

/** Candidates in cheapest-first order (a lower layer at full frame rate may cost more than a higher one at a third). */
export function cheapestFirst(c: LayerChoice): void {
  const idx = c.costs.map((_, i) => i).sort((a, b) => c.costs[a]! - c.costs[b]!);
  c.layers = idx.map((i) => c.layers[i]!);
  c.temporals = idx.map((i) => c.temporals[i]!);
  c.costs = idx.map((i) => c.costs[i]!);
  c.keys = idx.map((i) => c.keys[i] ?? 0);
}

/**
 * Hysteresis (call after `cur` is set, before shareBudget): staying costs what was measured, going
 * up costs UP_MARGIN more, and an option on another layer whose keyframe (the switch asks for one)
 * would not leave within KEYFRAME_SEND_MS at `budget` (bps, the whole allocation's) is not offered,
 * except the cheapest (a paused stream must be able to come back).
 */
export function chargeUpgrades(c: LayerChoice, budget: number): void {
  if (c.fixed) return;
  const curCost = c.cur >= 0 ? c.costs[c.cur]! : -1;
  const curLayer = c.cur >= 0 ? c.layers[c.cur]! : -1;
  for (let k = 0; k < c.costs.length; k++) {
    if (c.costs[k]! <= curCost) continue;
    if (k > 0 && c.layers[k] !== curLayer && (c.keys[k]! * 8000) / KEYFRAME_SEND_MS > budget) c.costs[k] = Infinity;
    else c.costs[k] = c.costs[k]! * UP_MARGIN;
  }
}

/**
 * The send queue backs up (QUEUE_DOWN_MS): no stream goes up, and unless the allocation already
 * takes one down, the lowest-priority stream above its cheapest option goes one option down
 * (`choices` in priority order, after shareBudget).
 */
export function queueBackOff(choices: readonly LayerChoice[]): void {
  let down = false;
  for (const c of choices) {
    if (c.fixed) continue;
    if (c.pick > c.cur || (c.cur < 0 && c.pick >= 0)) c.pick = c.cur;
    else if (c.pick < c.cur) down = true;
  }
  if (down) return;
  for (let i = choices.length - 1; i >= 0; i--) {
    const c = choices[i]!;
    if (c.fixed || c.cur <= 0) continue;
    c.pick = c.cur - 1;
    return;
  }
}

/**
 * Whether a step up the allocation wants now is taken: not within the hold after a step down, and
 * only once it has been wanted for UP_SUSTAIN_MS without a break (a probe that overstated the link
 * for a second, or a cheap stretch between keyframes, does not move the layer). Whenever the
 * allocation does not want a step up, set `autoUpSinceMs` to NaN: the streak restarts.
 */
export function upAllowed(line: AutoLineState, now: number): boolean {
  if (line.autoUpSinceMs !== line.autoUpSinceMs) line.autoUpSinceMs = now;
  if (upHeld(line, now) || now - line.autoUpSinceMs < UP_SUSTAIN_MS) return false;
  line.autoUpSinceMs = NaN; // taken: the next step up needs a streak of its own
  return true;
}

/** The best candidate at or below (layer, temporal), or -1. */
export function choiceIndex(c: LayerChoice, layer: number, temporal: number): number {
  for (let k = c.costs.length - 1; k >= 0; k--) if (c.layers[k]! <= layer && c.temporals[k]! <= temporal) return k;
  return -1;
}

/** Whether a step up is held back (too soon after the last step down). */
export function upHeld(line: AutoLineState, now: number): boolean {
  return now - line.lastAutoDownMs < Math.max(UP_HOLD_MS, line.autoUpHoldMs);
}

/** A step down (or pause): a step up undone within FAILED_UP_MS doubles the next wait. */
export function steppedDown(line: AutoLineState, now: number): void {
  line.autoUpHoldMs = now - line.lastAutoUpMs < FAILED_UP_MS ? Math.min(MAX_UP_HOLD_MS, Math.max(UP_HOLD_MS, line.autoUpHoldMs) * 2) : UP_HOLD_MS;
  line.lastAutoDownMs = now;
}

interface Choice extends LayerChoice {
  line: SubStream;
  ps: PublishedStream;
}

/** The last allocation of a subscriber for handle_info: per video m-line, `layer/temporal:cost kbit/s (keyframe kB)`, `kf` where a keyframe barred the option. */
export function autoLayersInfo(last: readonly LayerChoice[], mids: readonly string[]): Array<{ mid: string; cur: number; pick: number; options: string[] }> {
  return last.map((c, i) => ({
    mid: mids[i] ?? '',
    cur: c.cur,
    pick: c.pick,
    options: c.costs.map((x, k) => `${c.layers[k]}/${c.temporals[k]}:${Number.isFinite(x) ? Math.round(x / 1000) : 'kf'}(${Math.round(c.keys[k]! / 1000)})`),
  }));
}

export class AutoLayers {
  /** Allocations made (tests, diagnostics). */
  evaluations = 0;

  constructor(
    private readonly ctx: VrContext,
    private readonly media: PluginMediaHost,
    private readonly keyframe: (ps: PublishedStream, now: number) => void,
  ) {}

  evaluate(sub: Subscriber, now: number): void {
    sub.nextAutoAt = now + AUTO_EVAL_MS;
    const settings = sub.room.settings;
    let audioBps = 0;
    const choices: Choice[] = [];
    let wanted = 0;
    for (const line of sub.streams) {
      const ps = line.source;
      if (ps === null || !line.send || !line.ready) continue;
      ps.rates.refresh(now);
      if (line.type === 'audio') {
        audioBps += Math.max(ps.rates.total, 32_000);
        continue;
      }
      if (line.type !== 'video') continue;
      const c = this.candidates(line, ps, now);
      if (c.costs.length === 0) continue;
      wanted += c.costs[c.costs.length - 1]!;
      choices.push(c);
    }
    const est = this.media.bandwidthEstimate?.(sub.session, probeCeiling(wanted, audioBps)) ?? 0;
    if (est <= 0 || choices.length === 0) return;
    this.evaluations++;
    const previous = sub.autoEstimate;
    sub.autoEstimate = est;
    if (settings.auto_layers_priority === 'order') choices.sort((a, b) => a.line.mindex - b.line.mindex);
    else choices.sort((a, b) => b.ps.owner.lastTalkMs - a.ps.owner.lastTalkMs || a.line.mindex - b.line.mindex);

    let budget = est * HEADROOM - audioBps;
    // Explicit choices are fixed costs.
    for (const c of choices) {
      if (!c.line.explicitLayers) continue;
      const k = this.indexOf(c, c.line.sim.targetSub, c.line.sim.targetTemporal);
      budget -= k >= 0 ? c.costs[k]! : c.costs[c.costs.length - 1]!;
    }
    for (const c of choices) chargeUpgrades(c, budget);
    shareBudget(choices, budget);
    // The pacer towards this subscriber holds packets too long: what is sent does not fit, whatever the costs say.
    const queueMs = this.media.sendQueueMs?.(sub.session) ?? 0;
    sub.autoQueueMs = Math.round(queueMs);
    if (queueMs > QUEUE_DOWN_MS) {
      queueBackOff(choices);
      sub.autoQueueDowns++;
    }
    // What this allocation saw, for Admin handle_info (formatted only when asked: autoLayersInfo).
    sub.autoLast = choices;
    let down = false;
    for (const c of choices) if (!c.line.explicitLayers) down = this.apply(c, now) || down;
    if (down && now - sub.lastSlowLinkMs >= SLOWLINK_EVENT_MS && (previous === 0 || est < previous * 0.95 || down)) {
      sub.lastSlowLinkMs = now;
      // Janus's VideoRoom slow_link shape, with the estimate towards this subscriber.
      this.ctx.host.pushEvent(sub.session, null, { videoroom: 'slow_link', room: sub.room.id, 'current-bitrate': Math.round(est) });
    }
  }

  private candidates(line: SubStream, ps: PublishedStream, now: number): Choice {
    const c: Choice = { line, ps, layers: [], temporals: [], costs: [], keys: [], pick: 0, cur: -1, fixed: line.explicitLayers };
    const r = ps.rates;
    const maxLayer = ps.simulcast ? ps.maxLayer : 0;
    for (let l = 0; l <= maxLayer; l++) {
      if (ps.simulcast && now - ps.lastLayerMs[l]! > LAYER_GONE_MS) continue;
      const tmax = r.temporal ? 2 : 0;
      for (let t = 0; t <= tmax; t++) {
        const cost = r.cost(l, r.temporal ? t : 2);
        if (cost <= 0) continue;
        c.layers.push(l);
        c.temporals.push(r.temporal ? t : 2);
        c.costs.push(cost);
        c.keys.push(r.keyframeBytes(l, now));
      }
    }
    cheapestFirst(c);
    c.cur = line.autoPaused ? -1 : this.indexOf(c, line.sim.targetSub, line.sim.targetTemporal);
    return c;
  }

  private indexOf(c: Choice, layer: number, temporal: number): number {
    return choiceIndex(c, layer, temporal);
  }

  /** Apply a choice to its m-line; true when it went down (lower cost, or paused). */
  private apply(c: Choice, now: number): boolean {
    const line = c.line;
    const sim = line.sim;
    if (c.pick < 0) {
      line.autoUpSinceMs = NaN;
      if (line.autoPaused) return false;
      line.autoPaused = true;
      steppedDown(line, now);
      return true;
    }
    const layer = c.layers[c.pick]!;
    const temporal = c.temporals[c.pick]!;
    const curCost = line.autoPaused || c.cur < 0 ? -1 : c.costs[c.cur]!;
    const up = c.costs[c.pick]! > curCost;
    if (!up) line.autoUpSinceMs = NaN;
    else if (!upAllowed(line, now)) return false;
    if (line.autoPaused) {
      line.autoPaused = false;
      line.rewriter.switchSource();
      line.vp8.switchSource();
      sim.currentSub = -1;
      sim.currentTemporal = -1;
      line.waitingKeyframe = true;
    }
    if (sim.targetSub === layer && sim.targetTemporal === temporal) return false;
    sim.targetSub = c.ps.simulcast ? layer : sim.targetSub;
    sim.targetTemporal = temporal;
    if (up) {
      line.lastAutoUpMs = now;
      this.keyframe(c.ps, now);
    } else steppedDown(line, now);
    return !up;
  }
}
