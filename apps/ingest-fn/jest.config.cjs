/* Jest config for ingest-fn; shared settings live in jest.preset.js. */
module.exports = {
  displayName: 'ingest-fn',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
};
