// `lancestore/llamaindex` for ES modules: the LlamaIndex.TS vector store over `@llamaindex/core`'s ES module build.
import { BaseVectorStore, nodeToMetadata, metadataDictToNode } from '@llamaindex/core/vector-store'
import { EmbeddingStore } from '../index.mjs'
import adapter from './llamaindex-store.js'

export const LancestoreVectorStore = adapter.defineLlamaIndexStore({
  BaseVectorStore,
  nodeToMetadata,
  metadataDictToNode,
  EmbeddingStore,
})
export default LancestoreVectorStore
