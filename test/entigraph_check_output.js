// Checks an entigraph output against its corpus for test/test_entigraph_faults.sh
// (run with --max-triples all, so the whole plan is known here):
//   node entigraph_check_output.js [--partial] OUT.jsonl FAILURES.jsonl [SERVER_LOG] CORPUS.jsonl
// Every work item (each document's entity step; the pairs and triples of the
// documents whose entities were written) must be in the output exactly once, or
// else reported in the failures (with --partial, a run a budget stopped: at most
// once); nothing else may be in the output. With the
// server's log: the items the server never answered are the failed ones and all
// others are written, and retries waited as long as Retry-After said.
// Prints each problem and exits 1 when there is one.
'use strict';
const fs = require('fs');
const {normalizedEntities, DEAD, TOKENS} = require('./entigraph_fault_server.js');

const args = process.argv.slice(2);
const partial = args[0] === '--partial';
if (partial) args.shift();
const corpusPath = args.pop();
const [outPath, failPath, logPath] = args;
const problems = [];
const lines = (p) => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n').filter((l) => l !== '') : []);
const docs = lines(corpusPath).map((l) => JSON.parse(l));
const titles = new Map(docs.map((d) => [String(d.id), d.title]));

// the server's key of an item: the test prompts' user line
const keyOf = (r) => [r.kind === 'entities' ? 'ENTITIES' : r.kind.toUpperCase(), titles.get(r.doc_id)]
    .concat(r.kind === 'entities' ? [] : r.entities).join('\t');

const written = new Map(), failed = new Set();
let tokens = 0;
for (const [i, l] of lines(outPath).entries()) {
    let r;
    try { r = JSON.parse(l); } catch (e) { problems.push(`${outPath}:${i + 1}: not JSON`); continue; }
    const k = keyOf(r);
    written.set(k, (written.get(k) || 0) + 1);
    tokens += r.usage.completion_tokens;
    if (r.model !== 'scripted' || r.usage.completion_tokens !== TOKENS || !r.text)
        problems.push(`${outPath}:${i + 1}: model, usage or text wrong: ${l}`);
    if (r.kind === 'entities' && (JSON.stringify(r.entities) !== JSON.stringify(normalizedEntities(titles.get(r.doc_id)))
                                  || r.text !== `About ${titles.get(r.doc_id)}.`))
        problems.push(`${outPath}:${i + 1}: entity record wrong: ${l}`);
}
for (const l of lines(failPath)) {
    const r = JSON.parse(l);
    if (!r.reason || !(r.attempts >= 1)) problems.push(`failure without reason or attempts: ${l}`);
    failed.add(keyOf(r));
}

// the plan: entity steps, then all pairs and all triples of the known entities
const expected = [];
for (const d of docs) {
    expected.push(`ENTITIES\t${d.title}`);
    if (!written.has(`ENTITIES\t${d.title}`)) continue;
    const e = normalizedEntities(d.title);
    for (let a = 0; a < e.length; a++)
        for (let b = a + 1; b < e.length; b++) {
            expected.push(['PAIR', d.title, e[a], e[b]].join('\t'));
            for (let c = b + 1; c < e.length; c++) expected.push(['TRIPLE', d.title, e[a], e[b], e[c]].join('\t'));
        }
}
const want = new Set(expected);
for (const k of expected) {
    const n = written.get(k) || 0;
    if (n > 1) problems.push(`written ${n} times: ${k}`);
    if (n === 0 && !failed.has(k) && !partial) problems.push(`lost (neither written nor failed): ${k}`);
}
for (const k of written.keys()) if (!want.has(k)) problems.push(`not in the plan: ${k}`);

if (logPath) {
    const byKey = new Map();
    for (const l of lines(logPath)) {
        const e = JSON.parse(l);
        if (!byKey.has(e.key)) byKey.set(e.key, []);
        byKey.get(e.key).push(e);
    }
    for (const [k, events] of byKey) {
        const dead = DEAD.includes(events[0].script);
        if (dead && (written.has(k) || !failed.has(k))) problems.push(`script ${events[0].script} should fail: ${k}`);
        if (!dead && written.get(k) !== 1) problems.push(`script ${events[0].script} should be written once: ${k}`);
        // Retry-After: 1 s, retry-after-ms: 300 ms (5 ms slack for timer rounding)
        const wait = events[0].script === 'r429' ? 0.995 : events[0].script === 'r429ms' ? 0.295 : 0;
        for (let i = 1; i < events.length && i <= (events[0].script === 'r429' ? 1 : 2); i++)
            if (events[i].t - events[i - 1].t < wait)
                problems.push(`${events[0].script}: retried after ${(events[i].t - events[i - 1].t).toFixed(3)} s: ${k}`);
    }
}
for (const p of problems) console.log(`  ${p}`);
console.log(`checked ${expected.length} items: ${[...written.values()].reduce((a, b) => a + b, 0)} records, ` +
            `${failed.size} failed, ${tokens} tokens, ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
