// A scripted OpenAI-compatible server on loopback for test/test_eval_server.sh:
//   node eval_scripted_server.js MODE LOG PORT_FILE [DELAY_MS]
//   MODE clean    every request answered (after DELAY_MS)
//        faults   the questions whose text holds [500], [429], [badjson], [cut], [dead]
//                 get that fault on their first attempt ([dead]: on every attempt)
//        echo401  401 with the Authorization header in the body (key redaction)
// Endpoints: /v1/completions (the question is the prompt's last "Question:" line),
// /v1/chat/completions (the same from the last user message), /v1/embeddings (a
// 64-dimensional bag of words, hashed), /v1/rerank (relevance = shared words, plus 100
// for a document holding RERANKME; results sent worst first).
// Summaries (eval --summaries, chat): "Summarize the article "T" ..." gets four sentences
// about T; the judge's claim split gets the summary's sentences as claims (the first
// time for each summary a reply without JSON, retried), the support step marks the
// claims holding "two" unsupported.
// A completion answers "Answer: <letter>" with the letter after "ans=" in the question
// text, or for "vote=XYZ" the letter X, Y or Z by the request's seed % 3, or no letter
// for "ans=none". LOG gets one JSON line per request: {path, question, seed, attempt,
// action, prompt | messages | input}.
'use strict';
const http = require('http');
const fs = require('fs');

