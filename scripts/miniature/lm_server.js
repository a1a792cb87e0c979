// The miniature's stand-in for the strong LM: an OpenAI-compatible chat-completions
// server on loopback that answers `entigraph`'s real requests (the prompts of
// doc/prompts) the way a good LM would, from the document in the request alone:
//   entities step  the people and towns of the document, and a one-line summary;
//   pair / triple  notes on how the entities relate: every fact that touches them in
//                  varied phrasings, the facts between them twice (both directions of
//                  "trained"), sometimes one more fact of the same document, and
//                  questions with answers;
//   rephrase       the chunk retold in the prompt's style, sentence for sentence.
// It reads facts with language.js's parser and writes only facts it read from the
// request, so it cannot state what the document does not (test/test_miniature.sh
// checks this). The same request always gets the same answer.
//
//   node scripts/miniature/lm_server.js PORT_FILE
// listens on a free port of 127.0.0.1 and writes the port to PORT_FILE.
'use strict';
const http = require('http');
const fs = require('fs');
const {NOTES, REPHRASE, fill, joinNames, parse} = require('./language');
const {rng, hash, pick, shuffle} = require('./random');

const EXTRA_FACT = 0.3;   // chance that notes add one fact from elsewhere in the document

// which request this is, from the system prompt's wording (doc/prompts/*.txt)
function kindOf(system) {
    const kinds = [['salient entities', 'entities'], ['two entities', 'pair'], ['three entities', 'triple'],
                   ['young child', 'easy'], ['expert readers', 'hard'], ['encyclopedia', 'wiki'],
                   ['questions and answers', 'qa']];
    const hit = kinds.find(([words]) => system.includes(words));
    return hit ? hit[1] : null;
}

const titleOf = (user) => ((/^Title: (.+)$/m.exec(user) || /"([^"\n]+)"/.exec(user) || [])[1] || 'the document');
const key = (f) => f.join('\t');

function entities(user) {
    const {facts} = parse(user);
    const people = [...new Set(facts.filter((f) => f[1] !== 'mentor').map((f) => f[0]))];
    const towns = [...new Set(facts.filter((f) => f[1] === 'town').map((f) => f[2]))];
    const summary = fill(NOTES.frame[1], {title: titleOf(user), names: joinNames(people)});
    return JSON.stringify({summary, entities: [...people, ...towns]});
}

// one fact in one of its note phrasings
function say(r, [subject, relation, value]) {
    return fill(pick(r, NOTES[relation]), {name: subject, [relation]: value});
}
function ask(r, [subject, relation, value]) {
    return fill(pick(r, NOTES.questions[relation]), {name: subject, [relation]: value});
}

function notes(user, r) {
    const names = (user.split(/\nEntities:\n/)[1] || '').split('\n').filter((l) => l.startsWith('- ')).map((l) => l.slice(2));
    if (names.length < 2) throw new Error('no "Entities:" list of two or three names in the user message');
    const {facts} = parse(user);
    const title = titleOf(user);
    const touches = (f, e) => f[0] === e || f[2] === e;
    const between = facts.filter((f) => names.filter((e) => touches(f, e)).length >= 2);
    const around = shuffle(r, facts.filter((f) => names.some((e) => touches(f, e)) && !between.includes(f)));
    const stated = [...between, ...around];
    // the facts between the entities twice, in two phrasings; then each one's own facts
    const body = [...between.flatMap((f) => [say(r, f), say(r, f)]), ...around.map((f) => say(r, f))];
    const parts = [[fill(pick(r, NOTES.frame.slice(0, 2)), {title, names: joinNames(names)}), ...body].join(' ')];
    const elsewhere = facts.filter((f) => !stated.includes(f));
    if (elsewhere.length && r() < EXTRA_FACT) parts.push(`${fill(NOTES.frame[2], {title})} ${say(r, pick(r, elsewhere))}`);
    if (stated.length) {
        const quiz = shuffle(r, stated).slice(0, 2).map((f) => ask(r, f));
        parts.push([fill(NOTES.frame[3], {title}), ...quiz].join('\n'));
    }
    return parts.join('\n\n');
}

// the chunk retold paragraph by paragraph: each person's facts in the style's sentences
function rephrase(user, style) {
    const out = [];
    for (const para of user.split(/\n\s*\n/)) {
        const {facts, pronouns} = parse(para);
        const own = facts.find((f) => f[1] === 'town');
        if (!own) continue;
        const name = own[0];
        const values = {name, pron: pronouns[name] || 'He', mentees: joinNames(facts.filter((f) => f[2] === name).map((f) => f[0]))};
        for (const [s, rel, v] of facts) if (s === name) values[rel] = v;
        const done = REPHRASE[style].filter((t) => [...t.matchAll(/\{(\w+)\}/g)].every((m) => values[m[1]]))
            .map((t) => fill(t, values));
        out.push(done.join(style === 'qa' ? '\n' : ' '));
    }
    if (!out.length) throw new Error('no fact in the passage');
    return out.join('\n\n');
}

function answer(body) {
    const msgs = JSON.parse(body).messages;
    const system = (msgs.find((m) => m.role === 'system') || {}).content || '';
    const user = msgs[msgs.length - 1].content;
    const kind = kindOf(system);
    if (!kind) throw new Error('not a prompt of doc/prompts (entities, pair, triple or a rephrase style)');
    if (kind === 'entities') return entities(user);
    if (kind === 'pair' || kind === 'triple') return notes(user, rng(hash(user)));
    return rephrase(user, kind);
}

function main() {
    const portFile = process.argv[2];
    if (!portFile) {
        console.error('usage: node lm_server.js PORT_FILE');
        process.exit(2);
    }
    const reply = (res, status, obj) => {
        const text = JSON.stringify(obj);
        res.writeHead(status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text)});
        res.end(text);
    };
    const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => {
            let content;
            try {
                content = answer(body);
            } catch (e) {
                console.error(`lm_server.js: ${e.message}`);
                return reply(res, 400, {error: {message: `lm_server.js: ${e.message}`}});
            }
            // about four characters a token, as English text in a GPT-2-style vocabulary
            const usage = {prompt_tokens: Math.ceil(body.length / 4), completion_tokens: Math.ceil(content.length / 4)};
            usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
            reply(res, 200, {id: 'mini', object: 'chat.completion', model: 'miniature-lm', usage,
                             choices: [{index: 0, message: {role: 'assistant', content}, finish_reason: 'stop'}]});
        });
    });
    server.keepAliveTimeout = 30000;
    server.listen(0, '127.0.0.1', () => {
        fs.writeFileSync(portFile + '.tmp', String(server.address().port));
        fs.renameSync(portFile + '.tmp', portFile);
    });
}

module.exports = {answer};
if (require.main === module) main();
