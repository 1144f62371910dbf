// The connection test page: signaling, then one short call through the SFU and back per network path.
import { RtcopsClient } from '../src/index.js';
import { LABELS, PATHS, type PathName, type TurnCredentials, selectedPair, settingsFor, whyNot, wrongPath } from './paths.js';

interface StepResult {
  path: PathName | 'signaling';
  ok: boolean;
  reason?: string;
  ms?: number;
  rttMs?: number;
  lossPct?: number;
  jitterMs?: number;
  bitrateKbps?: number;
  samplesKbps?: number[];
  selected?: string;
}

// ICE through TURN over TLS on a slow or busy network can take several seconds.
const CONNECT_TIMEOUT_MS = 15_000;
const SAMPLES = 8;
const SAMPLE_MS = 500;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const signalingUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signaling`;
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? '';

function row(name: PathName | 'signaling'): { set: (state: 'running' | 'pass' | 'fail' | 'skipped', detail: string, figures?: string) => void; chart: HTMLCanvasElement } {
  const el = document.createElement('div');
  el.className = 'step';
  el.dataset['path'] = name;
  el.innerHTML = '<div class="name"></div><div class="badge">waiting</div><div><div class="detail"></div><div class="figures"></div></div><canvas class="chart" width="360" height="88"></canvas>';
  (el.querySelector('.name') as HTMLElement).textContent = LABELS[name];
  $('steps').append(el);
  return {
    chart: el.querySelector('canvas') as HTMLCanvasElement,
    set: (state, detail, figures = '') => {
      const badge = el.querySelector('.badge') as HTMLElement;
      badge.className = `badge ${state === 'skipped' ? '' : state}`;
      badge.textContent = state === 'running' ? 'testing…' : state;
      el.dataset['state'] = state;
      (el.querySelector('.detail') as HTMLElement).textContent = detail;
      (el.querySelector('.figures') as HTMLElement).textContent = figures;
    },
  };
}

function drawChart(canvas: HTMLCanvasElement, samples: number[]): void {
  const g = canvas.getContext('2d');
  if (g === null || samples.length === 0) return;
  const { width: w, height: h } = canvas;
  const max = Math.max(...samples, 1);
  g.clearRect(0, 0, w, h);
  g.strokeStyle = '#2f6ae0';
  g.lineWidth = 3;
  g.beginPath();
  samples.forEach((v, i) => {
    const x = samples.length === 1 ? w / 2 : (i / (samples.length - 1)) * (w - 8) + 4;
    const y = h - 6 - (v / max) * (h - 16);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
  g.fillStyle = '#5b6676';
  g.font = '20px sans-serif';
  g.fillText(`${Math.round(max)} kbit/s`, 6, 22);
}

/** A generated picture (a moving bar and a clock) and a tone: no camera or microphone needed. */
function syntheticTracks(): { audio: MediaStreamTrack; video: MediaStreamTrack; stop: () => void } {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 360;
  const g = canvas.getContext('2d') as CanvasRenderingContext2D;
  let frame = 0;
  const timer = setInterval(() => {
    frame++;
    g.fillStyle = `hsl(${(frame * 3) % 360} 60% 45%)`;
    g.fillRect(0, 0, 640, 360);
    g.fillStyle = '#fff';
    g.fillRect((frame * 8) % 640, 0, 40, 360);
    g.font = '48px sans-serif';
    g.fillText(new Date().toISOString().slice(11, 23), 40, 200);
    // Noise, so the encoder has something to send (a flat picture compresses to almost nothing).
    for (let i = 0; i < 400; i++) { g.fillStyle = `rgb(${Math.random() * 255},${Math.random() * 255},${Math.random() * 255})`; g.fillRect(Math.random() * 640, Math.random() * 360, 6, 6); }
  }, 1000 / 30);
  const video = canvas.captureStream(30).getVideoTracks()[0] as MediaStreamTrack;
  const ctx = new AudioContext();
  const osc = ctx.createOscillator();
  osc.frequency.value = 440;
  const dest = ctx.createMediaStreamDestination();
  osc.connect(dest);
  osc.start();
  const audio = dest.stream.getAudioTracks()[0] as MediaStreamTrack;
  return { audio, video, stop: () => { clearInterval(timer); video.stop(); audio.stop(); void ctx.close(); } };
}

async function deviceTracks(): Promise<{ audio: MediaStreamTrack; video: MediaStreamTrack; stop: () => void }> {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 360 } });
  const [audio] = stream.getAudioTracks();
  const [video] = stream.getVideoTracks();
  if (audio === undefined || video === undefined) throw new Error('the camera or microphone gave no track');
  return { audio, video, stop: () => stream.getTracks().forEach((t) => t.stop()) };
}

async function until(what: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!what()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

interface Inbound { bytes: number; packets: number; lost: number; jitter?: number }

function inbound(report: RTCStatsReport): { audio: Inbound; video: Inbound } {
  const out = { audio: { bytes: 0, packets: 0, lost: 0 } as Inbound, video: { bytes: 0, packets: 0, lost: 0 } as Inbound };
  report.forEach((s: { type: string; kind?: string; bytesReceived?: number; packetsReceived?: number; packetsLost?: number; jitter?: number }) => {
    if (s.type !== 'inbound-rtp' || (s.kind !== 'audio' && s.kind !== 'video')) return;
    const t = out[s.kind];
    t.bytes += s.bytesReceived ?? 0;
    t.packets += s.packetsReceived ?? 0;
    t.lost += s.packetsLost ?? 0;
    if (s.jitter !== undefined) t.jitter = s.jitter;
  });
  return out;
}

async function runPath(path: PathName, turn: TurnCredentials | undefined, tracks: { audio: MediaStreamTrack; video: MediaStreamTrack }, ui: ReturnType<typeof row>): Promise<StepResult> {
  const settings = settingsFor(path, turn);
  if (settings === undefined) return { path, ok: false, reason: turn === undefined ? 'The server gave no TURN credentials, so no TURN path can be tried.' : `The server offers no ${LABELS[path]} URL.` };
  const t0 = performance.now();
  const client = await RtcopsClient.connect({ url: signalingUrl, token, reconnect: false, ...settings });
  try {
    await client.join();
    const audio = await client.produce(tracks.audio);
    const video = await client.produce(tracks.video, { encodings: [{ maxBitrate: 600_000 }] });
    await client.consume(audio.id);
    await client.consume(video.id);
    const connected = await until(() => client.connectionState('send') === 'connected' && client.connectionState('recv') === 'connected', CONNECT_TIMEOUT_MS);
    if (!connected) return { path, ok: false, reason: whyNot(path, settings), ms: Math.round(performance.now() - t0) };
    const pair = selectedPair(await client.browserStats('send'));
    const wrong = pair === undefined ? 'the browser reports no selected candidate pair' : wrongPath(path, pair);
    if (wrong !== undefined) return { path, ok: false, reason: `Not tested: ${wrong}.` };
    const samples: number[] = [];
    let last = inbound(await client.browserStats('recv'));
    const first = last;
    let rtt: number | undefined;
    for (let i = 0; i < SAMPLES; i++) {
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
      const now = inbound(await client.browserStats('recv'));
      samples.push(((now.video.bytes + now.audio.bytes - last.video.bytes - last.audio.bytes) * 8) / SAMPLE_MS);
      last = now;
      rtt = selectedPair(await client.browserStats('recv'))?.rttMs ?? rtt;
      drawChart(ui.chart, samples);
    }
    const received = last.video.packets + last.audio.packets - first.video.packets - first.audio.packets;
    const lost = last.video.lost + last.audio.lost - first.video.lost - first.audio.lost;
    const result: StepResult = {
      path, ok: received > 0, ms: Math.round(performance.now() - t0), samplesKbps: samples.map((x) => Math.round(x)),
      bitrateKbps: Math.round(samples.reduce((a, b) => a + b, 0) / samples.length),
      lossPct: received + lost > 0 ? Math.round((Math.max(0, lost) / (received + Math.max(0, lost))) * 10_000) / 100 : 0,
      selected: pair?.localType === 'relay' ? `relay ${pair.relayProtocol ?? ''}` : `direct ${pair?.remoteProtocol ?? ''}`,
    };
    if (rtt !== undefined) result.rttMs = Math.round(rtt * 10) / 10;
    if (last.audio.jitter !== undefined) result.jitterMs = Math.round(last.audio.jitter * 10_000) / 10;
    if (received === 0) result.reason = 'Connected, but no media came back through the server in 4 seconds.';
    return result;
  } finally {
    client.close();
  }
}

const figures = (r: StepResult) => [
  r.rttMs !== undefined ? `RTT ${r.rttMs} ms` : '', r.lossPct !== undefined ? `loss ${r.lossPct}%` : '',
  r.jitterMs !== undefined ? `jitter ${r.jitterMs} ms` : '', r.bitrateKbps !== undefined ? `${r.bitrateKbps} kbit/s` : '',
].filter(Boolean).join(' · ');

async function run(): Promise<void> {
  $<HTMLButtonElement>('run').disabled = true;
  $('steps').replaceChildren();
  $('summary').dataset['state'] = 'running';
  $('summary').textContent = 'Testing…';
  const results: StepResult[] = [];
  const report = { server: signalingUrl, at: new Date().toISOString(), userAgent: navigator.userAgent, results };

  const sig = row('signaling');
  sig.set('running', `connecting to ${signalingUrl}`);
  let turn: TurnCredentials | undefined;
  const t0 = performance.now();
  try {
    const c = await RtcopsClient.connect({ url: signalingUrl, token, reconnect: false });
    await c.join();
    c.close();
    const res = await fetch('/turn-credentials', { headers: { authorization: `Bearer ${token}` } });
    if (res.ok) turn = await res.json() as TurnCredentials;
    const ms = Math.round(performance.now() - t0);
    results.push({ path: 'signaling', ok: true, ms });
    sig.set('pass', `connected and joined in ${ms} ms${turn === undefined ? '; no TURN credentials' : ''}`);
  } catch (err) {
    const reason = `Could not reach the signaling server at ${signalingUrl}: ${(err as Error).message}`;
    results.push({ path: 'signaling', ok: false, reason });
    sig.set('fail', reason);
  }

  if (results[0]?.ok === true) {
    let tracks: { audio: MediaStreamTrack; video: MediaStreamTrack; stop: () => void } | undefined;
    try {
      tracks = $<HTMLInputElement>('devices').checked ? await deviceTracks() : syntheticTracks();
    } catch (err) {
      $('problem').hidden = false;
      $('problem').textContent = `Your camera or microphone could not be used (${(err as Error).message}); using a generated picture and tone.`;
      tracks = syntheticTracks();
    }
    for (const path of PATHS) {
      const ui = row(path);
      ui.set('running', 'a short call through the server and back');
      const r = await runPath(path, turn, tracks, ui).catch((err: Error): StepResult => ({ path, ok: false, reason: `The test failed: ${err.message}` }));
      results.push(r);
      ui.set(r.ok ? 'pass' : 'fail', r.ok ? `media flowed (${r.selected ?? ''})` : r.reason ?? 'failed', figures(r));
      if (r.samplesKbps !== undefined) drawChart(ui.chart, r.samplesKbps);
    }
    tracks.stop();
  }

  const paths = results.filter((r) => r.path !== 'signaling');
  const passed = paths.filter((r) => r.ok);
  $('summary').textContent = results[0]?.ok !== true ? 'The signaling server cannot be reached from here: calls cannot start.'
    : passed.length === 0 ? 'No media path works from this network: calls will connect but stay silent and black.'
      : `${passed.length} of ${paths.length} paths work from this network (${passed.map((r) => LABELS[r.path]).join(', ')}): calls will work.`;
  $('json').textContent = JSON.stringify(report, null, 2);
  $('json').hidden = false;
  $('result-controls').hidden = false;
  (window as unknown as { rtcopsConnectionTest: unknown }).rtcopsConnectionTest = report;

  // The operator sees the report in the server's log and /metrics.
  if (results[0]?.ok === true) {
    try {
      const c = await RtcopsClient.connect({ url: signalingUrl, token, reconnect: false });
      await c.request('reportConnectionTest', {
        userAgent: navigator.userAgent.slice(0, 300),
        results: paths.map((r) => ({ path: r.path, ok: r.ok, ...(r.reason !== undefined ? { reason: r.reason.slice(0, 300) } : {}), ...(r.rttMs !== undefined ? { rttMs: r.rttMs } : {}), ...(r.lossPct !== undefined ? { lossPct: r.lossPct } : {}), ...(r.jitterMs !== undefined ? { jitterMs: r.jitterMs } : {}), ...(r.bitrateKbps !== undefined ? { bitrateKbps: r.bitrateKbps } : {}) })),
      });
      c.close();
    } catch (err) {
      $('problem').hidden = false;
      $('problem').textContent = `The results could not be sent to the server (${(err as Error).message}): copy them below.`;
    }
  }
  $('summary').dataset['state'] = 'done';
  $<HTMLButtonElement>('run').disabled = false;
}

$('copy').addEventListener('click', () => {
  void navigator.clipboard.writeText($('json').textContent ?? '').then(() => { $('copied').textContent = 'copied'; }, () => { $('copied').textContent = 'select the text below and copy it'; });
});
$('run').addEventListener('click', () => void run());
if (token === '') {
  $('problem').hidden = false;
  $('problem').textContent = 'This page needs a link with a test token (…/connection-test#token=…): ask the operator for one (scripts/token.mjs).';
  $<HTMLButtonElement>('run').disabled = true;
}
