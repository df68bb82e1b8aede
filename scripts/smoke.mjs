// A runtime smoke test, the same under Node.js, Bun, Deno and an emulated older CPU (scripts/runtimes-test.js
// runs it): open a store in a temporary directory, add rows, exact, graph, words and hybrid search, coded
// rejections, close. The package is loaded with `require` from the path in LANCESTORE_PACKAGE (a directory
// holding lancestore, e.g. an installed node_modules/lancestore), else from this repository.
// Prints one JSON line `{ ok: true, runtime, … }`; any failure throws (exit code ≠ 0).
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const here = dirname(fileURLToPath(import.meta.url))
const { EmbeddingStore } = require(process.env.LANCESTORE_PACKAGE || join(here, '..'))

function check(condition, what) {
  if (!condition) throw new Error(`smoke: ${what}`)
}

async function rejectsWith(promise, code) {
  try {
    await promise
  } catch (error) {
    check(error?.code === code, `expected ${code}, got ${error?.code}: ${error?.message}`)
    return
  }
  throw new Error(`smoke: expected a rejection with ${code}`)
}

const runtime = globalThis.Bun ? `bun ${globalThis.Bun.version}` : globalThis.Deno ? `deno ${globalThis.Deno.version.deno}` : `node ${process.version}`
const dir = mkdtempSync(join(tmpdir(), 'lancestore-smoke-'))
try {
  const dim = 16
  const store = await EmbeddingStore.open(dir, { dimension: dim, fields: { body: 'text', n: 'int' } })
  let seed = 7
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1
  const rows = Array.from({ length: 2_500 }, (_, i) => ({
    id: `r${i}`,
    vector: Float32Array.from({ length: dim }, random),
    metadata: { body: i === 42 ? 'the quick brown fox' : `row number ${i}`, n: i },
  }))
  await store.addEmbeddings(rows)
  check((await store.count()) === rows.length, 'count after add')
  const exact = await store.search(rows[42].vector, { limit: 3, exact: true })
  check(exact[0].id === 'r42' && Math.abs(exact[0].score - 1) < 1e-4, 'exact search finds the row itself')
  const report = await store.createIndex({ kind: 'hnsw' })
  check(report.kind === 'hnsw', `graph built (${report.kind})`)
  const graph = await store.search(rows[42].vector, { limit: 3 })
  check(graph[0].id === 'r42', 'graph search finds the row itself')
  const filtered = await store.search(rows[42].vector, { limit: 5, filter: { n: { $gte: 100 } } })
  check(filtered.length === 5 && filtered.every((h) => h.metadata.n >= 100), 'filtered search')
  const words = await store.searchText('quick fox')
  check(words[0]?.id === 'r42', 'words search')
  const hybrid = await store.search(rows[7].vector, { text: 'fox', limit: 3 })
  check(hybrid.some((h) => h.id === 'r42') && hybrid[0].id === 'r7', 'hybrid search')
  await rejectsWith(store.search(new Float32Array(3)), 'DIMENSION_MISMATCH')
  await rejectsWith(store.search(rows[0].vector, { limit: 0 }), 'INVALID_ARGUMENT')
  await rejectsWith(store.search(rows[0].vector, { filter: { missing: 1 } }), 'INVALID_FILTER')
  await rejectsWith(store.addEmbeddings([{ id: 'r1', vector: rows[1].vector }]), 'DUPLICATE_ID')
  await store.close()
  await rejectsWith(store.count(), 'STORE_CLOSED')
  console.log(JSON.stringify({ ok: true, runtime, rows: rows.length }))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
