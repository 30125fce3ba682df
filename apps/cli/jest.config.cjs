/* Jest config for cli; shared settings live in jest.preset.js. */
module.exports = {
  displayName: 'cli',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
};
