// Checks that the miniature's stand-in LM states only what each source document
// states, two independent ways:
//   names  every person or town of the world named in a generated text is named in
//          that text's own source document (no other document's names);
//   facts  every sentence of the text is one of language.js's templates, and every
//          fact it states is one of the document's facts in DIR/facts.jsonl (the
//          world's truth, written by world.js, not read back from the documents).
// It also checks that each source document states exactly its facts.
//   node test/miniature_leak_check.js WORLD_DIR GENERATED.jsonl...
// Prints one summary line; exits 1 after listing (at most 10) violations as FILE:LINE.
'use strict';
const fs = require('fs');
const path = require('path');
const {parse} = require('../scripts/miniature/language');

const jsonl = (file) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

function main() {
    const [world, ...generated] = process.argv.slice(2);
    if (!world || !generated.length) {
        console.error('usage: node test/miniature_leak_check.js WORLD_DIR GENERATED.jsonl...');
        process.exit(2);
    }
    const docs = new Map(jsonl(path.join(world, 'corpus.jsonl')).map((d) => [d.article_id, d]));
    const truth = new Map(jsonl(path.join(world, 'facts.jsonl')).map((d) => [d.article_id, new Set(d.facts.map((f) => f.join('\t')))]));
    const worldNames = new Set();
    for (const d of jsonl(path.join(world, 'facts.jsonl')))
        for (const [s, rel, v] of d.facts) worldNames.add(s), (rel === 'town' || rel === 'mentor') && worldNames.add(v);
    const problems = [];
    const bad = (where, what) => problems.push(`${where}: ${what}`);

    for (const [id, d] of docs) {
        const {facts, unmatched} = parse(d.article);
        const got = new Set(facts.map((f) => f.join('\t')));
        if (unmatched.length) bad(`${world}/corpus.jsonl ${id}`, `unparsed source sentence "${unmatched[0]}"`);
        if (got.size !== truth.get(id).size || [...got].some((f) => !truth.get(id).has(f)))
            bad(`${world}/corpus.jsonl ${id}`, 'the source does not state exactly the facts of facts.jsonl');
    }
    let records = 0, stated = 0;
    for (const file of generated) {
        jsonl(file).forEach((rec, i) => {
            const where = `${file}:${i + 1}`;
            const doc = docs.get(rec.doc_id);
            if (!doc) return bad(where, `unknown document ${rec.doc_id}`);
            records++;
            const text = rec.text;
            const inSource = new Set(doc.article.match(/[A-Z][a-z]+/g));
            for (const w of text.match(/[A-Z][a-z]+/g) || [])
                if (worldNames.has(w) && !inSource.has(w)) bad(where, `names ${w}, who is not in document ${rec.doc_id}`);
            const {facts, unmatched} = parse(text);
            for (const u of unmatched) bad(where, `a sentence no template states: "${u}"`);
            for (const f of facts) {
                stated++;
                if (!truth.get(rec.doc_id).has(f.join('\t'))) bad(where, `states ${f.join(' ')}, which document ${rec.doc_id} does not`);
            }
        });
    }
    for (const p of problems.slice(0, 10)) console.log(p);
    console.log(`leak check: ${records} generated records, ${stated} facts stated, ${problems.length} violations`);
    process.exit(problems.length ? 1 : 0);
}

main();
