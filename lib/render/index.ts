/** Rendering: every file rtcops puts on a host, from a validated inventory host and its secrets. */
export { renderHost, DENIED_PEER_RANGES, type RenderedFile, type RenderOptions, type RenderResult } from './files.js';
export { manifest, summary, writeRender, MANIFEST } from './command.js';
export { daemonConfig, ecosystem, pm2LogrotateCommands, pm2LogrotateSettings, serverPlainEnv } from './server-env.js';
export { templatesDir } from './engine.js';
