export { GccEstimator, type GccOptions, type BandwidthUsage } from './gcc.js';
export { SendHistory, FeedbackBatch } from './send-history.js';
export { TwccRecorder } from './twcc-recorder.js';
export { Pacer, type PacerOptions, PACE_AUDIO, PACE_VIDEO, PACE_RTX, PACER_IDLE, PACER_SEND, PACER_DROP } from './pacer.js';
