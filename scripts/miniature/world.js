// The miniature's knowledge world (the paper's Section 6 model made concrete):
// fictional people with typed attributes (town, craft, animal) and a relation
// (who trained whom), source documents that state each fact once in one phrasing,
// and multiple-choice questions on those facts.
//
//   node scripts/miniature/world.js --out DIR [--docs N] [--people N] [--seed N]
//
// DIR/corpus.jsonl  QuALITY's nested layout, one row per document (article_id, title,
//                   author, article, questions [{question, options, gold_label}]):
//                   the corpus for `entigraph` and `corpus_text`, the QA set for `eval`
// DIR/facts.jsonl   {article_id, facts: [[subject, relation, value], ...]}: what each
//                   document states, for the leakage check
//
// Built so that a tiny model can learn it: short names, ten values per attribute,
// and every question's options drawn from the answer's own type (four towns, four
// crafts, ...), so answering is recalling which value goes with which name. The
// questions are worded unlike anything the stand-in LM writes.
'use strict';
const fs = require('fs');
const path = require('path');
const {SOURCE, fill, joinNames} = require('./language');
const {rng, pick, shuffle} = require('./random');

const CRAFTS = ['potter', 'baker', 'smith', 'weaver', 'tanner', 'mason', 'carver', 'brewer', 'fisher', 'miller'];
const ANIMALS = ['fox', 'goat', 'hound', 'crow', 'mule', 'wren', 'hare', 'cat', 'goose', 'pig'];
const QUIZ = {
    town: 'Which town was {name} living in?',
    craft: 'What was the occupation of {name}?',
    animal: 'What kind of animal did {name} own?',
    mentor: 'Who had been the master of {name}?',
};

// fictional names from syllables: people two syllables ("Tavo"), towns a syllable and an ending ("Korwick")
function names(r, n, make, taken) {
    const out = [];
    while (out.length < n) {
        const x = make(r);
        if (!taken.has(x) && x.length >= 3) taken.add(x), out.push(x);
    }
    return out;
}
const ONSET = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z'];
const VOWEL = ['a', 'e', 'i', 'o', 'u'];
const CODA = ['', '', 'n', 'r', 'l', 's'];
const cap = (s) => s[0].toUpperCase() + s.slice(1);
const person = (r) => cap(pick(r, ONSET) + pick(r, VOWEL) + pick(r, ONSET) + pick(r, VOWEL) + pick(r, CODA));
const town = (r) => cap(pick(r, ONSET) + pick(r, VOWEL) + pick(r, ['r', 'l', 'n']) + pick(r, ['wick', 'ford', 'holm', 'mere', 'dale']));

// four options: the answer and three others of its type, in a random order
function question(r, type, name, answer, pool) {
    const options = shuffle(r, [answer, ...shuffle(r, pool.filter((x) => x !== answer && x !== name)).slice(0, 3)]);
    return {question: fill(QUIZ[type], {name}), options, gold_label: options.indexOf(answer) + 1};
}

function makeWorld({docs, people, seed}) {
    const r = rng(seed);
    const taken = new Set(['He', 'She']);
    const towns = names(r, 12, town, taken);
    const rows = [], facts = [];
    for (let d = 0; d < docs; d++) {
        const folk = names(r, people, person, taken).map((name) => ({
            name, pron: r() < 0.5 ? 'He' : 'She', town: pick(r, towns), craft: pick(r, CRAFTS), animal: pick(r, ANIMALS),
        }));
        folk.forEach((p, i) => { if (i > 0 && r() < 0.85) p.mentor = folk[Math.floor(r() * i)].name; });
        const valley = names(r, 1, person, taken)[0];
        const id = `mini${String(d).padStart(3, '0')}`;
        const paragraphs = folk.map((p) => {
            const mentees = joinNames(folk.filter((q) => q.mentor === p.name).map((q) => q.name));
            const [first, second, third] = pick(r, SOURCE.paragraphs);
            return [fill(first, p), fill(second, p), ...(mentees ? [fill(third, {...p, mentees})] : [])].join(' ');
        });
        const docFacts = [], questions = [];
        const values = {town: towns, craft: CRAFTS, animal: ANIMALS, mentor: folk.map((p) => p.name)};
        for (const p of folk) {
            for (const type of ['town', 'craft', 'animal', 'mentor']) {
                if (!p[type]) continue;
                docFacts.push([p.name, type, p[type]]);
                questions.push(question(r, type, p.name, p[type], values[type]));
            }
        }
        rows.push({article_id: id, title: `The Valley of ${valley}`, author: 'the miniature', article: paragraphs.join('\n\n'),
                   questions});
        facts.push({article_id: id, facts: docFacts});
    }
    return {rows, facts};
}

function main() {
    const opt = {docs: 40, people: 6, seed: 1, out: ''};
    const argv = process.argv.slice(2);
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, '');
        if (!(key in opt) || argv[i + 1] === undefined) {
            console.error(`world.js: unknown option ${argv[i]} (--out DIR --docs N --people N --seed N)`);
            process.exit(2);
        }
        opt[key] = key === 'out' ? argv[i + 1] : Number(argv[i + 1]);
    }
    if (!opt.out || !(opt.docs >= 1) || !(opt.people >= 5)) {
        console.error('world.js: --out is required, --docs at least 1, --people at least 5 (a question needs 3 other people)');
        process.exit(2);
    }
    const {rows, facts} = makeWorld(opt);
    fs.mkdirSync(opt.out, {recursive: true});
    const write = (name, list) => {   // atomically: a killed run leaves no half file
        const file = path.join(opt.out, name);
        fs.writeFileSync(file + '.tmp', list.map((x) => JSON.stringify(x)).join('\n') + '\n');
        fs.renameSync(file + '.tmp', file);
    };
    write('facts.jsonl', facts);
    write('corpus.jsonl', rows);
    const n = rows.reduce((k, row) => k + row.questions.length, 0);
    console.log(`world: ${opt.docs} documents, ${opt.docs * opt.people} people, ${n} questions -> ${opt.out}/corpus.jsonl`);
}

module.exports = {CRAFTS, ANIMALS};
if (require.main === module) main();
