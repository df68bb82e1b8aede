// lancestore's entry point (CommonJS; `index.mjs` is the ES module entry over this file).
//
// `binding.js` is the loader `napi build` generates: it picks this platform's prebuilt package
// (`lancestore-<platform>`, installed through `optionalDependencies`), or a `lancestore.<platform>.node`
// built from source beside it, or the file named by NAPI_RS_NATIVE_LIBRARY_PATH. This file only turns its
// failure into an error that says which platform this is, whether a binary was missing or was there and
// failed to load (and why), and what to do about it.
'use strict'

function platformName() {
  let name = `${process.platform}-${process.arch}`
  if (process.platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
    name += report?.header?.glibcVersionRuntime ? ' (glibc)' : ' (musl or unknown libc)'
  }
  return name
}

/** The messages of a load-error chain (binding.js links each attempt's error through `cause`), first attempt first. */
function attempts(error) {
  const messages = []
  for (let e = error, depth = 0; e && depth < 64; e = e.cause, depth++) {
    let message
    try {
      message = typeof e.message === 'string' ? e.message : String(e)
    } catch {
      message = 'unknown error'
    }
    messages.push(message)
  }
  return messages.reverse()
}

/** An attempt that only found nothing at that path, as opposed to a binary that is there and failed to load. */
const notFound = (message) => /^Cannot find (module|native binding)\b/.test(message) || message.startsWith('Unsupported ')

function prebuiltTargets() {
  try {
    return require('./package.json').napi.targets
  } catch {
    return [] // The list is only there to help: the error stands without it.
  }
}

/**
 * A binary was there but did not load (libc too old, wrong architecture, a damaged or truncated file, a
 * version mismatch): say which attempt failed and why, rather than "not installed".
 */
function loadFailedError(cause, failures) {
  const glibc = failures.find((m) => /GLIBC(XX)?_[0-9.]+' not found/.test(m))
  const error = new Error(
    `lancestore: a native binary for ${platformName()} was found but failed to load on Node.js ${process.version}:\n` +
      failures.map((m) => `  ${m.split('\n')[0]}`).join('\n') +
      '\n' +
      (glibc
        ? 'This system\'s C library is older than the binary needs (the README, "Install", names the minimum); ' +
          'build from source (README, "Building from source") or use a newer base image.\n'
        : 'Reinstall the package (the file may be damaged or from another platform or version), or build from ' +
          'source (README, "Building from source").\n') +
      "What each attempt reported is in this error's `cause`.",
  )
  error.code = 'ERR_LANCESTORE_LOAD_FAILED'
  error.cause = cause
  return error
}

function noBinaryError(cause) {
  const targets = prebuiltTargets()
  const error = new Error(
    `lancestore: no native binary was found for ${platformName()} on Node.js ${process.version}.\n` +
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

/** `ERR_LANCESTORE_LOAD_FAILED` when some attempt found a binary that failed, else `ERR_LANCESTORE_NO_BINARY`. */
function loaderError(cause) {
  const failures = attempts(cause).filter((m) => !notFound(m))
  return failures.length > 0 ? loadFailedError(cause, failures) : noBinaryError(cause)
}

let binding
try {
  binding = require('./binding.js')
} catch (cause) {
  throw loaderError(cause)
}

// `await using store = await EmbeddingStore.open(…)` (explicit resource management) closes the store when the
// scope ends, however it ends. Declared in index.d.ts's header (scripts/setup.js).
if (typeof Symbol.asyncDispose === 'symbol' && binding.EmbeddingStore) {
  Object.defineProperty(binding.EmbeddingStore.prototype, Symbol.asyncDispose, {
    value: function asyncDispose() {
      return this.close()
    },
    writable: true,
    configurable: true,
  })
}

// `store.scan(options)`: an async iterator of rows over the native cursor (`openScan` / `ScanCursor.next`).
if (binding.EmbeddingStore) {
  Object.defineProperty(binding.EmbeddingStore.prototype, 'scan', {
    value: async function* scan(options) {
      const cursor = await this.openScan(options)
      for (;;) {
        const batch = await cursor.next()
        if (batch === null) return
        yield* batch
      }
    },
    writable: true,
    configurable: true,
  })
}

module.exports = binding