function main() {
    const [mode, logPath, portFile, delayArg] = process.argv.slice(2);
    const delay = Number(delayArg || 0);
    const log = fs.openSync(logPath, 'a');
    const attempts = new Map();

    function reply(res, status, obj, headers) {
        const body = typeof obj === 'string' ? obj : JSON.stringify(obj);
        res.writeHead(status, Object.assign({'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)},
                                            headers || {}));
        res.end(body);
    }
    function words(s) { return s.toLowerCase().match(/[a-z0-9]+/g) || []; }
    function embed(s) {
        const v = new Array(64).fill(0);
        for (const w of words(s)) {
            let h = 2166136261;
            for (const c of w) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
            v[h % 64] += 1;
        }
        v[63] += 0.01;   // never the zero vector
        return v;
    }
    function answerFor(question, seed) {
        let m = /vote=([A-Z]+)/.exec(question);
        if (m) return `Thinking about it.\nAnswer: ${m[1][seed % m[1].length]}`;
        m = /ans=([A-Za-z]+)/.exec(question);
        if (!m || m[1] === 'none') return 'I cannot remember this story at all.';
        return `Option A looks tempting, but the text says otherwise.\nAnswer: ${m[1]}`;
    }

    function summaryReply(text) {
        let m = /^Summarize the article "([^"]*)"/.exec(text);
        if (m) return {log: {step: 'summary', title: m[1]},
                       content: `A summary of ${m[1]}. Fact one about ${m[1]}. Fact two about ${m[1]}. Fact three about ${m[1]}.`};
        if (text.includes('Split it into atomic claims')) {
            const summary = text.slice(text.indexOf('Summary:\n') + 9);
            const attempt = (attempts.get(summary) || 0) + 1;
            attempts.set(summary, attempt);
            const claims = summary.split(/\.\s*/).filter((c) => c).map((c) => c + '.');
            return {log: {step: 'claims', attempt},
                    content: attempt === 1 ? 'Sure! Here are the claims.' : '```json\n' + JSON.stringify({claims}) + '\n```'};
        }
        if (text.includes('numbered claims')) {
            const claims = text.slice(text.indexOf('Claims:\n') + 8).split('\n').filter((l) => /^\d+\. /.test(l));
            return {log: {step: 'support', n: claims.length, document: text.includes('Mara kept the lighthouse')},
                    content: JSON.stringify({supported: claims.map((c) => !c.includes('two'))})};
        }
        return null;
    }

    const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => {
            if (mode === 'echo401') return reply(res, 401, {error: {message: `bad key: ${req.headers.authorization}`}});
            let r;
            try { r = JSON.parse(body); } catch (e) { return reply(res, 400, {error: {message: 'bad request body'}}); }
            const entry = {path: req.url};
            const act = () => {
                if (req.url === '/v1/embeddings') {
                    entry.input = r.input;
                    fs.writeSync(log, JSON.stringify(entry) + '\n');
                    const inputs = Array.isArray(r.input) ? r.input : [r.input];
                    return reply(res, 200, {object: 'list', model: r.model,
                                            data: inputs.map((s, i) => ({object: 'embedding', index: i, embedding: embed(s)}))});
                }
                if (req.url === '/v1/rerank') {
                    entry.query = r.query;
                    fs.writeSync(log, JSON.stringify(entry) + '\n');
                    const q = new Set(words(r.query));
                    const scored = r.documents.map((d, i) => ({index: i, relevance_score:
                        words(d).filter((w) => q.has(w)).length + (d.includes('RERANKME') ? 100 : 0)}));
                    scored.sort((a, b) => a.relevance_score - b.relevance_score);
                    return reply(res, 200, {model: r.model, results: scored});
                }
                const chat = req.url === '/v1/chat/completions';
                const judged = chat && summaryReply(r.messages[r.messages.length - 1].content);
                if (judged) {
                    Object.assign(entry, judged.log);
                    fs.writeSync(log, JSON.stringify(entry) + '\n');
                    return reply(res, 200, {id: 'x', object: 'chat.completion', model: 'scripted',
                                            choices: [{index: 0, message: {role: 'assistant', content: judged.content}, finish_reason: 'stop'}],
                                            usage: {prompt_tokens: 50, completion_tokens: 7, total_tokens: 57}});
                }
                if (!chat && req.url !== '/v1/completions') return reply(res, 404, {error: {message: 'no such endpoint'}});
                const text = chat ? r.messages[r.messages.length - 1].content : r.prompt;
                const qs = text.split('\n').filter((l) => l.startsWith('Question: '));
                const question = qs.length ? qs[qs.length - 1].slice(10) : '';
                const key = `${question}\t${r.seed}`;
                const attempt = (attempts.get(key) || 0) + 1;
                attempts.set(key, attempt);
                let action = 'ok';
                if (mode === 'faults') {
                    const m = /\[(500|429|badjson|cut|dead)\]/.exec(question);
                    if (m && (attempt === 1 || m[1] === 'dead')) action = m[1] === 'dead' ? '500' : m[1];
                }
                Object.assign(entry, {question, seed: r.seed, attempt, action, temperature: r.temperature,
                                      max_tokens: r.max_tokens, stop: r.stop, model: r.model});
                if (chat) entry.messages = r.messages;
                else entry.prompt = r.prompt;
                fs.writeSync(log, JSON.stringify(entry) + '\n');
                const content = answerFor(question, r.seed);
                const choice = chat ? {index: 0, message: {role: 'assistant', content}, finish_reason: 'stop'}
                                    : {index: 0, text: content, finish_reason: 'stop'};
                const full = {id: 'x', object: chat ? 'chat.completion' : 'text_completion', model: 'scripted',
                              choices: [choice], usage: {prompt_tokens: 50, completion_tokens: 7, total_tokens: 57}};
                switch (action) {
                case 'ok': return reply(res, 200, full);
                case '500': return reply(res, 500, 'Internal Server Error');
                case '429': return reply(res, 429, {error: {message: 'rate limited'}}, {'retry-after-ms': '100'});
                case 'badjson': return reply(res, 200, '{"choices": [');
                case 'cut':
                    res.writeHead(200, {'Content-Type': 'application/json', 'Content-Length': 500});
                    res.write('{"choices"');
                    return setTimeout(() => res.socket.destroy(), 20);
                }
            };
            delay ? setTimeout(act, delay) : act();
        });
    });
    server.listen(0, '127.0.0.1', () => fs.writeFileSync(portFile, String(server.address().port)));
}

main();
