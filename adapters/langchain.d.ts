// Types of `lancestore/langchain`: a LangChain.js `VectorStore` over one lancestore table.
import type { EmbeddingsInterface } from '@langchain/core/embeddings'
import type { DocumentInterface } from '@langchain/core/documents'
import { VectorStore, type MaxMarginalRelevanceSearchOptions } from '@langchain/core/vectorstores'
import type { EmbeddingStore, OpenOptions } from '../index'

/** `{ path, …EmbeddingStore.open options }`, or `{ store }` (an open store), plus `textKey`. */
export interface LancestoreConfig extends OpenOptions {
  /** The store's directory or `s3://` URL (with `storage`). */
  path?: string
  /** An already open store to use instead of opening `path`. */
  store?: EmbeddingStore
  /** The metadata key that holds each document's `pageContent` (default `'text'`). */
  textKey?: string
}

/** A lancestore filter object over the declared `fields` (see the README's "Filters"). */
export type LancestoreFilter = Record<string, unknown>

export declare class LancestoreVectorStore extends VectorStore {
  FilterType: LancestoreFilter
  textKey: string
  constructor(embeddings: EmbeddingsInterface, config: LancestoreConfig)
  _vectorstoreType(): string
  /** A store opened now (its table created with `config.dimension` if it does not exist). */
  static open(embeddings: EmbeddingsInterface, config: LancestoreConfig): Promise<LancestoreVectorStore>
  static fromTexts(
    texts: string[],
    metadatas: object[] | object,
    embeddings: EmbeddingsInterface,
    config: LancestoreConfig,
  ): Promise<LancestoreVectorStore>
  static fromDocuments(
    docs: DocumentInterface[],
    embeddings: EmbeddingsInterface,
    config: LancestoreConfig,
  ): Promise<LancestoreVectorStore>
  /** The lancestore store underneath (opened if needed). */
  client(): Promise<EmbeddingStore>
  /** Upserts: an id already stored is replaced. Resolves the ids (options.ids, else each Document.id, else random UUIDs). */
  addDocuments(documents: DocumentInterface[], options?: { ids?: string[] }): Promise<string[]>
  addVectors(vectors: number[][], documents: DocumentInterface[], options?: { ids?: string[] }): Promise<string[]>
  /** Scores are lancestore's: higher is closer (cosine similarity for `metric: 'cosine'`). */
  similaritySearchVectorWithScore(
    query: number[],
    k: number,
    filter?: LancestoreFilter,
  ): Promise<[DocumentInterface, number][]>
  maxMarginalRelevanceSearch(
    query: string,
    options: MaxMarginalRelevanceSearchOptions<LancestoreFilter>,
  ): Promise<DocumentInterface[]>
  delete(params: { ids: string[] } | { filter: LancestoreFilter }): Promise<void>
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export default LancestoreVectorStore
