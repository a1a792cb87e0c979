// A small byte-level BPE vocabulary learned from generic text, written as a Hugging
// Face tokenizer.json that `tokenize` and `eval --vocab FILE` read. The miniature's
// model has a 2048-token vocabulary: GPT-2's 50257 would spend nine tenths of every
// step in the output layer, and two cores could not run the experiment in minutes.
// It is learned from the Brown corpus only, so the world's invented names are split
// into pieces as a real tokenizer splits names it never saw.
//
//   node scripts/miniature/bpe_train.js --in BROWN.jsonl --out tokenizer.json [--vocab 2048]
//
// Ids: the 256 bytes, then one token per merge in the order learned, then <|endoftext|>
// (the last id). Words are split with GPT-2's pattern; ties go to the smaller pair.
'use strict';
const fs = require('fs');

const SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

// GPT-2's byte-to-character table: printable bytes stand for themselves, the others
// (in increasing order) for U+0100 onwards
function byteChars() {
    const chars = [];
    let next = 256;
    for (let b = 0; b < 256; b++) {
        const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        chars.push(String.fromCharCode(printable ? b : next++));
    }
    return chars;
}

// distinct words (as byte-id arrays) with their counts
function countWords(texts) {
    const counts = new Map();
    for (const text of texts) for (const w of text.match(SPLIT) || []) counts.set(w, (counts.get(w) || 0) + 1);
    return [...counts].map(([w, n]) => ({ids: [...Buffer.from(w, 'utf8')], n}));
}

function train(words, merges) {
    const pairCount = new Map(), pairWords = new Map();
    const key = (a, b) => a * 65536 + b;
    const addWord = (w, i, sign) => {
        for (let j = 0; j + 1 < w.ids.length; j++) {
            const k = key(w.ids[j], w.ids[j + 1]);
            pairCount.set(k, (pairCount.get(k) || 0) + sign * w.n);
            if (sign > 0) (pairWords.get(k) || pairWords.set(k, new Set()).get(k)).add(i);
        }
    };
    words.forEach((w, i) => addWord(w, i, 1));
    const learned = [];
    for (let m = 0; m < merges; m++) {
        let best = -1, bestN = 0;
        for (const [k, n] of pairCount) if (n > bestN || (n === bestN && k < best)) best = k, bestN = n;
        if (bestN < 2) break;
        const a = Math.floor(best / 65536), b = best % 65536, id = 256 + m;
        learned.push([a, b]);
        for (const i of pairWords.get(best)) {
            const w = words[i];
            addWord(w, i, -1);
            const ids = [];
            for (let j = 0; j < w.ids.length; j++) {
                if (j + 1 < w.ids.length && w.ids[j] === a && w.ids[j + 1] === b) ids.push(id), j++;
                else ids.push(w.ids[j]);
            }
            w.ids = ids;
            addWord(w, i, 1);
        }
        pairCount.delete(best);
        pairWords.delete(best);
    }
    return learned;
}

function main() {
    const opt = {in: '', out: '', vocab: 2048};
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i += 2) {
        const k = argv[i].replace(/^--/, '');
        if (!(k in opt) || argv[i + 1] === undefined) {
            console.error(`bpe_train.js: unknown option ${argv[i]} (--in JSONL --out tokenizer.json --vocab N)`);
            process.exit(2);
        }
        opt[k] = k === 'vocab' ? Number(argv[i + 1]) : argv[i + 1];
    }
    if (!opt.in || !opt.out || !(opt.vocab > 257)) {
        console.error('bpe_train.js: --in and --out are required, --vocab above 257');
        process.exit(2);
    }
    const texts = fs.readFileSync(opt.in, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
        const t = JSON.parse(l).text;
        if (typeof t !== 'string') throw new Error(`${opt.in}:${i + 1}: no "text" string`);
        return t;
    });
    const learned = train(countWords(texts), opt.vocab - 257);
    const chars = byteChars();
    const spell = [...chars];
    for (const [a, b] of learned) spell.push(spell[a] + spell[b]);
    const vocab = {};
    spell.forEach((s, id) => { vocab[s] = id; });
    const eot = spell.length;
    const json = {
        version: '1.0',
        added_tokens: [{id: eot, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false,
                        normalized: false, special: true}],
        pre_tokenizer: {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true},
        decoder: {type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true},
        model: {type: 'BPE', vocab, merges: learned.map(([a, b]) => `${spell[a]} ${spell[b]}`)},
    };
    fs.writeFileSync(opt.out + '.tmp', JSON.stringify(json));
    fs.renameSync(opt.out + '.tmp', opt.out);
    console.log(`bpe: ${learned.length} merges from ${texts.length} documents, vocabulary ${eot + 1} -> ${opt.out}`);
}

main();
