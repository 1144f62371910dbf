// Reading scripts/test-tools.txt: which Debian packages a machine still lacks for the tests.

/** "package probe" lines: a probe starting with / is a file, else a command on PATH or in /usr/sbin. */
export function missingTools(list: string, has: (probe: string) => boolean): string[] {
  return [...new Set(list.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(/\s+/) as [string, string])
    .filter(([, probe]) => !has(probe))
    .map(([pkg]) => pkg))];
}
