// Types of `lancestore/llamaindex`: a LlamaIndex.TS `BaseVectorStore` over one lancestore table.
import type { BaseEmbedding } from '@llamaindex/core/embeddings'
import type { BaseNode } from '@llamaindex/core/schema'
import { BaseVectorStore, type VectorStoreQuery, type VectorStoreQueryResult } from '@llamaindex/core/vector-store'
import type { EmbeddingStore, OpenOptions } from '../index'

/** `{ path, …EmbeddingStore.open options }`, or `{ store }` (an open store), plus LlamaIndex's `embedModel`. */
export interface LancestoreConfig extends OpenOptions {
  /** The store's directory or `s3://` URL (with `storage`). */
  path?: string
  /** An already open store to use instead of opening `path` (its table must declare `ref_doc_id: 'string'`). */
  store?: EmbeddingStore
  /** The embedding model (else LlamaIndex's `Settings.embedModel`). */
  embedModel?: BaseEmbedding
}

export declare class LancestoreVectorStore extends BaseVectorStore<EmbeddingStore | null> {
  storesText: boolean
  constructor(config: LancestoreConfig)
  /** A store opened now (its table created with `config.dimension` if it does not exist). */
  static open(config: LancestoreConfig): Promise<LancestoreVectorStore>
  /** The lancestore store once opened (after `open()` or the first call), else `null`. */
  client(): EmbeddingStore | null
  add(nodes: BaseNode[]): Promise<string[]>
  delete(refDocId: string): Promise<void>
  query(query: VectorStoreQuery): Promise<VectorStoreQueryResult>
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export default LancestoreVectorStore
