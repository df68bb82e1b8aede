// What both framework adapters (LangChain.js and LlamaIndex.TS) share: the lancestore store they open
// lazily from a `{ path, …open options }` config, and maximal marginal relevance over the candidates'
// vectors. Framework-free: each adapter's own file wraps this in its framework's base class.
'use strict'

/**
 * The keys of an adapter config that are the adapter's (or its framework's) own; everything else goes to
 * `EmbeddingStore.open`.
 */
const ADAPTER_KEYS = ['path', 'store', 'textKey', 'embedModel', 'embeddingModel']

/**
 * An `EmbeddingStore` opened on first use. `config.store` (an open store) is used as given; otherwise
 * `EmbeddingStore.open(config.path, options)` runs once, with `dimension` taken from the first vector the
 * adapter sees when the config does not give one and the table does not exist yet. A failed open is
 * not remembered: the next call tries again (and rejects with lancestore's coded error again).
 */
class LazyStore {
  constructor(EmbeddingStore, config, extraFields) {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      throw invalid('the adapter config must be an object: { path, ...EmbeddingStore.open options } or { store }')
    }
    if (config.store === undefined && typeof config.path !== 'string') {
      throw invalid('the adapter config needs `path` (a directory or s3:// URL) or `store` (an open EmbeddingStore)')
    }
    this.EmbeddingStore = EmbeddingStore
    this.path = config.path
    this.store = config.store ?? null
    const options = {}
    for (const [key, value] of Object.entries(config)) if (!ADAPTER_KEYS.includes(key)) options[key] = value
    if (extraFields) options.fields = { ...extraFields, ...(options.fields ?? {}) }
    this.options = options
    this.opening = null
  }

  /** The open store; `vector` (any vector the caller holds) gives the dimension of a table not created yet. */
  async get(vector) {
    if (this.store) return this.store
    if (!this.opening) {
      const options = { ...this.options }
      if (options.dimension === undefined && vector) options.dimension = vector.length
      this.opening = this.EmbeddingStore.open(this.path, options).then(
        (store) => {
          this.store = store
          return store
        },
        (error) => {
          this.opening = null
          throw error
        },
      )
    }
    return this.opening
  }

  /** Closes the store if this adapter opened it or was given it; a second call does nothing. */
  async close() {
    const store = this.store ?? (this.opening ? await this.opening.catch(() => null) : null)
    if (store) await store.close()
  }
}

/** A rejected-promise error in lancestore's shape (`code` as the store's own errors have). */
function invalid(message, code = 'INVALID_ARGUMENT') {
  const error = new Error(message)
  error.code = code
  return error
}

function cosine(a, b) {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i]
    na += a[i] * a[i]
    nb += b[i] * b[i]
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

/**
 * Maximal marginal relevance: picks `k` of `candidates` (indexes into it, in pick order), each time the one
 * maximising `lambda · sim(query, c) − (1 − lambda) · max sim(c, picked)` with cosine similarity. `lambda` 1 is
 * pure relevance, 0 pure diversity.
 */
function maximalMarginalRelevance(query, candidates, k, lambda) {
  const relevance = candidates.map((c) => cosine(query, c))
  const closestPicked = candidates.map(() => -Infinity)
  const picked = []
  const left = new Set(candidates.keys())
  while (picked.length < k && left.size > 0) {
    let best = -1
    let bestScore = -Infinity
    for (const i of left) {
      const redundancy = picked.length === 0 ? 0 : closestPicked[i]
      const score = lambda * relevance[i] - (1 - lambda) * redundancy
      if (score > bestScore) {
        best = i
        bestScore = score
      }
    }
    picked.push(best)
    left.delete(best)
    for (const i of left) closestPicked[i] = Math.max(closestPicked[i], cosine(candidates[i], candidates[best]))
  }
  return picked
}

/**
 * The `limit` hits of `search(query, { limit: fetchK, filter })` picked by maximal marginal relevance, best
 * pick first. The candidates' vectors come from `get` (answered from the resident copy when it is current);
 * a candidate deleted between the two calls is left out.
 */
async function searchDiverse(store, query, { k, fetchK, lambda, filter }) {
  if (!Number.isInteger(k) || k < 1) throw invalid('`k` must be a positive integer')
  const fetch = fetchK ?? Math.max(20, k)
  if (!Number.isInteger(fetch) || fetch < k) throw invalid('`fetchK` must be an integer no smaller than `k`')
  const weight = lambda ?? 0.5
  if (typeof weight !== 'number' || !(weight >= 0 && weight <= 1)) throw invalid('`lambda` must be a number from 0 to 1')
  const hits = await store.search(query, { limit: fetch, filter })
  const stored = await store.get(hits.map((hit) => hit.id))
  const present = hits.map((hit, i) => ({ hit, vector: stored[i]?.vector })).filter((c) => c.vector)
  const order = maximalMarginalRelevance(query, present.map((c) => c.vector), k, weight)
  return order.map((i) => present[i].hit)
}

/**
 * `load()` (the framework's modules), or, when the framework is not installed, an error that says which
 * package to install (code `ERR_LANCESTORE_PEER_MISSING`; the loader's own error is its `cause`).
 */
function requirePeer(entry, peer, load) {
  try {
    return load()
  } catch (error) {
    if (error?.code !== 'MODULE_NOT_FOUND' && error?.code !== 'ERR_MODULE_NOT_FOUND') throw error
    throw peerMissing(entry, peer, error)
  }
}

function peerMissing(entry, peer, cause) {
  const error = new Error(`${entry} needs ${peer}, which is not installed: npm install ${peer}`, { cause })
  error.code = 'ERR_LANCESTORE_PEER_MISSING'
  return error
}

module.exports = { LazyStore, invalid, maximalMarginalRelevance, peerMissing, requirePeer, searchDiverse }
