/** Secret/pin/admin_key checks use the core's constant-time comparison. */
export { safeEqual } from '../../core/secrets.js';
