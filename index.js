// lancestore's entry point (CommonJS; `index.mjs` is the ES module entry over this file).
//
// `binding.js` is the loader `napi build` generates: it picks this platform's prebuilt package
// (`lancestore-<platform>`, installed through `optionalDependencies`), or a `lancestore.<platform>.node`
// built from source beside it, or the file named by NAPI_RS_NATIVE_LIBRARY_PATH. This file only turns its
// "nothing loaded" into an error that says which platform this is and what to do about it.
'use strict'

function platformName() {
  let name = `${process.platform}-${process.arch}`
  if (process.platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
    name += report?.header?.glibcVersionRuntime ? ' (glibc)' : ' (musl or unknown libc)'
  }
  return name
}

function noBinaryError(cause) {
  let targets = []
  try {
    targets = require('./package.json').napi.targets
  } catch {
    // The list is only there to help: the error below stands without it.
  }
  const error = new Error(
    `lancestore: no native binary could be loaded for ${platformName()} on Node.js ${process.version}.\n` +
      (targets.length ? `Prebuilt binaries exist for: ${targets.join(', ')}.\n` : '') +
      'If this platform is one of them, its package (lancestore-<platform>) was not installed: npm skips ' +
      'optional dependencies with --omit=optional / --no-optional, and a package-lock.json written on another ' +
      'platform can leave it out (https://github.com/npm/cli/issues/4828). Reinstall with optional dependencies, ' +
      'removing node_modules and package-lock.json if needed.\n' +
      'Otherwise build it from source (Rust, protoc and a C++ compiler; see the README, "Building from source") ' +
      'and point NAPI_RS_NATIVE_LIBRARY_PATH at the built .node file.\n' +
      'What each attempt reported is in this error\'s `cause`.',
  )
  error.code = 'ERR_LANCESTORE_NO_BINARY'
  error.cause = cause
  return error
}

let binding
try {
  binding = require('./binding.js')
} catch (cause) {
  throw noBinaryError(cause)
}

module.exports = binding
