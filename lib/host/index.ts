/** A host as rtcops sees it: how to reach it, which hosts a command names, where things live on it, PM2 as its app user, its audit logs. */
export { connectionOf, sshTo } from './connection.js';
export { selectTargets } from './targets.js';
export * from './layout.js';
export { pm2As } from './pm2.js';
export { auditScript, auditTailScript, operator } from './audit.js';
