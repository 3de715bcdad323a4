/**
 * The import rules `npm test` checks (`npm run check:imports`): no cycles, type-only imports included,
 * and no import from a layer above. Layers, lowest first; a module may import its own layer and those
 * below it. docs/architecture.md explains the order.
 */
const LAYERS = [
  // Leaf modules at the top of src/ (errors, units, types, native, ...), except the entry point.
  ['base', '^src/(?!index\\.ts$)[^/]+\\.ts$'],
  ['tensor-backend', '^src/tensor/backend\\.ts$'],
  ['workload', '^src/workload/'],
  ['graph', '^src/graph/'],
  ['cache', '^src/cache/'],
  ['replay', '^src/replay/'],
  ['sim', '^src/sim/'],
  ['report', '^src/report/'],
  ['tensor', '^src/tensor/(?!backend\\.ts$)'],
  ['serve', '^src/serve/'],
  ['config', '^src/config/'],
  ['sweep', '^src/sweep/'],
  ['loadgen', '^src/loadgen/'],
  ['cli', '^src/cli/'],
  ['entry', '^src/index\\.ts$'],
];

const upward = LAYERS.slice(0, -1).map(([name, path], index) => ({
  name: `no-upward-from-${name}`,
  comment: `${name} must not import a layer above it (${LAYERS.slice(index + 1).map(([above]) => above).join(', ')})`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(index + 1).map(([, above]) => `(${above})`).join('|') },
}));

module.exports = {
  forbidden: [
    { name: 'no-cycles', comment: 'import cycles (type-only imports count too)', severity: 'error', from: { path: '^src/' }, to: { circular: true } },
    {
      name: 'every-module-in-a-layer',
      comment: 'a module outside every layer: add its folder to LAYERS in .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.map(([, path]) => `(${path})`).join('|') },
      to: {},
    },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
