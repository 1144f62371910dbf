import { shQuote } from '../runner/quote.js';

/** What a step wants to know about the host before it decides anything. */
export interface FactRequest {
  packages?: string[];
  files?: string[];
  dirs?: string[];
  users?: string[];
  services?: string[];
  /** Named shell probes whose trimmed stdout is the fact (they must not fail the script). */
  probes?: Record<string, string>;
}

export interface FileFact {
  exists: boolean;
  sha256?: string;
  mode?: string;
  owner?: string;
  group?: string;
  /** A symlink's target. */
  link?: string;
}

export interface Facts {
  os: { id: string; versionId: string; virt: string };
  /** Packages that are installed ("ii"). */
  installed: Set<string>;
  files: Map<string, FileFact>;
  users: Set<string>;
  services: Map<string, { active: string; enabled: string }>;
  probes: Map<string, string>;
  /** The address this SSH session comes from, as the host sees it (for the lockout guard). */
  clientIp: string;
}

const MARK = '@@rtcops@@';

export function mergeRequests(requests: FactRequest[]): Required<FactRequest> {
  const uniq = (xs: (string[] | undefined)[]) => [...new Set(xs.flatMap((x) => x ?? []))].sort();
  return {
    packages: uniq(requests.map((r) => r.packages)),
    files: uniq(requests.map((r) => [...(r.files ?? []), ...(r.dirs ?? [])])),
    dirs: [],
    users: uniq(requests.map((r) => r.users)),
    services: uniq(requests.map((r) => r.services)),
    probes: Object.assign({}, ...requests.map((r) => r.probes ?? {})) as Record<string, string>,
  };
}

/** One bash script that prints every fact, so gathering costs one SSH round trip. */
export function factsScript(req: Required<FactRequest>): string {
  const lines = [
    'set +e',
    `echo '${MARK} os'; . /etc/os-release 2>/dev/null; echo "$ID"; echo "$VERSION_ID"; systemd-detect-virt 2>/dev/null || echo none`,
    `echo '${MARK} packages'; dpkg-query -W -f='\${Package} \${db:Status-Abbrev}\\n' ${req.packages.map(shQuote).join(' ')} 2>/dev/null | awk '$2 == "ii" {print $1}'`,
  ];
  for (const f of req.files) {
    const q = shQuote(f);
    lines.push(`echo '${MARK} file ${f.replaceAll("'", '')}'; if [ -L ${q} ]; then echo link "$(readlink ${q})"; elif [ -e ${q} ]; then stat -c 'stat %a %U %G' ${q}; [ -f ${q} ] && sha256sum ${q} | cut -d' ' -f1; else echo absent; fi`);
  }
  for (const u of req.users) lines.push(`echo '${MARK} user ${u}'; getent passwd ${shQuote(u)} >/dev/null && echo yes || echo no`);
  for (const s of req.services) {
    lines.push(`echo '${MARK} service ${s}'; systemctl is-active ${shQuote(s)} 2>/dev/null | head -1; systemctl is-enabled ${shQuote(s)} 2>/dev/null | head -1; true`);
  }
  for (const [name, probe] of Object.entries(req.probes)) lines.push(`echo '${MARK} probe ${name}'; ( ${probe} ) 2>/dev/null; true`);
  return lines.join('\n');
}

export function parseFacts(output: string, clientIp: string): Facts {
  const facts: Facts = {
    os: { id: '', versionId: '', virt: 'none' }, installed: new Set(), files: new Map(), users: new Set(), services: new Map(), probes: new Map(), clientIp,
  };
  const sections = output.split(`${MARK} `).slice(1);
  for (const section of sections) {
    const nl = section.indexOf('\n');
    const header = nl < 0 ? section : section.slice(0, nl);
    const body = (nl < 0 ? '' : section.slice(nl + 1)).replace(/\n$/, '');
    const rows = body === '' ? [] : body.split('\n');
    const [kind, ...rest] = header.split(' ');
    const key = rest.join(' ');
    if (kind === 'os') facts.os = { id: rows[0] ?? '', versionId: rows[1] ?? '', virt: rows[2] ?? 'none' };
    else if (kind === 'packages') for (const p of rows) facts.installed.add(p.trim());
    else if (kind === 'file') facts.files.set(key, parseFile(rows));
    else if (kind === 'user') { if (rows[0] === 'yes') facts.users.add(key); }
    else if (kind === 'service') facts.services.set(key, { active: rows[0] ?? 'unknown', enabled: rows[1] ?? 'unknown' });
    else if (kind === 'probe') facts.probes.set(key, body.trim());
  }
  return facts;
}

function parseFile(rows: string[]): FileFact {
  const first = rows[0] ?? 'absent';
  if (first === 'absent') return { exists: false };
  if (first.startsWith('link ')) return { exists: true, link: first.slice(5) };
  const [, mode, owner, group] = first.split(' ');
  return { exists: true, mode: mode?.padStart(4, '0'), owner, group, ...(rows[1] !== undefined ? { sha256: rows[1] } : {}) };
}
