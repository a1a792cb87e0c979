// Helpers of test/test_sft.sh, printing token ids space-separated:
//   node test/chat_tokens.js shard FILE [trained]   the tokens of a shard (version 3 read as
//                                                  doc/formats.md describes it), or only those
//                                                  its loss mask trains
//   node test/chat_tokens.js served PORT JSONL [N] llama-server's rendering of the first record's
//                                                  messages (the first N of them, with the
//                                                  generation prompt), tokenized by the server
//   node test/chat_tokens.js replies PORT JSONL END the server's tokens of the first record's
//                                                  assistant replies, trimmed, each followed by END
const fs = require("fs");
const http = require("http");

function post(port, path, body) {
    return new Promise((resolve, reject) => {
        const data = JSON.stringify(body);
        const req = http.request({host: "127.0.0.1", port, path, method: "POST",
                                  headers: {"Content-Type": "application/json", "Content-Length": Buffer.byteLength(data)}},
                                 (res) => {
                                     let text = "";
                                     res.on("data", (c) => (text += c));
                                     res.on("end", () => res.statusCode === 200 ? resolve(JSON.parse(text))
                                                                                : reject(new Error(`${path}: ${res.statusCode} ${text}`)));
                                 });
        req.on("error", reject);
        req.end(data);
    });
}

function shard(file, trainedOnly) {
    const b = fs.readFileSync(file);
    const h = (i) => b.readInt32LE(4 * i);
    if (h(0) !== 20240520 || h(1) !== 3) throw new Error(`${file}: not a version-3 shard`);
    const n = h(2), width = h(5), hasMask = h(6) & 1, out = [];
    for (let i = 0; i < n; i++) {
        const t = width === 2 ? b.readUInt16LE(1024 + 2 * i) : b.readUInt32LE(1024 + 4 * i);
        const trained = !hasMask || (b[1024 + n * width + (i >> 3)] >> (i & 7)) & 1;
        if (!trainedOnly || trained) out.push(t);
    }
    return out;
}

async function main() {
    const [mode, a, b, c] = process.argv.slice(2);
    if (mode === "shard") return shard(a, b === "trained");
    const messages = JSON.parse(fs.readFileSync(b, "utf8").split("\n")[0]).messages;
    if (mode === "replies") {
        let out = [];
        for (const m of messages.filter((m) => m.role === "assistant"))
            out = out.concat((await post(a, "/tokenize", {content: m.content.trim(), add_special: false})).tokens, [Number(c)]);
        return out;
    }
    const n = c ? Number(c) : messages.length;
    const {prompt} = await post(a, "/apply-template", {messages: messages.slice(0, n)});
    return (await post(a, "/tokenize", {content: prompt, add_special: true, parse_special: true})).tokens;
}

main().then((ids) => console.log(ids.join(" "))).catch((e) => {
    console.error(`chat_tokens: ${e.message}`);
    process.exit(1);
});
