/* Jest config for transform-fn; shared settings live in jest.preset.js. */
module.exports = {
  displayName: 'transform-fn',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
};
