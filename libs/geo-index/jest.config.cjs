/* Jest config for geo-index; shared settings live in jest.preset.js. */
module.exports = {
  displayName: 'geo-index',
  preset: '../../jest.preset.js',
  rootDir: __dirname,
};
