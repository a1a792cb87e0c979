// A scripted OpenAI-compatible server on loopback for test/test_entigraph_plan.sh
// and test/test_entigraph_batch.sh: chat completions whose usage counts are real
// (prompt tokens: GPT-2's r50k encoding of every message plus OpenAI's framing of
// 3 per message and 3 for the reply; completion tokens: the reply's r50k tokens),
// and the Files and Batches endpoints of the Batch API.
//   node entigraph_batch_server.js STATE_DIR PORT_FILE ENTITIES [SCRIPT]
// ENTITIES: names in every entity reply. SCRIPT (comma-separated) scripts the
// batches by the order they are created: "ok", "expire" (ends expired, half of
// its items done), "partial" (every third item in the error file), "fail"
// (status failed, no files). STATE_DIR/log.jsonl gets one line per API call and
// per batch created. The state lives in memory: the tests kill the client, not it.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const cache = process.env.SCPT_CACHE ||
  path.join(process.env.XDG_CACHE_HOME || path.join(process.env.HOME, '.cache'), 'scpt');
const r50k = require(path.join(cache, 'npm', 'node_modules', 'gpt-tokenizer', 'cjs', 'encoding', 'r50k_base.js'));
const count = (text) => r50k.encode(text, {disallowedSpecial: new Set()}).length;

// Or, as vLLM's offline batch runner would, answer a request file into a results file:
//   node entigraph_batch_server.js --run-batch IN OUT ENTITIES [SKIP]
// (every SKIP-th line left out, as a runner that died part way would).
const offlineRunner = process.argv[2] === '--run-batch';
const [stateDir, portFile, entitiesArg, scriptArg] = process.argv.slice(offlineRunner ? 3 : 2);
const nEntities = Number(entitiesArg);
const script = (scriptArg || '').split(',').filter(Boolean);
const log = offlineRunner ? null : fs.openSync(path.join(stateDir, 'log.jsonl'), 'a');
const note = (o) => fs.writeSync(log, JSON.stringify(o) + '\n');

// A chat completion for a request body: the entity step (it asks for JSON) gets
// nEntities names from the document's title, the others a short note.
function chat(req) {
    const msgs = req.messages;
    const prompt = msgs.reduce((n, m) => n + count(m.content) + 3, 3);
    const user = msgs[msgs.length - 1].content;
    const title = (/"([^"]*)"/.exec(user) || [, 'untitled'])[1];
    const content = req.response_format
        ? JSON.stringify({summary: `About ${title}.`,
                          entities: Array.from({length: nEntities}, (_, i) => `Name ${i + 1} of ${title}`)})
        : `Notes on how these relate in ${title}.`;
    const completion = count(content);
    return {id: 'chatcmpl-x', object: 'chat.completion', model: req.model,
            choices: [{index: 0, message: {role: 'assistant', content}, finish_reason: 'stop'}],
            usage: {prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion}};
}

// ---- Files and Batches: state kept in STATE_DIR so a test can look ----------------
const files = new Map(), batches = new Map();
let nextId = 1, batchesCreated = 0;

function newFile(purpose, filename, content) {
    const id = `file-${nextId++}`;
    files.set(id, {id, purpose, filename, content});
    return {id, object: 'file', bytes: Buffer.byteLength(content), created_at: 0, filename, purpose};
}

function batchJson(b) {
    const {id, status, input_file_id, output_file_id, error_file_id, endpoint, completion_window} = b;
    return {id, object: 'batch', endpoint, input_file_id, completion_window, status,
            output_file_id: output_file_id || null, error_file_id: error_file_id || null,
            request_counts: b.counts};
}

// Runs a batch when it is first polled after creation: each line answered,
// errored or (expired) left out, by the batch's script.
function runBatch(b) {
    const lines = files.get(b.input_file_id).content.split('\n').filter(Boolean);
    const out = [], err = [];
    lines.forEach((line, i) => {
        const r = JSON.parse(line);
        if (b.script === 'expire' && i >= lines.length / 2) {
            err.push({id: `batch_req_${i}`, custom_id: r.custom_id, response: null,
                      error: {code: 'batch_expired', message: 'This request could not be executed before the completion window expired.'}});
        } else if (b.script === 'partial' && i % 3 === 1) {
            err.push({id: `batch_req_${i}`, custom_id: r.custom_id,
                      response: {status_code: 500, request_id: `req_${i}`, body: {error: {message: 'server error'}}}, error: null});
        } else {
            out.push({id: `batch_req_${i}`, custom_id: r.custom_id,
                      response: {status_code: 200, request_id: `req_${i}`, body: chat(r.body)}, error: null});
        }
    });
    const jsonl = (a) => a.map((o) => JSON.stringify(o) + '\n').join('');
    if (out.length) b.output_file_id = newFile('batch_output', 'out.jsonl', jsonl(out)).id;
    if (err.length) b.error_file_id = newFile('batch_output', 'err.jsonl', jsonl(err)).id;
    b.status = b.script === 'expire' ? 'expired' : b.script === 'fail' ? 'failed' : 'completed';
    b.counts = {total: lines.length, completed: out.length, failed: err.length};
}

