import type { Action } from '../actions.js';
import { fileAction } from '../managed-files.js';
import type { Step } from '../step.js';

/** The sshd hardening drop-in, applied behind the lockout guard (revert armed, new connection proven). */
export const sshdStep: Step = {
  name: 'sshd',
  title: 'SSH hardening',
  facts: ({ rendered }) => ({ files: rendered.files.filter((f) => f.id === 'sshd-hardening').map((f) => f.path) }),
  plan: ({ rendered }, facts) => {
    const file = rendered.files.find((f) => f.id === 'sshd-hardening');
    const action = file === undefined ? undefined : fileAction(file, facts);
    return action === undefined ? [] : [{ ...action, guard: 'ssh-access' } satisfies Action];
  },
};
