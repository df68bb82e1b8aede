// The LlamaIndex.TS adapter's class, built over the `BaseVectorStore` and node helpers of whichever
// `@llamaindex/core` build loads it (CommonJS from `llamaindex.js`, ES modules from `llamaindex.mjs`).
'use strict'

const { LazyStore, invalid, searchDiverse } = require('./shared.js')

/** The declared field that holds each node's source document id, so `delete(refDocId)` is one filtered commit. */
const REF_DOC_ID = 'ref_doc_id'

/** LlamaIndex's filter operators, as lancestore filter conditions on one field. */
const OPERATORS = {
  '==': (value) => value,
  '!=': (value) => ({ $ne: value }),
  '>': (value) => ({ $gt: value }),
  '>=': (value) => ({ $gte: value }),
  '<': (value) => ({ $lt: value }),
  '<=': (value) => ({ $lte: value }),
  in: (value) => ({ $in: value }),
  nin: (value) => ({ $nin: value }),
  any: (value) => ({ $in: value }),
  contains: (value) => value,
  is_empty: () => ({ $exists: false }),
}

/**
 * LlamaIndex `MetadataFilters` as a lancestore filter: each filter on a declared field, joined by `and`
 * (default) or `or`. `all` becomes one equality per value (a `string[]` field contains each). An
 * operator lancestore cannot express (`text_match`) is refused with `INVALID_FILTER`, never dropped.
 */
function toFilter(filters) {
  if (filters === undefined || filters === null) return undefined
  if (typeof filters !== 'object' || !Array.isArray(filters.filters)) {
    throw invalid('`filters` must be { filters: MetadataFilter[], condition? }', 'INVALID_FILTER')
  }
  const parts = filters.filters.map((f, i) => {
    if (f === null || typeof f !== 'object' || typeof f.key !== 'string') {
      throw invalid(`filters[${i}] must be { key, operator, value }`, 'INVALID_FILTER')
    }
    const operator = f.operator ?? '=='
    if (operator === 'all') {
      if (!Array.isArray(f.value)) throw invalid(`filters[${i}]: \`all\` takes an array`, 'INVALID_FILTER')
      return { $and: f.value.map((v) => ({ [f.key]: v })) }
    }
    const condition = Object.hasOwn(OPERATORS, operator) ? OPERATORS[operator] : null
    if (!condition) {
      throw invalid(`filters[${i}]: the operator ${JSON.stringify(operator)} is not supported by lancestore`, 'INVALID_FILTER')
    }
    return { [f.key]: condition(f.value) }
  })
  const join = filters.condition ?? 'and'
  if (join !== 'and' && join !== 'or') throw invalid('`filters.condition` must be "and" or "or"', 'INVALID_FILTER')
  if (parts.length === 0) return undefined
  return join === 'and' ? { $and: parts } : { $or: parts }
}

/** The declared `'text'` field holding each node's text, searched by the `hybrid` and `text_search` modes. */
const NODE_TEXT = '_node_text'
/** The query modes this store answers (LlamaIndex's `VectorStoreQueryMode` values). */
const MODES = ['default', 'mmr', 'hybrid', 'text_search']

