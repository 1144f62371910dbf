// Builds the browser parts with esbuild (no CDN: everything is bundled and served by the server):
//   dist/connection-test/{index.html,app.js}   the connection test page, served at /connection-test
//   dist/client/rtcops-client.js                @rtcops/client for apps (mediasoup-client left to the app's bundler)
// Run by `npm run build`; `node client/build.mjs` alone rebuilds them.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const common = { bundle: true, format: 'esm', target: ['chrome110', 'firefox115', 'safari16'], logLevel: 'warning', legalComments: 'none' };

mkdirSync(join(root, 'dist/connection-test'), { recursive: true });
await build({ ...common, entryPoints: [join(root, 'client/connection-test/main.ts')], outfile: join(root, 'dist/connection-test/app.js'), minify: true });
copyFileSync(join(root, 'client/connection-test/index.html'), join(root, 'dist/connection-test/index.html'));
await build({ ...common, entryPoints: [join(root, 'client/src/index.ts')], outfile: join(root, 'dist/client/rtcops-client.js'), external: ['mediasoup-client'] });
