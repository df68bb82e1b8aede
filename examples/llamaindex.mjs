#!/usr/bin/env node
// LlamaIndex.TS with lancestore (`lancestore/llamaindex`): 300 Debian package descriptions indexed with
// `VectorStoreIndex` over a lancestore table, then retrieval with and without a metadata filter and a
// delete by source document. Embeddings come from the committed MiniLM sample (see sample-embeddings.mjs);
// swap in any LlamaIndex embedding model. Run: node examples/llamaindex.mjs
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BaseEmbedding } from '@llamaindex/core/embeddings'
import { Document, MetadataMode } from '@llamaindex/core/schema'
import { Settings, VectorStoreIndex, storageContextFromDefaults } from 'llamaindex'
import { LancestoreVectorStore } from 'lancestore/llamaindex'
import { embed, packages, queries } from './sample-embeddings.mjs'

/** Looks texts up in the sample; LlamaIndex embeds document text without metadata here (see below). */
class SampleEmbedding extends BaseEmbedding {
  async getTextEmbedding(text) {
    return embed(text)
  }
}

const short = (text) => (text.length > 70 ? `${text.slice(0, 69)}…` : text)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lancestore-llamaindex-'))
try {
  Settings.embedModel = new SampleEmbedding()
  const vectorStore = new LancestoreVectorStore({ path: dir, fields: { section: 'string' } })
  const documents = packages.slice(0, 300).map(
    (p) =>
      new Document({
        id_: p.key,
        text: p.text,
        metadata: { section: p.section },
        // The sample has vectors for the bare text: keep metadata out of the embedded text.
        excludedEmbedMetadataKeys: ['section'],
      }),
  )
  const index = await VectorStoreIndex.fromDocuments(documents, {
    storageContext: await storageContextFromDefaults({ vectorStore }),
  })

  const question = queries[0].text
  console.log(`query: ${short(question)}`)
  const nearest = await index.asRetriever({ similarityTopK: 3 }).retrieve(question)
  for (const { node, score } of nearest) {
    console.log(`  ${node.sourceNode?.nodeId.padEnd(28)} ${score.toFixed(3)} ${short(node.getContent(MetadataMode.NONE))}`)
  }
  const filters = { filters: [{ key: 'section', value: 'python', operator: '==' }] }
  const python = await index.asRetriever({ similarityTopK: 3, filters }).retrieve(question)
  console.log(`  python only: ${python.map((r) => r.node.sourceNode?.nodeId).join(', ')}`)

  const top = nearest[0].node.sourceNode.nodeId
  await vectorStore.delete(top)
  const again = await index.asRetriever({ similarityTopK: 3 }).retrieve(question)
  if (again.some((r) => r.node.sourceNode?.nodeId === top)) throw new Error('the deleted document was still returned')
  console.log(`  deleted ${top}; now first: ${again[0].node.sourceNode?.nodeId}`)
  await vectorStore.close()
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
