// The Debian releases a sandbox boots, and the archive suites each image is built from.
export const SANDBOX_OSES = ['debian-12', 'debian-13'] as const;
export type SandboxOs = (typeof SANDBOX_OSES)[number];
export const DEFAULT_OS: SandboxOs = 'debian-12';

export interface Release {
  suite: string;
  label: string;
}

export const RELEASES: Record<SandboxOs, Release> = {
  'debian-12': { suite: 'bookworm', label: 'Debian 12 (bookworm)' },
  'debian-13': { suite: 'trixie', label: 'Debian 13 (trixie)' },
};

// The release, its point-release updates and its security archive: what a fresh cloud VM's sources list holds.
export function mirrorsOf(release: Release): string[] {
  return [
    `deb http://deb.debian.org/debian ${release.suite} main`,
    `deb http://deb.debian.org/debian ${release.suite}-updates main`,
    `deb http://deb.debian.org/debian-security ${release.suite}-security main`,
  ];
}

export function isSandboxOs(os: string): os is SandboxOs {
  return (SANDBOX_OSES as readonly string[]).includes(os);
}

export function osProblem(os: string): string | undefined {
  return isSandboxOs(os) ? undefined : `the sandbox boots ${SANDBOX_OSES.join(' or ')}, not "${os}"`;
}
