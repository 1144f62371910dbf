/**
 * The SFU speaks mediasoup parameters, not SDP; a standard WebRTC stack speaks SDP. These functions translate
 * between the two for one audio m-line, the way mediasoup-client's RemoteSdp does for browsers.
 */

export interface IceCandidate {
  foundation: string;
  priority: number;
  address: string;
  protocol: 'udp' | 'tcp';
  port: number;
  type: string;
  tcpType?: string;
}

export interface TransportParams {
  transportId: string;
  iceParameters: { usernameFragment: string; password: string; iceLite?: boolean };
  iceCandidates: IceCandidate[];
  dtlsParameters: { fingerprints: { algorithm: string; value: string }[]; role?: string };
}

export interface AudioCodec {
  payloadType: number;
  clockRate: number;
  channels: number;
}

export interface LocalDescriptionInfo {
  fingerprint: { algorithm: string; value: string };
  setup: 'active' | 'passive' | 'actpass';
  mid: string;
  ssrc: number | undefined;
  cname: string | undefined;
}

function line(sdp: string, re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(sdp);
  if (m === null) throw new Error(`local SDP has no ${what}`);
  return m;
}

/** Reads what the SFU needs to know from a local offer or answer. */
export function parseLocalDescription(sdp: string): LocalDescriptionInfo {
  const fp = line(sdp, /^a=fingerprint:(\S+) (\S+)\r?$/m, 'a=fingerprint');
  const setup = line(sdp, /^a=setup:(active|passive|actpass)\r?$/m, 'a=setup')[1] as LocalDescriptionInfo['setup'];
  const mid = line(sdp, /^a=mid:(\S+)\r?$/m, 'a=mid')[1] as string;
  const ssrc = /^a=ssrc:(\d+) /m.exec(sdp);
  const cname = /^a=ssrc:\d+ cname:(\S+)\r?$/m.exec(sdp);
  return {
    fingerprint: { algorithm: fp[1] as string, value: fp[2] as string },
    setup,
    mid,
    ssrc: ssrc === null ? undefined : Number(ssrc[1]),
    cname: cname?.[1],
  };
}

function candidateLines(t: TransportParams, protocols: ('udp' | 'tcp')[]): string[] {
  return t.iceCandidates
    .filter((c) => protocols.includes(c.protocol))
    .map((c) => `a=candidate:${c.foundation} 1 ${c.protocol} ${c.priority} ${c.address} ${c.port} typ ${c.type}${c.protocol === 'tcp' ? ` tcptype ${c.tcpType ?? 'passive'}` : ''}`);
}

function sha256Fingerprint(t: TransportParams): { algorithm: string; value: string } {
  const fp = t.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256') ?? t.dtlsParameters.fingerprints[0];
  if (fp === undefined) throw new Error('transport has no DTLS fingerprint');
  return fp;
}

interface RemoteSdpOptions {
  transport: TransportParams;
  type: 'offer' | 'answer';
  direction: 'recvonly' | 'sendonly';
  mid: string;
  codec: AudioCodec;
  /** For a server offer: the SSRC and CNAME the consumer sends with. */
  ssrc?: { ssrc: number; cname: string };
  protocols?: ('udp' | 'tcp')[];
}

/** The SFU's side of the session as SDP: ICE-lite, its candidates, its DTLS fingerprint. */
export function remoteDescription(o: RemoteSdpOptions): string {
  const fp = sha256Fingerprint(o.transport);
  const lines = [
    'v=0',
    `o=rtcops-sfu ${Date.now()} 1 IN IP4 0.0.0.0`,
    's=-',
    't=0 0',
    'a=ice-lite',
    `a=group:BUNDLE ${o.mid}`,
    'a=msid-semantic: WMS *',
    `m=audio 9 UDP/TLS/RTP/SAVPF ${o.codec.payloadType}`,
    'c=IN IP4 0.0.0.0',
    `a=mid:${o.mid}`,
    `a=${o.direction}`,
    'a=rtcp-mux',
    'a=rtcp-rsize',
    `a=ice-ufrag:${o.transport.iceParameters.usernameFragment}`,
    `a=ice-pwd:${o.transport.iceParameters.password}`,
    `a=fingerprint:${fp.algorithm} ${fp.value}`,
    // The SFU is the DTLS server when it answers; when it offers it lets the client choose.
    `a=setup:${o.type === 'answer' ? 'passive' : 'actpass'}`,
    `a=rtpmap:${o.codec.payloadType} opus/${o.codec.clockRate}/${o.codec.channels}`,
    ...(o.ssrc !== undefined ? [`a=ssrc:${o.ssrc.ssrc} cname:${o.ssrc.cname}`, `a=msid:rtcops probe-${o.ssrc.ssrc}`] : []),
    ...candidateLines(o.transport, o.protocols ?? ['udp']),
    'a=end-of-candidates',
  ];
  return `${lines.join('\r\n')}\r\n`;
}
