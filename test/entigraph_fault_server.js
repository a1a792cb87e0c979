// A scripted OpenAI chat-completions server on loopback for
// test/test_entigraph_faults.sh. It reads the item from the user message (the
// test prompts in test/data/entigraph_prompts make it one tab-separated line)
// and answers each distinct item by a script of faults:
//   node entigraph_fault_server.js MODE LOG PORT_FILE [DELAY_MS]
//   MODE clean   every request answered at once (after DELAY_MS)
//        faults  the first items seen get one fault script each (FAULTS below)
//        echo401 401 with the Authorization header in the body (key redaction),
//                the first at once and the rest after DELAY_MS
// LOG gets one JSON line per request: {key, script, attempt, t, action}.
// Loaded with require(), it exports what the checker needs to know.
'use strict';
const http = require('http');
const fs = require('fs');

const TOKENS = 10;   // completion tokens per answer, so budgets are exact

// the entity reply for a document: five names, one a case/space variant of another
function entityNames(title) {
    return [`Alpha of ${title}`, `Beta of ${title}`, `Gamma of ${title}`, `Delta of ${title}`, `  alpha of ${title} `];
}
// after the client's normalisation (trim, first of case-insensitive repeats)
function normalizedEntities(title) { return entityNames(title).slice(0, 4); }

// Scripts: the action of attempt 1, 2, ...; past the end, 'ok'. Entity items and
// relation items are assigned in the order first seen, the rest are 'ok'.
const ENTITY_FAULTS = {
    ents_not_json: ['ents_not_json'],
    ents_wrong_shape: ['ents_wrong_shape', 'ents_not_strings'],
    ents_dead: Array(100).fill('ents_not_json'),   // retried, then reported failed
};
const RELATION_FAULTS = {
    r429: ['429_retry_after_1s'],
    r429ms: ['429_retry_after_ms', '429_retry_after_ms'],
    e500: ['500'],
    e503: ['503', '503'],
    trunc: ['truncated'],
    badjson: ['invalid_json'],
    slow: ['slow'],
    cut: ['close_mid_body'],
    reset: ['close_no_answer'],
    headcut: ['close_mid_headers'],
    empty: ['empty_content'],
    dead500: Array(100).fill('500'),               // retried, then reported failed
};
const DEAD = ['ents_dead', 'dead500'];

function main() {
    const [mode, logPath, portFile, delayArg] = process.argv.slice(2);
    const delay = Number(delayArg || 0);
    const log = fs.openSync(logPath, 'a');
    const scripts = new Map();   // key -> {script, attempts}
    const left = {ent: Object.keys(ENTITY_FAULTS), rel: Object.keys(RELATION_FAULTS)};
    const t0 = Date.now();
    let n401 = 0;

    function reply(res, status, body, headers) {
        res.writeHead(status, Object.assign({'Content-Type': 'application/json',
                                             'Content-Length': Buffer.byteLength(body)}, headers || {}));
        res.end(body);
    }
    function completion(content) {
        return JSON.stringify({id: 'x', object: 'chat.completion', model: 'scripted',
                               choices: [{index: 0, message: {role: 'assistant', content}, finish_reason: 'stop'}],
                               usage: {prompt_tokens: 5, completion_tokens: TOKENS, total_tokens: 5 + TOKENS}});
    }
    function answer(fields) {
        if (fields[0] === 'ENTITIES')
            return JSON.stringify({summary: `About ${fields[1]}.`, entities: entityNames(fields[1])});
        return `Text on ${fields.slice(1).join(' / ')}.`;
    }

    const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => {
            let fields;
            try {
                const msgs = JSON.parse(body).messages;
                fields = msgs[msgs.length - 1].content.split('\t');
            } catch (e) {
                return reply(res, 400, JSON.stringify({error: {message: 'bad request body'}}));
            }
            const key = fields.join('\t');
            if (mode === 'echo401')   // the first at once, the others after DELAY_MS: still in flight then
                return setTimeout(() => reply(res, 401, JSON.stringify({error: {message: `bad key: ${req.headers.authorization}`}})),
                                  n401++ ? delay : 0);
            let s = scripts.get(key);
            if (!s) {
                const pool = fields[0] === 'ENTITIES' ? left.ent : left.rel;
                const name = mode === 'faults' && pool.length ? pool.shift() : 'ok';
                const table = fields[0] === 'ENTITIES' ? ENTITY_FAULTS : RELATION_FAULTS;
                s = {script: name, steps: table[name] || [], attempts: 0};
                scripts.set(key, s);
            }
            const action = s.steps[s.attempts++] || 'ok';
            fs.writeSync(log, JSON.stringify({key, script: s.script, attempt: s.attempts, t: (Date.now() - t0) / 1000,
                                              action}) + '\n');
            const full = completion(answer(fields));
            const act = () => {
                switch (action) {
                case 'ok': return reply(res, 200, full);
                case '429_retry_after_1s':
                    return reply(res, 429, JSON.stringify({error: {message: 'rate limited'}}), {'Retry-After': '1'});
                case '429_retry_after_ms':
                    return reply(res, 429, JSON.stringify({error: {message: 'rate limited'}}), {'retry-after-ms': '300'});
                case '500': return reply(res, 500, 'Internal Server Error');
                case '503': return reply(res, 503, JSON.stringify({error: {message: 'overloaded'}}));
                case 'truncated':   // promises the whole body, sends half, hangs up
                    res.writeHead(200, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(full)});
                    res.write(full.slice(0, full.length >> 1));
                    return setTimeout(() => res.socket.destroy(), 20);
                case 'close_mid_body':   // chunked, dropped in the middle
                    res.writeHead(200, {'Content-Type': 'application/json'});
                    res.write(full.slice(0, 30));
                    return setTimeout(() => res.socket.destroy(), 20);
                case 'close_no_answer': return req.socket.destroy();
                case 'close_mid_headers':
                    req.socket.write('HTTP/1.1 200 OK\r\nContent-Type: appl');
                    return setTimeout(() => req.socket.destroy(), 20);
                case 'invalid_json': return reply(res, 200, full.slice(0, full.length - 7) + ']]');
                case 'empty_content': return reply(res, 200, completion(''));
                case 'slow': return setTimeout(() => { if (!res.destroyed) reply(res, 200, full); }, 4000);
                case 'ents_not_json': return reply(res, 200, completion('Here are the entities: Alpha, Beta.'));
                case 'ents_wrong_shape':
                    return reply(res, 200, completion(JSON.stringify({summary: 's', entities: 'Alpha, Beta'})));
                case 'ents_not_strings':
                    return reply(res, 200, completion(JSON.stringify({summary: 's', entities: [1, 2]})));
                }
                throw new Error(`no action ${action}`);
            };
            if (delay > 0) setTimeout(act, delay);
            else act();
        });
    });
    server.keepAliveTimeout = 30000;
    server.listen(0, '127.0.0.1', () => {
        fs.writeFileSync(portFile + '.tmp', String(server.address().port));
        fs.renameSync(portFile + '.tmp', portFile);
    });
}

module.exports = {normalizedEntities, DEAD, TOKENS};
if (require.main === module) main();
