export * from './profiles.js';
export * from './kdf.js';
export * from './replay.js';
export * from './rollover.js';
export * from './aes-cm.js';
export * from './hmac-sha1.js';
export * from './context.js';
export * from './keying.js';
