// `lancestore/llamaindex` for CommonJS: the LlamaIndex.TS vector store over `@llamaindex/core`'s CommonJS build.
'use strict'

const { EmbeddingStore } = require('../index.js')
const { requirePeer } = require('./shared.js')
const { defineLlamaIndexStore } = require('./llamaindex-store.js')

const { BaseVectorStore, nodeToMetadata, metadataDictToNode } = requirePeer(
  'lancestore/llamaindex',
  '@llamaindex/core',
  () => require('@llamaindex/core/vector-store'),
)
const LancestoreVectorStore = defineLlamaIndexStore({ BaseVectorStore, nodeToMetadata, metadataDictToNode, EmbeddingStore })

// `default` too, marked as an ES module's, so TypeScript's and bundlers' default import gives the class.
module.exports = { LancestoreVectorStore, default: LancestoreVectorStore }
Object.defineProperty(module.exports, '__esModule', { value: true })
