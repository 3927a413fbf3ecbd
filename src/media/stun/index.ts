export * from './constants.js';
export * from './crc32.js';
export * from './address.js';
export * from './message.js';
