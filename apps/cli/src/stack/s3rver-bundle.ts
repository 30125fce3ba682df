/*
 * Entry of the `cli:build-s3rver` target: s3rver and the five of its modules that the local S3
 * patches or uses, bundled with their packages into one file (dist/apps/cli-s3rver/s3rver-bundle.js) for
 * s3rver's worker thread (LocalServersOptions.s3rverBundle in libs/local-aws): one file to read
 * and compile instead of ~280 modules to resolve and load at every start of a run.
 */
module.exports = {
  S3rver: require('s3rver'),
  utils: require('s3rver/lib/utils'),
  filesystem: require('s3rver/lib/stores/filesystem'),
  object: require('s3rver/lib/models/object'),
  account: require('s3rver/lib/models/account'),
  event: require('s3rver/lib/models/event'),
};
