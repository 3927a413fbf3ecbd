/** The SDP layer: model, parser, writer, offer/answer helpers, and the core's JSEP merge. */
export * from './types.js';
export * from './errors.js';
export * from './parse.js';
export * from './write.js';
export * from './negotiate.js';
export * from './jsep.js';
export * from './limits.js';
