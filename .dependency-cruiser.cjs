/**
 * flotilla's layering, checked by `npm run lint:deps` and by test/unit/layers.test.ts (so `npm test`
 * fails on a violation too). The layers point one way: membership ← election ← tasks ← node; each
 * imports only from the folders to its left. libp2p stays behind src/membership, dockerode behind
 * the Docker executor and prom-client in src/node/metrics.
 */
const LIBP2P = '(^|/)node_modules/(libp2p|@libp2p|@chainsafe|@multiformats|it-[^/]+|uint8arrays)/'
const DOCKER = '(^|/)node_modules/(dockerode|docker-modem)/'

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles between files: each cycle is a knot no file in it can be understood alone.',
      from: { path: '^src/' },
      to: { circular: true }
    },
    {
      name: 'membership-imports-no-upper-layer',
      severity: 'error',
      comment: 'src/membership is the bottom layer: it imports from no other folder of src.',
      from: { path: '^src/membership/' },
      to: { path: '^src/(election|tasks|node)/' }
    },
    {
      name: 'election-imports-only-membership',
      severity: 'error',
      comment: 'The store and Raft know no orchestrator (SwarmKit: api/ and manager/state/store import no orchestrator).',
      from: { path: '^src/election/' },
      to: { path: '^src/(tasks|node)/' }
    },
    {
      name: 'tasks-imports-no-node',
      severity: 'error',
      comment: 'The tasks layer is wired by src/node, never the other way.',
      from: { path: '^src/tasks/' },
      to: { path: '^src/node/' }
    },
    {
      name: 'libp2p-only-in-membership',
      severity: 'error',
      comment: 'libp2p (and its stream and multiaddr helpers) stays behind src/membership.',
      from: { path: '^src/', pathNot: '^src/membership/' },
      to: { path: LIBP2P }
    },
    {
      name: 'dockerode-only-in-executor',
      severity: 'error',
      comment: 'Only the Docker executor talks to the engine.',
      from: { path: '^src/', pathNot: '^src/tasks/executor/docker/' },
      to: { path: DOCKER }
    },
    {
      name: 'prom-client-only-in-metrics',
      severity: 'error',
      comment: 'Metrics are the agent\'s concern: lower layers report through RaftObserver, public listeners and getters that src/node/metrics reads.',
      from: { path: '^src/', pathNot: '^src/node/metrics/' },
      to: { path: '(^|/)node_modules/prom-client/' }
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'Every import resolves (a typo in a path would hide an edge from the rules above).',
      from: { path: '^src/' },
      to: { couldNotResolve: true }
    }
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'] },
    reporterOptions: { text: { highlightFocused: true } }
  }
}
