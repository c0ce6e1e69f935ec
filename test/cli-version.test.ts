/**
 * `uverbs --version` / `-V`: the version in the package's own package.json,
 * on stdout, exit 0 (the built CLI, as `npm test` builds it first).
 */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { uverbs } from './vm-cli.js';

const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

describe('uverbs --version', () => {
  for (const flag of ['--version', '-V'])
    it(`${flag} prints the package's version and exits 0`, async () => {
      const r = await uverbs(flag);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`${version}\n`);
      expect(r.status).toBe(0);
    });

  it('--help names it', async () => {
    const r = await uverbs('--help');
    expect(r.stdout).toMatch(/'uverbs --version' \(-V\)/);
  });
});
