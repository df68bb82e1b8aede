// Benchmark data: seeded synthetic unit vectors and the real-embedding sets in ../shared/data.
'use strict'

const fs = require('node:fs')
const path = require('node:path')

const sharedData = path.resolve(__dirname, '..', '..', 'shared', 'data')

function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** n seeded random unit vectors, row-major in one Float32Array. */
function unitVectors(n, dim, seed) {
  const next = rng(seed)
  const out = new Float32Array(n * dim)
  for (let r = 0; r < n; r++) {
    let norm = 0
    for (let i = 0; i < dim; i++) {
      const x = next() * 2 - 1
      out[r * dim + i] = x
      norm += x * x
    }
    norm = Math.sqrt(norm)
    for (let i = 0; i < dim; i++) out[r * dim + i] /= norm
  }
  return out
}

function f32(file) {
  const b = fs.readFileSync(file)
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}

function i32(file) {
  const b = fs.readFileSync(file)
  return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}

/**
 * The data of a scenario: `{ dim, n, base, queries, nQueries, gt (Int32Array n_q×100 or null), sections }`.
 * Returns null (with a reason) when a real set is absent.
 */
function loadScenario(spec) {
  if (spec.kind === 'synthetic') {
    return {
      dim: spec.dim,
      n: spec.n,
      base: unitVectors(spec.n, spec.dim, 1),
      queries: unitVectors(spec.queries, spec.dim, 2),
      nQueries: spec.queries,
      gt: null,
      sections: null,
    }
  }
  const dir = path.join(sharedData, spec.folder)
  if (!fs.existsSync(path.join(dir, 'base.f32'))) return { missing: `${dir} is absent` }
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8'))
  const dim = meta.dim
  const n = Math.min(spec.n ?? meta.n_base, meta.n_base)
  const nQueries = Math.min(spec.queries ?? meta.n_queries, meta.n_queries)
  const jsonl = path.join(sharedData, 'minilm-384', 'base.jsonl')
  const sections = fs.readFileSync(jsonl, 'utf8').trim().split('\n').slice(0, n).map((l) => JSON.parse(l).section)
  return {
    dim,
    n,
    base: f32(path.join(dir, 'base.f32')).subarray(0, n * dim),
    queries: f32(path.join(dir, 'queries.f32')).subarray(0, nQueries * dim),
    nQueries,
    // Ground truth ranks the full base; it is only valid when the whole base is loaded.
    gt: n === meta.n_base ? i32(path.join(dir, 'gt.i32')) : null,
    sections,
  }
}

module.exports = { loadScenario, rng, sharedData }
