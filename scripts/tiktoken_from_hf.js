// Writes the tiktoken rank file of a byte-level BPE tokenizer.json: for every
// vocab entry in id order, "<base64 of the token's bytes> <id>". For Llama 3's
// tokenizer.json this reproduces Meta's tokenizer.model byte for byte.
//   node scripts/tiktoken_from_hf.js tokenizer.json OUT
'use strict';
const fs = require('fs');

const [input, out] = process.argv.slice(2);
const vocab = JSON.parse(fs.readFileSync(input, 'utf8')).model.vocab;

// GPT-2's byte-to-character table: printable bytes stand for themselves, the
// other 68 are U+0100 onwards in byte order.
const charToByte = new Map();
let next = 256;
for (let b = 0; b < 256; b++) {
  const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  charToByte.set(String.fromCodePoint(printable ? b : next++), b);
}

const lines = Object.entries(vocab).sort((a, b) => a[1] - b[1]).map(([token, id]) => {
  const bytes = [...token].map((c) => {
    if (!charToByte.has(c)) throw new Error(`${input}: token ${JSON.stringify(token)} is not byte-level`);
    return charToByte.get(c);
  });
  return `${Buffer.from(bytes).toString('base64')} ${id}\n`;
});
fs.writeFileSync(out, lines.join(''));
