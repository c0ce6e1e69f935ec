import { defineConfig } from 'vitest/config';

export default defineConfig({
  // inside `uverbs vm` the project tree is read-only
  cacheDir: process.env.UVERBS_IN_VM ? '/tmp/uverbs-vite' : undefined,
  test: {
    // forks, not threads: native code and koffi are safer in their own process
    pool: 'forks',
    testTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'host',
          include: ['test/**/*.test.ts'],
          exclude: ['test/device/**', 'test/probes/**', 'test/package/**', 'test/nodes/**'],
        },
      },
      {
        extends: true,
        // device tests talk to a real uverbs device; `npm run test:device` runs them inside `uverbs vm`
        // run with --no-file-parallelism (scripts/test does): resource counts (`rdma res show`)
        // and link changes must not see another file's objects
        test: { name: 'device', include: ['test/device/**/*.test.ts'] },
      },
      {
        extends: true,
        // inside both guests of `uverbs vm --nodes 2` (scripts/node-tests): each test takes its role from
        // UVERBS_NODE and meets the other node through the barrier; run with --no-file-parallelism
        test: { name: 'nodes', include: ['test/nodes/**/*.nodes.test.ts'], testTimeout: 120_000 },
      },
      {
        extends: true,
        // npm pack, then npm install into an empty project (host; needs the npm registry or cache)
        test: { name: 'pack', include: ['test/package/pack.test.ts'], testTimeout: 240_000 },
      },
      {
        extends: true,
        // inside `uverbs vm`, after 'pack': the installed project's uverbs against a real device
        test: { name: 'installed', include: ['test/package/installed.guest.test.ts'], testTimeout: 180_000 },
      },
      {
        extends: true,
        // after the device tests: compares the probes they saved on each kernel
        test: { name: 'probes', include: ['test/probes/**/*.test.ts'] },
      },
    ],
  },
});
