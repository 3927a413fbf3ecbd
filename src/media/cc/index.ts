export { GccEstimator, type GccOptions, type BandwidthUsage } from './gcc.js';
export { SendHistory, FeedbackBatch } from './send-history.js';
export { TwccRecorder } from './twcc-recorder.js';
