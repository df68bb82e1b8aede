#!/usr/bin/env node
// A real S3-compatible server on this machine for the object-storage tests and benchmark: moto in server
// mode (PyPI `moto[server]`, pinned), installed into a Python virtualenv outside the clone
// ($LANCESTORE_S3_SERVER_DIR, default ~/.cache/lancestore/s3-server) and started on 127.0.0.1 with a
// free port. `node scripts/s3-server.js` installs it (npm test does too); tests call `startS3Server()`,
// which resolves to null with a reason when it cannot be installed (they then skip and say why).
'use strict'

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const MOTO = 'moto[server]==5.2.5'
const venv = process.env.LANCESTORE_S3_SERVER_DIR || path.join(os.homedir(), '.cache', 'lancestore', 's3-server')
const bin = path.join(venv, process.platform === 'win32' ? 'Scripts' : 'bin')
const server = path.join(bin, process.platform === 'win32' ? 'moto_server.exe' : 'moto_server')
const marker = path.join(venv, '.lancestore-installed')

/** Fixed test credentials: moto accepts any; the tests check that these never leak into messages. */
const CREDENTIALS = { accessKeyId: 'AKIALANCESTORETEST01', secretAccessKey: 'lancestore/Test+Secret/Key0123456789abcdef' }

function python() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    const r = spawnSync(candidate, ['-c', 'import sys, venv; print(sys.version_info >= (3, 9))'], { encoding: 'utf8' })
    if (r.status === 0 && r.stdout.trim() === 'True') return candidate
  }
  return null
}

/**
 * Installs moto into the virtualenv if it is not there yet. Returns `{ ok: true }` or `{ ok: false, reason }`
 * (never throws): the object-storage tests skip with that reason.
 */
function ensureS3Server({ quiet = false } = {}) {
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === MOTO && fs.existsSync(server)) return { ok: true }
  const py = python()
  if (!py) return { ok: false, reason: 'Python >= 3.9 with the venv module was not found (set PYTHON=...)' }
  if (!quiet) console.log(`[lancestore setup] installing the local S3 server for the object-storage tests (${MOTO} into ${venv})`)
  const stdio = quiet ? 'ignore' : 'inherit'
  let r = spawnSync(py, ['-m', 'venv', venv], { stdio })
  if (r.status !== 0) return { ok: false, reason: `\`${py} -m venv ${venv}\` failed (Debian: apt-get install python3-venv)` }
  r = spawnSync(path.join(bin, 'pip'), ['install', '--quiet', '--disable-pip-version-check', MOTO], { stdio })
  if (r.status !== 0 || !fs.existsSync(server)) return { ok: false, reason: `pip could not install ${MOTO} (is PyPI reachable?)` }
  fs.writeFileSync(marker, MOTO)
  return { ok: true }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

async function waitUntilUp(endpoint, child, ms) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`)
    try {
      const res = await fetch(`${endpoint}/moto-api/`)
      if (res.status < 500) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`moto_server did not answer on ${endpoint} within ${ms} ms`)
}

async function expectOk(request, what) {
  const res = await request
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`)
  return res
}

/**
 * Starts a server on 127.0.0.1 with a free port. Resolves to `{ endpoint, storage, createBucket(name), stop() }`,
 * or `{ skip: reason }` when the server cannot be installed. `storage` is the `storage` option for
 * `EmbeddingStore.open` (endpoint, region, the test credentials, allowHttp).
 */
async function startS3Server() {
  const installed = ensureS3Server({ quiet: true })
  if (!installed.ok) return { skip: installed.reason }
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const child = spawn(server, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
  try {
    await waitUntilUp(endpoint, child, 20000)
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  const storage = { endpoint, region: 'us-east-1', allowHttp: true, ...CREDENTIALS }
  return {
    endpoint,
    storage,
    credentials: CREDENTIALS,
    /** Creates a bucket (moto accepts an unsigned path-style PUT). */
    async createBucket(name) {
      const res = await fetch(`${endpoint}/${name}`, { method: 'PUT' })
      if (!res.ok) throw new Error(`creating bucket ${name}: HTTP ${res.status}`)
    },
    /**
     * Turns on moto's request authentication (for the bad-credentials tests), after creating — while requests
     * are still unauthenticated — `bucket` and an IAM user with no policy. Resolves to that user's credentials:
     * valid, but denied everything. From then on unknown keys get InvalidAccessKeyId.
     */
    async enableAuth(bucket) {
      const setup = (service) =>
        `AWS4-HMAC-SHA256 Credential=AKIASETUPUNSIGNED000/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`
      // The next three requests pass unauthenticated: the user, its key, the bucket.
      await expectOk(fetch(`${endpoint}/moto-api/reset-auth`, { method: 'POST', body: '3' }), 'reset-auth')
      const iam = (params) =>
        fetch(`${endpoint}/`, {
          method: 'POST',
          headers: { Authorization: setup('iam'), 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ Version: '2010-05-08', UserName: 'no-policy', ...params }),
        })
      await expectOk(iam({ Action: 'CreateUser' }), 'CreateUser')
      const key = await (await expectOk(iam({ Action: 'CreateAccessKey' }), 'CreateAccessKey')).text()
      await expectOk(fetch(`${endpoint}/${bucket}`, { method: 'PUT', headers: { Authorization: setup('s3') } }), 'CreateBucket')
      const field = (name) => new RegExp(`<${name}>(.*?)</${name}>`).exec(key)?.[1]
      return { accessKeyId: field('AccessKeyId'), secretAccessKey: field('SecretAccessKey') }
    },
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    },
  }
}

module.exports = { ensureS3Server, startS3Server, CREDENTIALS }

if (require.main === module) {
  const result = ensureS3Server()
  if (!result.ok) {
    console.error(`[lancestore setup] the local S3 server could not be installed: ${result.reason}`)
    process.exit(1)
  }
  console.log(`[lancestore setup] local S3 server ready: ${server}`)
}
