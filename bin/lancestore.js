#!/usr/bin/env node
// The `lancestore` command line: a thin layer over the library for the jobs people do by hand —
// import, export, stats, search, get, index, optimize. Arguments are parsed by commander. Exit codes: 0 ok,
// 1 usage error, 2 the store's typed error (its `code` is printed). `--json` prints one JSON document on
// stdout; progress goes to stderr (a bar with rate and ETA on a terminal, plain lines otherwise).
'use strict'

const fs = require('node:fs')
const { Command, CommanderError, InvalidArgumentError } = require('commander')
const { EmbeddingStore } = require('..')
const { exportStore } = require('./export')
const { progressPrinter } = require('./progress')

const USAGE = 1
const STORE_ERROR = 2

/** A usage error: the message is printed and the process exits 1. */
class UsageError extends Error {}

function integer(name) {
  return (value) => {
    const n = Number(value)
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`)
    return n
  }
}

function json(name) {
  return (value) => {
    try {
      return JSON.parse(value)
    } catch (error) {
      throw new InvalidArgumentError(`${name} is not valid JSON (${error.message})`)
    }
  }
}

function list(value) {
  return value.split(',').map((s) => s.trim()).filter(Boolean)
}

/** `--fields section:string,year:int` → `{ section: 'string', year: 'int' }`. */
function fieldTypes(value) {
  const fields = {}
  for (const pair of list(value)) {
    const at = pair.indexOf(':')
    const [name, type] = at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)]
    if (!name || !type) throw new InvalidArgumentError(`--fields wants name:type pairs, got ${JSON.stringify(pair)}`)
    fields[name] = type
  }
  return fields
}

/** `s3://bucket/prefix`: an object-storage store (endpoint and credentials from the AWS_* variables). */
const isUrl = (where) => /^[a-z][a-z0-9+.-]*:\/\//i.test(where)

/**
 * One command's store options: no automatic index, and no resident copy. A command runs once and exits, so
 * loading the whole table into memory in the background (which `close()` would then abort) is wasted work;
 * LanceDB answers a single search directly. `index --kind hnsw|auto` keeps it: the HNSW graph is built over it.
 */
const oneShot = (options, { resident = false } = {}) => ({
  table: options.table,
  autoIndex: false,
  ...(resident ? {} : { performance: { residentMemoryMB: 0 } }),
})

/** Opens an existing store; a missing directory is a usage error (opening would create it). */
async function openExisting(dir, options, how = {}) {
  if (!isUrl(dir) && !fs.existsSync(dir)) throw new UsageError(`no store at ${dir}`)
  return EmbeddingStore.open(dir, oneShot(options, how))
}

/**
 * Runs `work` on the store `open` gives and closes it, whatever happens. When `work` fails, that error is
 * the one reported: a failing `close()` after it is printed beside it, never in its place.
 */
async function withStore(dir, options, work, open = openExisting) {
  const store = await open(dir, options)
  let result
  try {
    result = await work(store)
  } catch (error) {
    try {
      await store.close()
    } catch (closeError) {
      process.stderr.write(`lancestore: closing the store after the error below also failed: ${closeError.message}\n`)
    }
    throw error
  }
  await store.close()
  return result
}

/** The query vector: inline JSON, or a file holding a JSON array. */
function readVector(value) {
  let vector
  try {
    vector = JSON.parse(value.trim().startsWith('[') ? value : fs.readFileSync(value, 'utf8'))
  } catch (error) {
    throw new UsageError(`--vector: ${error.message}`)
  }
  if (!Array.isArray(vector)) throw new UsageError('--vector must be a JSON array of numbers (or a file holding one)')
  return vector
}

function print(command, value, text) {
  if (command.optsWithGlobals().json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
  else process.stdout.write(`${text(value)}\n`)
}

function program() {
  const cli = new Command('lancestore')
    .description('Inspect and load lancestore embedding stores (a directory holding LanceDB tables).')
    .option('--json', 'print machine-readable JSON on stdout')
    .option('--table <name>', 'table inside the store directory', 'embeddings')
    .showHelpAfterError()
    .exitOverride()

  cli
    .command('import')
    .description('import a JSONL, NPY, Parquet or Arrow IPC file (one atomic commit unless --commit-every)')
    .argument('<dir>', 'store directory or s3://bucket/prefix (created when missing; then --dimension is needed)')
    .argument('<file>', 'the file to import')
    .option('--dimension <n>', 'vector length, for a new store', integer('--dimension'))
    .option('--metric <metric>', 'cosine, l2 or dot, for a new store')
    .option('--fields <name:type,…>', 'declared metadata fields, for a new store (string, int, float, bool, string[], text or text:<language>)', fieldTypes)
    .option('--format <format>', 'jsonl, npy, parquet or arrow (default: from the extension)')
    .option('--id-field <name>', 'field or column holding the id', 'id')
    .option('--vector-field <name>', 'field or column holding the vector', 'vector')
    .option('--metadata-fields <a,b,…>', 'fields or columns kept as metadata (default: all others)', list)
    .option('--ids <file>', '.npy only: ids, one per line, or JSONL records with ids and metadata')
    .option('--commit-every <rows>', 'commit every this many rows instead of once', integer('--commit-every'))
    .action(async (dir, file, options, command) => {
      const open = (where, o) =>
        EmbeddingStore.open(where, { ...oneShot(o), dimension: o.dimension, metric: o.metric, fields: o.fields })
      const progress = progressPrinter(process.stderr, 'import')
      const result = await withStore(
        dir,
        command.optsWithGlobals(),
        (store) =>
          store.importFile(file, {
            format: options.format,
            idField: options.idField,
            vectorField: options.vectorField,
            metadataFields: options.metadataFields,
            idsPath: options.ids,
            commitEvery: options.commitEvery,
            onProgress: progress.update,
          }),
        open,
      ).finally(progress.end)
      const rate = Math.round(result.added / (result.ms / 1000 || 1))
      print(command, result, (r) => `imported ${r.added} rows in ${(r.ms / 1000).toFixed(1)} s (${rate}/s); ${r.rows} rows, version ${r.version}`)
    })

  cli
    .command('export')
    .description('write the rows to a file import reads back (jsonl, parquet, or npy + <file>.ids.jsonl)')
    .argument('<dir>', 'store directory or s3://bucket/prefix')
    .argument('<file>', 'the file to write (.jsonl, .parquet or .npy)')
    .option('--format <format>', 'jsonl, parquet or npy (default: from the extension)')
    .option('--filter <json>', 'only the rows matching this filter', json('--filter'))
    .option('--batch-size <n>', 'rows read at a time', integer('--batch-size'), 1_000)
    .action(async (dir, file, options, command) => {
      const format =
        options.format ?? (/\.npy$/i.test(file) ? 'npy' : /\.(jsonl|ndjson)$/i.test(file) ? 'jsonl' : /\.(parquet|pq)$/i.test(file) ? 'parquet' : null)
      if (format !== 'jsonl' && format !== 'npy' && format !== 'parquet') {
        throw new UsageError(`--format must be jsonl, parquet or npy (could not tell from ${JSON.stringify(file)})`)
      }
      if (format === 'npy' && !/\.npy$/i.test(file)) throw new UsageError('an npy export file must end in .npy')
      const progress = progressPrinter(process.stderr, 'export')
      const result = await withStore(dir, command.optsWithGlobals(), (store) =>
        exportStore(store, file, {
          format,
          filter: options.filter,
          batchSize: options.batchSize,
          onRows: (rows) => progress.update({ phase: 'read', rows }),
        }),
      ).finally(progress.end)
      print(command, result, (r) => `exported ${r.rows} rows to ${r.files.join(' and ')}`)
    })

  cli
    .command('stats')
    .description('rows, version, index and resident-copy status')
    .argument('<dir>', 'store directory or s3://bucket/prefix')
    .action(async (dir, _options, command) => {
      const stats = await withStore(dir, command.optsWithGlobals(), async (store) => ({
        path: store.path,
        table: store.table,
        dimension: store.dimension,
        metric: store.metric,
        fields: store.fields,
        ...(await store.stats()),
      }))
      print(command, stats, (s) =>
        [
          `${s.path} (table ${s.table})`,
          `rows ${s.rows}, version ${s.version}, dimension ${s.dimension}, metric ${s.metric}`,
          `fields ${Object.entries(s.fields).map(([k, v]) => `${k}:${v}`).join(', ') || '(none)'}`,
          `index ${s.index.kind} (${s.index.indexedRows} indexed, ${s.index.unindexedRows} not yet)`,
        ].join('\n'),
      )
    })

  cli
    .command('search')
    .description('the stored embeddings nearest to a vector, best matching words (--text), or both (hybrid)')
    .argument('<dir>', 'store directory or s3://bucket/prefix')
    .option('--vector <json|file>', 'the query: a JSON array, or a file holding one')
    .option('--text <words>', "words to search a 'text' field for (BM25); with --vector, a hybrid search")
    .option('--text-field <name>', "the 'text' field to search (when the store has several)")
    .option('--limit <n>', 'how many results', integer('--limit'), 10)
    .option('--filter <json>', 'metadata filter, e.g. \'{"section":"libs"}\'', json('--filter'))
    .option('--exact', 'exact vector search (no index)')
    .action(async (dir, options, command) => {
      if (options.vector === undefined && options.text === undefined) {
        throw new UsageError('give --vector, --text, or both')
      }
      const vector = options.vector === undefined ? undefined : readVector(options.vector)
      const hits = await withStore(dir, command.optsWithGlobals(), (store) => {
        const common = { limit: options.limit, filter: options.filter }
        if (vector === undefined) return store.searchText(options.text, { ...common, textField: options.textField })
        const words = options.text === undefined ? {} : { text: options.text, textField: options.textField }
        return store.search(vector, { ...common, exact: options.exact, ...words })
      })
      print(command, hits, (h) => h.map((hit) => `${hit.score.toFixed(4)}  ${hit.id}  ${JSON.stringify(hit.metadata ?? null)}`).join('\n'))
    })

  cli
    .command('get')
    .description('stored items by id (null for ids not stored)')
    .argument('<dir>', 'store directory or s3://bucket/prefix')
    .argument('<ids...>', 'ids')
    .action(async (dir, ids, _options, command) => {
      const items = await withStore(dir, command.optsWithGlobals(), (store) => store.get(ids))
      const plain = items.map((item, i) => (item ? { id: item.id, vector: Array.from(item.vector), metadata: item.metadata } : { id: ids[i], missing: true }))
      print(command, plain, (list) =>
        list.map((item) => (item.missing ? `${item.id}: not stored` : `${item.id}: [${item.vector.length} dims] ${JSON.stringify(item.metadata ?? null)}`)).join('\n'),
      )
    })

  cli
    .command('index')
    .description('build the vector index (see the README for the kinds)')
    .argument('<dir>', 'store directory or s3://bucket/prefix')
    .option('--kind <kind>', 'auto, hnsw, ivf_pq, ivf_hnsw_sq, ivf_flat or none', 'auto')
    .action(async (dir, options, command) => {
      const progress = progressPrinter(process.stderr, 'index')
      const report = await withStore(
        dir,
        command.optsWithGlobals(),
        (store) => store.createIndex({ kind: options.kind, onProgress: progress.update }),
        (where, o) => openExisting(where, o, { resident: options.kind === 'hnsw' || options.kind === 'auto' }),
      ).finally(progress.end)
      print(command, report, (r) => `index ${r.kind} over ${r.rows} rows in ${(r.buildMs / 1000).toFixed(1)} s${r.reason ? ` (${r.reason})` : ''}`)
    })

  cli
    .command('optimize')
    .description('compact data files, prune old versions, update indexes')
    .argument('<dir>', 'store directory or s3://bucket/prefix')
    .action(async (dir, _options, command) => {
      const progress = progressPrinter(process.stderr, 'optimize')
      const result = await withStore(dir, command.optsWithGlobals(), (store) => store.optimize({ onProgress: progress.update })).finally(progress.end)
      print(command, result, (r) => `compacted ${r.fragmentsRemoved} fragments into ${r.fragmentsAdded}, pruned ${r.versionsPruned} versions; version ${r.version}`)
    })

  return cli
}

async function main(argv) {
  try {
    await program().parseAsync(argv)
    return 0
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander printed the message (and help) already; --help and --version are not errors.
      return error.exitCode === 0 ? 0 : USAGE
    }
    if (error instanceof UsageError) {
      process.stderr.write(`lancestore: ${error.message}\n`)
      return USAGE
    }
    if (error && typeof error.code === 'string') {
      process.stderr.write(`lancestore: ${error.code}: ${error.message}\n`)
      return STORE_ERROR
    }
    process.stderr.write(`lancestore: ${error && error.stack ? error.stack : error}\n`)
    return STORE_ERROR
  }
}

if (require.main === module) {
  main(process.argv).then((code) => {
    process.exitCode = code
  })
}

module.exports = { main, program, withStore }
