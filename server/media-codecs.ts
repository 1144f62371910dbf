import { ortc, type types } from 'mediasoup';
import { Preserialized } from './protocol.js';

/** The codecs every room's router offers: Opus for audio; VP8, VP9 and H.264 for video. */
export const mediaCodecs: types.RouterRtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  { kind: 'video', mimeType: 'video/VP8', clockRate: 90000, parameters: { 'x-google-start-bitrate': 1000 } },
  { kind: 'video', mimeType: 'video/VP9', clockRate: 90000, parameters: { 'profile-id': 2, 'x-google-start-bitrate': 1000 } },
  {
    kind: 'video',
    mimeType: 'video/H264',
    clockRate: 90000,
    parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1, 'x-google-start-bitrate': 1000 },
  },
];

/**
 * What every room's router answers getRouterRtpCapabilities with: mediasoup derives it from the codecs alone, so it
 * is built and serialized once rather than per room (mediasoup's getter deep-clones it, and it is ~4 KB of JSON).
 */
export const routerRtpCapabilities = new Preserialized(JSON.stringify(ortc.generateRouterRtpCapabilities(mediaCodecs)));
