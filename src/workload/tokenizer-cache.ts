/**
 * Prepared BPE tables of a tokenizer.json, kept in a cache file so that a process starting again does not
 * parse 9-11 MB of JSON (about a second of an engine's start-up on this machine): the file holds the
 * tokenizer.json without its vocabulary and merges (added tokens, pre-tokenizer, post-processor, ...) and
 * the tables as flat arrays (byte-level-bpe.ts). It is found by a hash of the tokenizer.json's bytes and of
 * what the caller changed in it, and checked by a hash of its own contents: a changed tokenizer.json
 * or a damaged file is never used, the JSON is parsed instead and the file written again.
 *
 * Where: `$KVFLOW_CACHE_DIR`, else `$XDG_CACHE_HOME/kvflow`, else `~/.cache/kvflow`; `KVFLOW_CACHE_DIR=off`
 * turns it off. Writing is best effort (a read-only home only costs the parse every time).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { BpeTables } from './byte-level-bpe.js';

const MAGIC = 'KVFLOW-BPE-1\n';

/** A tokenizer.json as loaded: the JSON (without vocabulary and merges when the tables came from the cache) and the tables. */
export interface PreparedTokenizerJson {
  json: Record<string, unknown>;
  tables: BpeTables | undefined;
  /** Whether the tables came from the cache file. */
  cached: boolean;
}

interface CacheHeader {
  rest: Record<string, unknown>;
  ignoreMerges: boolean;
  tokens: number;
  merges: number;
  textBytes: number;
  sha256: string;
}

/** The cache folder, or undefined when turned off. */
export function tokenizerCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.KVFLOW_CACHE_DIR;
  if (dir === 'off') return undefined;
  if (dir) return dir;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kvflow');
}

/**
 * The tokenizer.json of `bytes`: from the cache when it holds tables for these bytes and this `variant`
 * (a name for what `parse` changes), else `parse(bytes)` with tables from `tablesOf`, stored for next time.
 */
export async function prepareTokenizerJson(
  bytes: Buffer,
  variant: string,
  parse: (bytes: Buffer) => Record<string, unknown>,
  tablesOf: (json: Record<string, unknown>) => BpeTables | undefined,
): Promise<PreparedTokenizerJson> {
  const dir = tokenizerCacheDir();
  const key = createHash('sha256').update(bytes).update(`\0${variant}\0${MAGIC}`).digest('hex').slice(0, 32);
  const file = dir && join(dir, `tokenizer-${key}.bin`);
  if (file) {
    const hit = await readCache(file);
    if (hit) return { ...hit, cached: true };
  }
  const json = parse(bytes);
  const tables = tablesOf(json);
  if (file && tables) await writeCache(dir, file, json, tables);
  return { json, tables, cached: false };
}

async function readCache(file: string): Promise<Omit<PreparedTokenizerJson, 'cached'> | undefined> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch {
    return undefined;
  }
  try {
    if (data.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
    const headerBytes = data.readUInt32LE(MAGIC.length);
    const headerStart = MAGIC.length + 4;
    const header = JSON.parse(data.toString('utf8', headerStart, headerStart + headerBytes)) as CacheHeader;
    const payloadStart = align4(headerStart + headerBytes);
    const payload = data.subarray(payloadStart);
    if (createHash('sha256').update(payload).digest('hex') !== header.sha256) return undefined;
    // Copied out so the typed arrays are aligned whatever the Buffer's offset in its pool.
    const ints = (offset: number, count: number) => new Int32Array(payload.buffer.slice(payload.byteOffset + offset, payload.byteOffset + offset + 4 * count));
    let offset = 0;
    const tokenIds = ints(offset, header.tokens);
    offset += 4 * header.tokens;
    const lengths = ints(offset, header.tokens);
    offset += 4 * header.tokens;
    const lefts = ints(offset, header.merges);
    offset += 4 * header.merges;
    const rights = ints(offset, header.merges);
    offset += 4 * header.merges;
    const merged = ints(offset, header.merges);
    offset += 4 * header.merges;
    const text = payload.toString('utf8', offset, offset + header.textBytes);
    const tokens = new Array<string>(header.tokens);
    let at = 0;
    for (let i = 0; i < header.tokens; i++) {
      tokens[i] = text.slice(at, at + lengths[i]!);
      at += lengths[i]!;
    }
    if (at !== text.length) return undefined;
    return { json: header.rest, tables: { tokens, tokenIds, lefts, rights, merged, ignoreMerges: header.ignoreMerges } };
  } catch {
    return undefined;
  }
}

async function writeCache(dir: string, file: string, json: Record<string, unknown>, tables: BpeTables): Promise<void> {
  const text = tables.tokens.join('');
  const textBytes = Buffer.from(text, 'utf8');
  // A token with a lone surrogate does not survive UTF-8: such a vocabulary is not cached.
  if (textBytes.toString('utf8') !== text) return;
  const lengths = Int32Array.from(tables.tokens, (token) => token.length);
  const payload = Buffer.concat([
    ...[tables.tokenIds, lengths, tables.lefts, tables.rights, tables.merged].map((array) => Buffer.from(array.buffer, array.byteOffset, array.byteLength)),
    textBytes,
  ]);
  const { vocab: _vocab, merges: _merges, ...model } = json.model as Record<string, unknown>;
  const header: CacheHeader = {
    rest: { ...json, model },
    ignoreMerges: tables.ignoreMerges,
    tokens: tables.tokens.length,
    merges: tables.merged.length,
    textBytes: textBytes.length,
    sha256: createHash('sha256').update(payload).digest('hex'),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const start = Buffer.alloc(MAGIC.length + 4);
  start.write(MAGIC, 0, 'latin1');
  start.writeUInt32LE(headerBytes.length, MAGIC.length);
  const padding = Buffer.alloc(align4(start.length + headerBytes.length) - start.length - headerBytes.length);
  // Written aside and renamed into place: a reader never sees half a file, concurrent writers never clash.
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(temporary, Buffer.concat([start, headerBytes, padding, payload]));
    await rename(temporary, file);
  } catch {
    await unlink(temporary).catch(() => {});
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
