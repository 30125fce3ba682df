/* Jest config for graph-proof; shared settings live in jest.preset.js. */
module.exports = {
  displayName: 'graph-proof',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
};
