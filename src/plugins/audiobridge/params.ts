/** Request parameter specs (types checked before anything else, as Janus does) and plugin-wide limits. */
import type { ParamSpec } from './errors.js';

export const RATES = [8000, 12000, 16000, 24000, 48000];
export const MAX_GROUPS = 5;
export const DEFAULT_COMPLEXITY = 4;

export const CREATE_PARAMS: ParamSpec[] = [
  { name: 'description', type: 'string' },
  { name: 'secret', type: 'string' },
  { name: 'pin', type: 'string' },
  { name: 'is_private', type: 'boolean' },
  { name: 'allowed', type: 'array' },
  { name: 'sampling_rate', type: 'positive' },
  { name: 'sampling', type: 'positive' },
  { name: 'spatial_audio', type: 'boolean' },
  { name: 'record', type: 'boolean' },
  { name: 'record_file', type: 'string' },
  { name: 'record_dir', type: 'string' },
  { name: 'mjrs', type: 'boolean' },
  { name: 'mjrs_dir', type: 'string' },
  { name: 'allow_rtp_participants', type: 'boolean' },
  { name: 'permanent', type: 'boolean' },
  { name: 'audiolevel_ext', type: 'boolean' },
  { name: 'audiolevel_event', type: 'boolean' },
  { name: 'audio_active_packets', type: 'positive' },
  { name: 'audio_level_average', type: 'positive' },
  { name: 'default_expectedloss', type: 'positive' },
  { name: 'default_bitrate', type: 'positive' },
  { name: 'denoise', type: 'boolean' },
  { name: 'groups', type: 'array' },
];
export const EDIT_PARAMS: ParamSpec[] = [
  { name: 'secret', type: 'string' },
  { name: 'new_description', type: 'string' },
  { name: 'new_secret', type: 'string' },
  { name: 'new_pin', type: 'string' },
  { name: 'new_is_private', type: 'boolean' },
  { name: 'new_record_dir', type: 'string' },
  { name: 'new_mjrs_dir', type: 'string' },
  { name: 'permanent', type: 'boolean' },
];
export const JOIN_PARAMS: ParamSpec[] = [
  { name: 'display', type: 'string' },
  { name: 'token', type: 'string' },
  { name: 'group', type: 'string' },
  { name: 'muted', type: 'boolean' },
  { name: 'suspended', type: 'boolean' },
  { name: 'pause_events', type: 'boolean' },
  { name: 'codec', type: 'string' },
  { name: 'bitrate', type: 'positive' },
  { name: 'quality', type: 'positive' },
  { name: 'expected_loss', type: 'positive' },
  { name: 'volume', type: 'positive' },
  { name: 'spatial_position', type: 'positive' },
  { name: 'audio_level_average', type: 'positive' },
  { name: 'audio_active_packets', type: 'positive' },
  { name: 'denoise', type: 'boolean' },
  { name: 'record', type: 'boolean' },
  { name: 'filename', type: 'string' },
  { name: 'generate_offer', type: 'boolean' },
  { name: 'rtp', type: 'object' },
  { name: 'secret', type: 'string' },
];
export const CONFIGURE_PARAMS: ParamSpec[] = [
  { name: 'muted', type: 'boolean' },
  { name: 'bitrate', type: 'positive' },
  { name: 'quality', type: 'positive' },
  { name: 'expected_loss', type: 'positive' },
  { name: 'volume', type: 'positive' },
  { name: 'group', type: 'string' },
  { name: 'spatial_position', type: 'positive' },
  { name: 'denoise', type: 'boolean' },
  { name: 'record', type: 'boolean' },
  { name: 'filename', type: 'string' },
  { name: 'display', type: 'string' },
  { name: 'generate_offer', type: 'boolean' },
  { name: 'update', type: 'boolean' },
];
export const RTP_PARAMS: ParamSpec[] = [
  { name: 'ip', type: 'string' },
  { name: 'port', type: 'positive' },
  { name: 'payload_type', type: 'positive' },
  { name: 'audiolevel_ext', type: 'positive' },
  { name: 'fec', type: 'boolean' },
];
export const SECRET_PARAMS: ParamSpec[] = [{ name: 'secret', type: 'string' }];
export const RTP_FORWARD_PARAMS: ParamSpec[] = [
  { name: 'group', type: 'string' },
  { name: 'ssrc', type: 'positive' },
  { name: 'codec', type: 'string' },
  { name: 'ptype', type: 'positive' },
  { name: 'port', type: 'positive', required: true },
  { name: 'host', type: 'string', required: true },
  { name: 'host_family', type: 'string' },
  { name: 'srtp_suite', type: 'positive' },
  { name: 'srtp_crypto', type: 'string' },
  { name: 'always_on', type: 'boolean' },
];
export const STOP_RTP_FORWARD_PARAMS: ParamSpec[] = [{ name: 'stream_id', type: 'positive', required: true }];
export const ADMIN_KEY_PARAMS: ParamSpec[] = [{ name: 'admin_key', type: 'string', required: true }];
export const ALLOWED_PARAMS: ParamSpec[] = [
  { name: 'secret', type: 'string' },
  { name: 'action', type: 'string', required: true },
  { name: 'allowed', type: 'array' },
];
export const SUSPEND_PARAMS: ParamSpec[] = [
  { name: 'pause_events', type: 'boolean' },
  { name: 'stop_record', type: 'boolean' },
];
export const RESUME_PARAMS: ParamSpec[] = [
  { name: 'record', type: 'boolean' },
  { name: 'filename', type: 'string' },
];
export const RECORD_PARAMS: ParamSpec[] = [
  { name: 'record', type: 'boolean', required: true },
  { name: 'record_file', type: 'string' },
  { name: 'record_dir', type: 'string' },
];

export const PLAY_FILE_PARAMS: ParamSpec[] = [
  { name: 'secret', type: 'string' },
  { name: 'group', type: 'string' },
  { name: 'file_id', type: 'string' },
  { name: 'filename', type: 'string', required: true },
  { name: 'loop', type: 'boolean' },
];
export const FILE_ID_PARAMS: ParamSpec[] = [
  { name: 'secret', type: 'string' },
  { name: 'file_id', type: 'string', required: true },
];

export const MJRS_PARAMS: ParamSpec[] = [
  { name: 'secret', type: 'string' },
  { name: 'mjrs', type: 'boolean', required: true },
  { name: 'mjrs_dir', type: 'string' },
];
