import { defineConfig } from 'vitest/config'

// Cluster and Docker tests start real agent processes; on a 2-core host they run one file at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default']
  }
})
