/*
 * Entry of the `cli:build-s3rver` target: s3rver and the five of its modules that the local S3
 * patches or uses, bundled with their packages into one file (dist/apps/cli-s3rver/s3rver-bundle.js) for
 * s3rver's worker thread (LocalServersOptions.s3rverBundle in libs/local-aws): one file to read
 * and compile instead of ~280 modules to resolve and load at every start of a run.
 */
// Only utils is loaded with the file: the worker patches its randomHexString (installLeanIds) before
// the getters below load s3rver, whose event model keeps the function it finds at load.
module.exports = {
  utils: require('s3rver/lib/utils'),
  get S3rver() {
    return require('s3rver');
  },
  get filesystem() {
    return require('s3rver/lib/stores/filesystem');
  },
  get object() {
    return require('s3rver/lib/models/object');
  },
  get account() {
    return require('s3rver/lib/models/account');
  },
  get event() {
    return require('s3rver/lib/models/event');
  },
};
