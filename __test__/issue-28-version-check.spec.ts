// Issue 28: the version check before each search no longer lists every kept version, and stays never stale:
// with 5,000 versions kept, another process's commit is seen by the very next search, round after round.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { EmbeddingStore } from '../index'
import { tempDir } from './fixtures'

let dir: ReturnType<typeof tempDir>
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => dir.remove())

const dim = 8
/** Row `i`'s vector: seeded pseudo-random values (xorshift), so no two rows are alike. */
const VECTOR_SOURCE = `(i) => { let s = (i * 2654435761 + 1) >>> 0; return Float32Array.from({ length: ${dim} }, () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296 - 0.5 }) }`
// eslint-disable-next-line no-new-func
const vector = new Function(`return ${VECTOR_SOURCE}`)() as (i: number) => Float32Array

/** A writer in another process: on each `commit <i>` line it adds row `w<i>` and answers `committed <i>`. */
function writer(path: string) {
  const entry = join(__dirname, '..', 'index.js')
  const script = `
    const { EmbeddingStore } = require(${JSON.stringify(entry)})
    const readline = require('node:readline')
    const vector = ${VECTOR_SOURCE}
    ;(async () => {
      const store = await EmbeddingStore.open(${JSON.stringify(path)}, { performance: { residentMemoryMB: 0, autoOptimizeEvery: 0 } })
      console.log('ready')
      for await (const line of readline.createInterface({ input: process.stdin })) {
        const [word, n] = line.split(' ')
        if (word === 'commit') {
          await store.addEmbeddings([{ id: 'w' + n, vector: vector(Number(n)) }])
          console.log('committed ' + n)
        } else if (word === 'close') {
          await store.close()
          process.exit(0)
        }
      }
    })().catch((e) => { console.log('error ' + e.message); process.exit(1) })`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  const lines: string[] = []
  let wake: (() => void) | null = null
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    lines.push(...chunk.split('\n').filter(Boolean))
    wake?.()
  })
  const said = async (word: string) => {
    while (!lines.includes(word)) {
      if (lines.some((l) => l.startsWith('error'))) throw new Error(lines.join('\n'))
      await new Promise<void>((r) => (wake = r))
    }
  }
  const exited = new Promise((r) => child.on('exit', r))
  return { said, send: (line: string) => child.stdin.write(`${line}\n`), exited, kill: () => child.kill() }
}

test('with 5,000 versions kept, another process’s commit is seen by the very next search', async () => {
  const store = await EmbeddingStore.open(dir.path, { dimension: dim, performance: { autoOptimizeEvery: 0 } })
  for (let i = 0; i < 5_000; i++) await store.addEmbeddings([{ id: `r${i}`, vector: vector(i) }])
  expect(await store.version()).toBeGreaterThanOrEqual(5_000)
  const other = writer(dir.path)
  try {
    await other.said('ready')
    for (let round = 0; round < 40; round++) {
      const n = 100_000 + round
      // The same query before and after: a cached or resident answer from before the commit must not be served.
      const before = await store.search(vector(n), { limit: 1 })
      expect(before[0].id).not.toBe(`w${n}`)
      other.send(`commit ${n}`)
      await other.said(`committed ${n}`)
      const after = await store.search(vector(n), { limit: 1 })
      expect(after[0]).toMatchObject({ id: `w${n}` })
      expect(after[0].score).toBeCloseTo(1, 5)
    }
    other.send('close')
    await other.exited
  } finally {
    other.kill()
  }
  await expect(store.count()).resolves.toBe(5_040)
  await store.close()
}, 300_000)
