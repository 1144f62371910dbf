// One HTTP/1.1 request with its request line written byte for byte: fetch and http.request normalize or refuse the
// request targets the path-trick corpus needs (backslashes, dot segments, bytes above 0x7e).
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface RawReply {
  status: number;
  body: string;
}

export interface RawTarget {
  host: string;
  port: number;
  tls?: boolean;
  /** The source address to send from (127.0.0.2 is not 127.0.0.1 for an allow list). */
  localAddress?: string;
  hostHeader?: string;
}

export function rawRequest(to: RawTarget, target: string, headers: Record<string, string> = {}): Promise<RawReply> {
  const connection = 'connection' in headers ? [] : ['Connection: close'];
  const head = [`GET ${target} HTTP/1.1`, `Host: ${to.hostHeader ?? to.host}`, ...connection, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const request = Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
  return new Promise((resolve, reject) => {
    const options = { host: to.host, port: to.port, localAddress: to.localAddress };
    const socket = to.tls === true
      ? tlsConnect({ ...options, rejectUnauthorized: false, servername: to.hostHeader }, () => socket.write(request))
      : tcpConnect(options, () => socket.write(request));
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no reply to GET ${JSON.stringify(target)} within 10 s`)));
    // The reply ends at its Content-Length (an upgrade request keeps the connection open), at a 101, or at close.
    const parse = (closed: boolean): RawReply | undefined => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      if (end === -1 || status === undefined) return undefined;
      const body = text.slice(end + 4);
      const length = /^content-length: *(\d+)$/im.exec(text.slice(0, end))?.[1];
      const complete = closed || status === '101' || (length !== undefined && Buffer.byteLength(body, 'latin1') >= Number(length));
      return complete ? { status: Number(status), body } : undefined;
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const reply = parse(false);
      if (reply !== undefined) {
        socket.destroy();
        resolve(reply);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const reply = parse(true);
      if (reply === undefined) reject(new Error(`no HTTP reply to GET ${JSON.stringify(target)}: ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 200))}`));
      else resolve(reply);
    });
  });
}

/**
 * Request targets that a URL parser or a proxy may turn into `path` (from `via`, a path that is routed), none of
 * them `path` exactly: encodings, dot segments, backslashes, doubled slashes, case, trailing bytes.
 */
export function pathTricks(path: string, via = '/signaling'): string[] {
  const admin = path;
  const name = path.slice(1);
  const encode = (c: string) => `%${c.charCodeAt(0).toString(16)}`;
  return [
    `${via}\\..\\${name}`, `${via}\\..\\..\\${name}`, `${via}/..\\${name}`, `\\${name}`, `/${name}\\`,
    `${via}/../${name}`, `${via}/./../${name}`, `/./${name}`, `/${name}/.`, `/${name}/..`, `/${name}/`, `/x/..${admin}`,
    `${via}%2f..%2f${name}`, `${via}%252f..%252f${name}`, `${via}%c0%af..%c0%af${name}`, `${via}/%c0%ae%c0%ae/${name}`, `${via}/%2e%2e/${name}`, `${via}/%2E%2E/${name}`, `${via}%5c..%5c${name}`, `/%2e/${name}`,
    `/${encode(name[0] ?? '')}${name.slice(1)}`, `${admin.slice(0, -1)}${encode(admin.at(-1) ?? '')}`, `/%2${name}`,
    `/${name.toUpperCase()}`, `/${name[0]?.toUpperCase() ?? ''}${name.slice(1)}`,
    `/${admin}`, `//${name}`, `${via}//..//${name}`, `/${name}//`,
    `${admin}%00`, `${admin};x`, `${admin};`, `${admin}%20`, `${admin}.`, `${admin}..`, `${admin}~`, `${admin}%3f`, `${admin}#x`,
    `${admin}\x7f`, `${admin}\xff`, `/\xe2\x80\xae${name}`, `${admin}\x01`,
  ];
}

/** The headers of a WebSocket upgrade: a trick may be routed differently when it asks for one. */
export const UPGRADE_HEADERS: Record<string, string> = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' };

/**
 * The whole corpus: tricks towards every admin-only path (via /signaling), and tricks on the public paths (/signaling
 * via /healthz) that must not be mistaken for them either. Send each plain and as an upgrade (UPGRADE_HEADERS).
 */
export function pathTrickCorpus(adminPaths: string[]): string[] {
  return [...adminPaths.flatMap((p) => pathTricks(p)), ...pathTricks('/signaling', '/healthz'), ...pathTricks('/turn-credentials'), ...pathTricks('/connection-test')];
}
