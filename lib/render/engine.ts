import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import nunjucks from 'nunjucks';

/** The repository's templates/ folder, found from this module whether it runs from lib/ (tsx) or dist/lib/. */
export function templatesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'templates')) || !existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the templates/ folder above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
  return join(dir, 'templates');
}

let environment: nunjucks.Environment | undefined;

/** Config files, not HTML: no escaping; a misspelt variable is an error, not an empty string. */
function env(): nunjucks.Environment {
  environment ??= new nunjucks.Environment(new nunjucks.FileSystemLoader(templatesDir()), {
    autoescape: false,
    throwOnUndefined: true,
    trimBlocks: true,
    lstripBlocks: true,
  });
  return environment;
}

export function renderTemplate(name: string, context: object): string {
  return env().render(name, context);
}