function defineLlamaIndexStore({ BaseVectorStore, nodeToMetadata, metadataDictToNode, EmbeddingStore }) {
  /**
   * A LlamaIndex `BaseVectorStore` over one lancestore table. Each node is stored under its id with its
   * embedding, its text and node data in the metadata, and its source document's id in the declared
   * field `ref_doc_id`, and its text also in the `'text'` field `_node_text` (for the `hybrid` and
   * `text_search` modes). Filters use the fields declared with `fields`. Similarities are lancestore's scores.
   */
  class LancestoreVectorStore extends BaseVectorStore {
    storesText = true

    constructor(config) {
      super(config ?? {})
      this.lazy = new LazyStore(EmbeddingStore, config, { [REF_DOC_ID]: 'string', [NODE_TEXT]: 'text' })
    }

    /** A store opened now (its table created with `config.dimension` if it does not exist). */
    static async open(config) {
      const store = new this(config)
      await store.lazy.get()
      return store
    }

    /** The lancestore `EmbeddingStore` once opened (after `open()` or the first call), else `null`. */
    client() {
      return this.lazy.store
    }

    /** Stores the nodes with their embeddings in one atomic commit (a node id already stored is replaced). */
    async add(nodes) {
      if (!Array.isArray(nodes)) throw invalid('`nodes` must be an array')
      if (nodes.length === 0) return []
      const items = nodes.map((node, i) => {
        const vector = node?.embedding
        if (!vector) throw invalid(`nodes[${i}] has no embedding`, 'INVALID_VECTOR')
        const text = typeof node.getContent === 'function' ? node.getContent() : node.text
        return { id: node.id_, vector, metadata: { ...nodeToMetadata(node), [NODE_TEXT]: typeof text === 'string' ? text : null } }
      })
      const store = await this.lazy.get(items[0].vector)
      await store.upsertEmbeddings(items)
      return items.map((item) => item.id)
    }

    /** Removes every node of the source document `refDocId`, in one commit. */
    async delete(refDocId) {
      if (typeof refDocId !== 'string') throw invalid('`refDocId` must be a string')
      const store = await this.lazy.get()
      await store.delete({ filter: { [REF_DOC_ID]: refDocId } })
    }

    /**
     * The `similarityTopK` nodes nearest to `queryEmbedding`, within `filters` and `docIds` (source document
     * ids). Mode `mmr` picks them by maximal marginal relevance (`mmrThreshold` is lambda, default 0.5)
     * from `4 × similarityTopK` candidates. Mode `hybrid` fuses the vector and the words of `queryStr` (BM25
     * over the nodes' text) by reciprocal rank (lancestore's hybrid search; `alpha` is not used); mode
     * `text_search` ranks by the words alone (similarities are BM25 scores). Other modes are refused with
     * `INVALID_ARGUMENT`.
     */
    async query(query) {
      const mode = query?.mode ?? 'default'
      if (!MODES.includes(mode)) throw invalid(`query mode ${JSON.stringify(mode)} is not supported (supported: ${MODES.join(', ')})`)
      const vector = query.queryEmbedding
      if (!vector && mode !== 'text_search') throw invalid('the query needs `queryEmbedding`')
      const words = query.queryStr
      if ((mode === 'hybrid' || mode === 'text_search') && typeof words !== 'string') {
        throw invalid(`query mode ${JSON.stringify(mode)} needs \`queryStr\``)
      }
      let filter = toFilter(query.filters)
      if (query.docIds) {
        const docs = { [REF_DOC_ID]: { $in: query.docIds } }
        filter = filter ? { $and: [filter, docs] } : docs
      }
      const k = query.similarityTopK
      const store = await this.lazy.get(vector)
      const textField = NODE_TEXT
      const hits =
        mode === 'mmr'
          ? await searchDiverse(store, vector, { k, fetchK: 4 * k, lambda: query.mmrThreshold, filter })
          : mode === 'hybrid'
            ? await store.search(vector, { limit: k, filter, text: words, textField })
            : mode === 'text_search'
              ? await store.searchText(words, { limit: k, filter, textField })
              : await store.search(vector, { limit: k, filter })
      return {
        nodes: hits.map((hit) => metadataDictToNode(hit.metadata ?? {})),
        similarities: hits.map((hit) => hit.score),
        ids: hits.map((hit) => hit.id),
      }
    }

    /** Closes the store underneath; closing twice is harmless. */
    async close() {
      await this.lazy.close()
    }

    async [Symbol.asyncDispose]() {
      await this.close()
    }
  }
  return LancestoreVectorStore
}

module.exports = { defineLlamaIndexStore, toFilter }