function reply(res, status, obj) {
    const body = typeof obj === 'string' ? obj : JSON.stringify(obj);
    res.writeHead(status, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)});
    res.end(body);
}

// the parts of a multipart/form-data body: name -> {filename, data}
function multipart(body, type) {
    const boundary = (/boundary=("?)([^";]+)\1/.exec(type) || [])[2];
    const parts = {};
    if (!boundary) return parts;
    for (const chunk of body.split(`--${boundary}`)) {
        const head = chunk.indexOf('\r\n\r\n');
        if (head < 0) continue;
        const headers = chunk.slice(0, head);
        const name = (/name="([^"]*)"/.exec(headers) || [])[1];
        const filename = (/filename="([^"]*)"/.exec(headers) || [])[1];
        if (name) parts[name] = {filename, data: chunk.slice(head + 4, chunk.length - 2)};
    }
    return parts;
}

if (offlineRunner) {
    const skip = Number(scriptArg || 0);
    const out = fs.readFileSync(stateDir, 'utf8').split('\n').filter(Boolean).map(JSON.parse)
        .filter((r, i) => !skip || i % skip !== skip - 1)
        .map((r, i) => JSON.stringify({id: `vllm-${i}`, custom_id: r.custom_id,
                                       response: {status_code: 200, request_id: `vllm-batch-${i}`, body: chat(r.body)}, error: null}) + '\n');
    fs.writeFileSync(portFile, out.join(''));
    process.exit(0);
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const url = req.url.replace(/^\/v1/, '');
        note({method: req.method, url});
        let m;
        if (req.method === 'POST' && url === '/chat/completions') return reply(res, 200, chat(JSON.parse(body)));
        if (req.method === 'POST' && url === '/files') {
            const p = multipart(body, req.headers['content-type'] || '');
            if (!p.file || !p.purpose || p.purpose.data !== 'batch') return reply(res, 400, {error: {message: 'need file and purpose=batch'}});
            return reply(res, 200, newFile('batch', p.file.filename, p.file.data));
        }
        if (req.method === 'GET' && (m = /^\/files\/([^/]+)\/content$/.exec(url))) {
            const f = files.get(m[1]);
            return f ? reply(res, 200, f.content) : reply(res, 404, {error: {message: 'no such file'}});
        }
        if (req.method === 'POST' && url === '/batches') {
            const r = JSON.parse(body);
            if (!files.has(r.input_file_id) || r.endpoint !== '/v1/chat/completions' || r.completion_window !== '24h')
                return reply(res, 400, {error: {message: 'bad batch request'}});
            const id = `batch_${nextId++}`;
            const b = {id, input_file_id: r.input_file_id, endpoint: r.endpoint, completion_window: r.completion_window,
                       status: 'validating', script: script[batchesCreated++] || 'ok', polls: 0,
                       counts: {total: 0, completed: 0, failed: 0}};
            batches.set(id, b);
            note({created: id, script: b.script, input_file_id: r.input_file_id});
            return reply(res, 200, batchJson(b));
        }
        if (req.method === 'GET' && /^\/batches(\?.*)?$/.test(url))
            return reply(res, 200, {object: 'list', data: [...batches.values()].reverse().map(batchJson), has_more: false});
        if (req.method === 'GET' && (m = /^\/batches\/([^/]+)$/.exec(url))) {
            const b = batches.get(m[1]);
            if (!b) return reply(res, 404, {error: {message: 'no such batch'}});
            // validating, then in_progress, then done: the client has to poll
            if (++b.polls === 1) b.status = 'in_progress';
            else if (b.polls === 2 && b.script === 'fail') b.status = 'failed';
            else if (b.polls === 2) runBatch(b);
            return reply(res, 200, batchJson(b));
        }
        reply(res, 404, {error: {message: `no route ${req.method} ${url}`}});
    });
});
server.listen(0, '127.0.0.1', () => {
    fs.writeFileSync(portFile + '.tmp', String(server.address().port));
    fs.renameSync(portFile + '.tmp', portFile);
});
