import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // forks, not threads: native code and koffi are safer in their own process
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    reporters: ['default'],
  },
});
