// The committed MiniLM sample (examples/data/minilm-384-sample) as an embedding lookup, so the framework
// examples run real semantic search with no model and no API key: each known text maps to the vector
// all-MiniLM-L6-v2 gave it. In an app, use the framework's embedding model instead (OpenAI, Ollama, …).
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data', 'minilm-384-sample')

function load(name) {
  const b = fs.readFileSync(path.join(dir, `${name}.f32`))
  const vectors = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
  const rows = fs.readFileSync(path.join(dir, `${name}.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  const dim = vectors.length / rows.length
  return rows.map((row, i) => ({ ...row, vector: Array.from(vectors.subarray(i * dim, (i + 1) * dim)) }))
}

/** The 2,000 package descriptions (key, section, text, vector) and the 50 held-out queries. */
export const packages = load('base')
export const queries = load('queries')

const byText = new Map([...packages, ...queries].map((row) => [row.text, row.vector]))

/** The stored vector of `text`; a text outside the sample is an error (this is a lookup, not a model). */
export function embed(text) {
  const vector = byText.get(text)
  if (!vector) throw new Error(`not in the sample: ${text.slice(0, 60)}…`)
  return vector
}
