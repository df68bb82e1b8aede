// Shared test helpers: a temp directory per test, the real-embedding sample kept in the repo,
// seeded random vectors and a brute-force nearest-neighbour reference.
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { types } from 'node:util'

export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'lancestore-'))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export interface EmbeddingSet {
  dim: number
  base: Float32Array
  queries: Float32Array
  rows: Array<{ id: number; key: string; section: string; text: string }>
  nBase: number
  nQueries: number
  row: (i: number) => Float32Array
  query: (i: number) => Float32Array
}

function f32(file: string): Float32Array {
  const b = readFileSync(file)
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}

export function loadSet(dir: string): EmbeddingSet {
  const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'))
  const dim: number = meta.dim
  const base = f32(join(dir, 'base.f32'))
  const queries = f32(join(dir, 'queries.f32'))
  const jsonl = join(dir, 'base.jsonl')
  const rows = existsSync(jsonl) ? readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []
  return {
    dim,
    base,
    queries,
    rows,
    nBase: base.length / dim,
    nQueries: queries.length / dim,
    row: (i) => base.subarray(i * dim, (i + 1) * dim),
    query: (i) => queries.subarray(i * dim, (i + 1) * dim),
  }
}

/** The 2,000-row MiniLM sample committed under examples/data. */
export function sample(): EmbeddingSet {
  return loadSet(join(__dirname, '..', 'examples', 'data', 'minilm-384-sample'))
}

/** Mulberry32: a small seeded PRNG, so random tests are repeatable. */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function randomVectors(n: number, dim: number, seed: number, normalize = true): Float32Array[] {
  const next = rng(seed)
  return Array.from({ length: n }, () => {
    const v = new Float32Array(dim)
    let norm = 0
    for (let i = 0; i < dim; i++) {
      v[i] = next() * 2 - 1
      norm += v[i] * v[i]
    }
    if (normalize) for (let i = 0; i < dim; i++) v[i] /= Math.sqrt(norm)
    return v
  })
}

export type Metric = 'cosine' | 'l2' | 'dot'

/** Distance as lancestore documents it, computed in float64. */
export function distance(metric: Metric, a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0
  let na = 0
  let nb = 0
  let l2 = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i]
    na += a[i] * a[i]
    nb += b[i] * b[i]
    l2 += (a[i] - b[i]) ** 2
  }
  if (metric === 'cosine') return 1 - dot / Math.sqrt(na * nb)
  if (metric === 'dot') return 1 - dot
  return l2
}

/** Exact top-k by brute force: indices into `vectors`, nearest first. */
export function bruteForce(metric: Metric, query: ArrayLike<number>, vectors: ArrayLike<number>[], k: number) {
  return vectors
    .map((v, i) => ({ i, d: distance(metric, query, v) }))
    .sort((x, y) => x.d - y.d || x.i - y.i)
    .slice(0, k)
}

/**
 * Whether `e` is a real Error. Errors made by the addon belong to Node's main realm, so `instanceof Error`
 * is false inside jest's sandbox (a jest quirk, not something users see); `isNativeError` works across realms.
 */
export function isError(e: unknown): e is Error & { code?: string } {
  return types.isNativeError(e)
}
