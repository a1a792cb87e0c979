// The reference client for dev/bench_entigraph.sh: the same Rephrase requests
// as `entigraph --rephrase --styles qa` sends for a corpus whose documents are
// one chunk each, from node's own http module with N in flight, nothing else
// (no retries, no output). Prints {requests, completion_tokens, seconds, cpu_s}.
//   node dev/entigraph_ref_client.js URL CORPUS.jsonl CONCURRENCY MAX_TOKENS
'use strict';
const http = require('http');
const fs = require('fs');

const [url, corpusPath, concurrency, maxTokens] = process.argv.slice(2);
const prompt = fs.readFileSync(`${__dirname}/../doc/prompts/rephrase_qa.txt`, 'utf8');
const section = (name) => prompt.split(/^@(?:system|user)\s*$/m)[name === 'system' ? 1 : 2].trim();
const docs = fs.readFileSync(corpusPath, 'utf8').trim().split('\n').map(JSON.parse);
const fill = (t, d) => t.replaceAll('{title}', d.title).replaceAll('{author}', '').replaceAll('{year}', '').replaceAll('{chunk}', d.text.trim());
const bodies = docs.map((d) => JSON.stringify({
    model: 'tiny', temperature: 1, max_tokens: Number(maxTokens),
    messages: [{role: 'system', content: fill(section('system'), d)}, {role: 'user', content: fill(section('user'), d)}]}));

const agent = new http.Agent({keepAlive: true, maxSockets: Number(concurrency)});
const t0 = process.hrtime.bigint(), cpu0 = process.cpuUsage();
let next = 0, tokens = 0;
function one() {
    if (next >= bodies.length) return Promise.resolve();
    const body = bodies[next++];
    return new Promise((resolve, reject) => {
        const req = http.request(`${url}/chat/completions`, {method: 'POST', agent,
            headers: {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body)}}, (res) => {
            let data = '';
            res.on('data', (c) => { data += c; });
            res.on('end', () => {
                if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${data}`));
                tokens += JSON.parse(data).usage.completion_tokens;
                resolve();
            });
        });
        req.on('error', reject);
        req.end(body);
    }).then(one);
}
Promise.all(Array.from({length: Number(concurrency)}, one)).then(() => {
    const cpu = process.cpuUsage(cpu0);
    console.log(JSON.stringify({requests: bodies.length, completion_tokens: tokens,
                                seconds: Number(process.hrtime.bigint() - t0) / 1e9, cpu_s: (cpu.user + cpu.system) / 1e6}));
    agent.destroy();
}, (e) => { console.error(e.message); process.exit(1); });
