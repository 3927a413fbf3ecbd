export * from './seq.js';
export * from './header.js';
export * from './extensions.js';
export * from './rewriter.js';
export * from './send-buffer.js';
export * from './send-stats.js';
export * from './receive-stats.js';
