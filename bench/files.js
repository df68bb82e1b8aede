// Writes embeddings as the files `importFile` reads — JSON Lines, NumPy .npy (with an ids file) and
// Parquet (through apache-arrow and parquet-wasm) — for the import tests and the import benchmark.
'use strict'

const fs = require('node:fs')

/** JSONL: one `{ id, vector, ...metadata }` per line. `rows[i]` is `{ id, metadata }`; vectors are flat. */
function writeJsonl(file, rows, flat, dim) {
  const out = fs.openSync(file, 'w')
  try {
    let buffer = ''
    rows.forEach((row, i) => {
      const vector = Array.from(flat.subarray(i * dim, (i + 1) * dim))
      buffer += `${JSON.stringify({ id: row.id, vector, ...row.metadata })}\n`
      if (buffer.length > 1 << 20) {
        fs.writeSync(out, buffer)
        buffer = ''
      }
    })
    fs.writeSync(out, buffer)
  } finally {
    fs.closeSync(out)
  }
}

/** The .npy (version 1.0) header of a little-endian float32 array [rows, dim], padded to 64 bytes as NumPy does. */
function npyHeader(rows, dim) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`
  while ((10 + header.length + 1) % 64 !== 0) header += ' '
  header += '\n'
  const out = Buffer.alloc(10 + header.length)
  out.write('\x93NUMPY', 0, 'latin1')
  out[6] = 1
  out[7] = 0
  out.writeUInt16LE(header.length, 8)
  out.write(header, 10, 'latin1')
  return out
}

/** A whole .npy file of `flat` as [rows, dim]. */
function npyBytes(flat, dim) {
  return Buffer.concat([npyHeader(flat.length / dim, dim), Buffer.from(flat.buffer, flat.byteOffset, flat.byteLength)])
}

/** The .npy file and its ids file (JSONL records with id and metadata, in row order). */
function writeNpy(file, idsFile, rows, flat, dim) {
  fs.writeFileSync(file, npyBytes(flat, dim))
  fs.writeFileSync(idsFile, rows.map((row) => JSON.stringify({ id: row.id, ...row.metadata })).join('\n') + '\n')
}

/** Parquet: `id` (utf8), `vector` (fixed-size list of float32) and one utf8 column per metadata key. */
function writeParquet(file, rows, flat, dim) {
  const arrow = require('apache-arrow')
  const parquet = require('parquet-wasm')
  const n = rows.length
  const item = new arrow.Field('item', new arrow.Float32(), true)
  const values = arrow.makeData({ type: new arrow.Float32(), length: n * dim, nullCount: 0, data: flat })
  const vectors = arrow.makeVector(arrow.makeData({ type: new arrow.FixedSizeList(dim, item), length: n, nullCount: 0, child: values }))
  const columns = { id: arrow.vectorFromArray(rows.map((r) => r.id), new arrow.Utf8()), vector: vectors }
  for (const key of Object.keys(rows[0]?.metadata ?? {})) {
    columns[key] = arrow.vectorFromArray(rows.map((r) => String(r.metadata[key])), new arrow.Utf8())
  }
  const table = new arrow.Table(columns)
  const ipc = arrow.tableToIPC(table, 'stream')
  const props = new parquet.WriterPropertiesBuilder().setCompression(parquet.Compression.SNAPPY).build()
  fs.writeFileSync(file, parquet.writeParquet(parquet.Table.fromIPCStream(ipc), props))
}

module.exports = { writeJsonl, writeNpy, writeParquet, npyBytes, npyHeader }
