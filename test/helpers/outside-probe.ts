// A watcher from outside the host (a namespace on the sandbox bridge): TCP connects to ports the firewall must keep
// closed, over and over while something runs, counting every one that got through.
import { spawn } from 'node:child_process';

export interface ProbeCount {
  attempts: number;
  open: number;
}

/** Starts connecting to each port in a loop (50 ms timeout each); stop() ends it and returns the counts per port. */
export function watchPorts(namespace: string, address: string, ports: number[]): { stop: () => Promise<Record<number, ProbeCount>> } {
  const loop = `trap 'exit 0' TERM; while :; do for p in ${ports.join(' ')}; do if timeout 0.05 bash -c "exec 3<>/dev/tcp/${address}/$p" 2>/dev/null; then echo "open $p"; else echo "closed $p"; fi; done; done`;
  const child = spawn('ip', ['netns', 'exec', namespace, 'bash', '-c', loop], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      const counts: Record<number, ProbeCount> = Object.fromEntries(ports.map((p) => [p, { attempts: 0, open: 0 }]));
      for (const line of out.split('\n')) {
        const [state, port] = line.split(' ');
        const c = counts[Number(port)];
        if (c === undefined) continue;
        c.attempts++;
        if (state === 'open') c.open++;
      }
      return counts;
    },
  };
}
