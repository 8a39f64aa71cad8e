// Load client for bench/serve.sh: plain fetch + SSE against a running
// `nib serve`. Prints one JSON object on stdout; serve.sh turns it into
// bench/RESULTS-serve.md.
//
//   node bench/serve_load.mjs bench --port P --clients C --requests R --max-tokens N
//     C clients at once (closed loop: each sends its next request when the
//     last one ends), R streamed greedy completions each. Per request: time
//     to first token (request sent -> first chunk carrying text), completion
//     tokens (from stream_options.include_usage), wall time.
//   node bench/serve_load.mjs soak --port P --pid PID --minutes M [--clients C]
//     C workers send a random mix for M minutes: normal completions, streamed
//     chats, streams cancelled after a few chunks, malformed JSON (expects
//     400). Samples VmRSS of PID every 5 s; counts every unexpected status
//     (any 5xx, or a status other than the one the request should get) and
//     transport failures.
import { readFileSync } from 'node:fs';

function parseArgs(argv) {
  const a = { mode: argv[0], port: 8080, clients: 1, requests: 3, maxTokens: 64, minutes: 1, pid: 0, promptWords: 48 };
  for (let i = 1; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-(.)/g, (_, c) => c.toUpperCase());
    a[k] = Number(argv[i + 1]);
  }
  return a;
}

const WORDS = ('the cat sat on a mat and the dog ran to the park where children played with a red ball under ' +
  'a tall tree while birds sang and the sun was warm on the green grass near a quiet river').split(' ');

// A prompt of n words that differs from the first word on between requests,
// so no request's prompt comes from another's prefix cache.
function prompt(id, n) {
  const w = [`Story ${id}:`];
  let x = (id * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    w.push(WORDS[x % WORDS.length]);
  }
  return w.join(' ');
}

// Reads an SSE body, calling onEvent(obj) per data line; returns true at [DONE].
async function readSSE(res, onEvent, signal) {
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trimEnd();
      buf = buf.slice(nl + 1);
      if (!line.startsWith('data: ')) continue;
      const data = line.slice(6);
      if (data === '[DONE]') return true;
      if (onEvent(JSON.parse(data)) === false) return false;
    }
    if (signal?.aborted) return false;
  }
  return false;
}

async function streamedCompletion(base, id, a) {
  const body = {
    prompt: prompt(id, a.promptWords), max_tokens: a.maxTokens, temperature: 0, stream: true,
    stream_options: { include_usage: true }, logit_bias: { 2: -100 }, // EOS off: every request makes max_tokens
  };
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttft = null;
  let tokens = 0, promptTokens = 0;
  const done = await readSSE(res, (ev) => {
    if (ttft === null && ev.choices?.length && ev.choices[0].text) ttft = performance.now() - t0;
    if (ev.usage) tokens = ev.usage.completion_tokens, promptTokens = ev.usage.prompt_tokens;
  });
  if (!done) throw new Error('stream ended without [DONE]');
  return { ttft_ms: ttft, tokens, prompt_tokens: promptTokens, wall_ms: performance.now() - t0 };
}

async function bench(a) {
  const base = `http://127.0.0.1:${a.port}`;
  const reqs = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: a.clients }, async (_, c) => {
    for (let r = 0; r < a.requests; r++) reqs.push(await streamedCompletion(base, 1000 * (a.seed || 1) + 100 * c + r, a));
  }));
  const wall = (performance.now() - t0) / 1000;
  const tokens = reqs.reduce((s, r) => s + r.tokens, 0);
  const ttft = reqs.map((r) => r.ttft_ms).sort((x, y) => x - y);
  const pct = (p) => ttft[Math.min(ttft.length - 1, Math.ceil((p / 100) * ttft.length) - 1)];
  // Per request: tokens after the first over the time after the first (decode rate one client sees).
  const decode = reqs.map((r) => (r.tokens - 1) / ((r.wall_ms - r.ttft_ms) / 1000));
  return {
    clients: a.clients, requests: reqs.length, max_tokens: a.maxTokens, wall_s: wall, tokens,
    prompt_words: a.promptWords, prompt_tokens: reqs.reduce((s, r) => s + r.prompt_tokens, 0),
    aggregate_tps: tokens / wall, ttft_p50_ms: pct(50), ttft_p99_ms: pct(99), ttft_max_ms: ttft[ttft.length - 1],
    per_request_decode_tps: decode.reduce((s, x) => s + x, 0) / decode.length,
  };
}

// VmRSS, and its anonymous (heap: KV cache, buffers) and file-backed (the
// mmapped model) parts, in KiB.
function rssKiB(pid) {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k) => Number(new RegExp(`${k}:\\s+(\\d+)\\s+kB`).exec(st)?.[1] ?? NaN);
  return { rss_kib: kib('VmRSS'), anon_kib: kib('RssAnon'), file_kib: kib('RssFile') };
}

// One soak request of the given kind; resolves to the tally key.
async function soakOne(base, kind, id, stats) {
  const post = (path, body, signal) => fetch(`${base}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body, signal,
  });
  const want = (res, status) => {
    if (res.status !== status) {
      stats.unexpected[`${kind}:${res.status}`] = (stats.unexpected[`${kind}:${res.status}`] || 0) + 1;
      if (res.status >= 500) stats.server_errors++;
      return false;
    }
    return true;
  };
  if (kind === 'normal') {
    const res = await post('/v1/completions', JSON.stringify({ prompt: prompt(id, 16), max_tokens: 16, temperature: 0.7, seed: id }));
    if (want(res, 200)) {
      const j = await res.json();
      stats.tokens += j.usage.completion_tokens;
    } else await res.text();
  } else if (kind === 'stream') {
    const res = await post('/v1/chat/completions', JSON.stringify({
      messages: [{ role: 'user', content: prompt(id, 12) }], max_tokens: 24, stream: true, stream_options: { include_usage: true },
    }));
    if (want(res, 200)) {
      const done = await readSSE(res, (ev) => { if (ev.usage) stats.tokens += ev.usage.completion_tokens; });
      if (!done) stats.unexpected['stream:no [DONE]'] = (stats.unexpected['stream:no [DONE]'] || 0) + 1;
    } else await res.text();
  } else if (kind === 'cancel') {
    const ac = new AbortController();
    const res = await post('/v1/completions', JSON.stringify({ prompt: prompt(id, 16), max_tokens: 200, stream: true, logit_bias: { 2: -100 } }), ac.signal);
    if (want(res, 200)) {
      let n = 0;
      try {
        await readSSE(res, () => { if (++n >= 3) { ac.abort(); return false; } }, ac.signal);
      } catch (e) {
        if (e.name !== 'AbortError') throw e;
      }
    } else await res.text();
  } else {
    const bodies = ['{"prompt": "hi", "max_tokens": ', '{"messages": [{"role": "user", "content": 5}]}', '[1,2,3]',
      '{"prompt": "\\ud800", "max_tokens": "x"}', '{"prompt":"hi","temperature":"hot"}', '\u0000\u0001garbage'];
    const res = await post(Math.random() < 0.5 ? '/v1/completions' : '/v1/chat/completions', bodies[id % bodies.length]);
    want(res, 400);
    await res.text();
  }
  stats.by_kind[kind] = (stats.by_kind[kind] || 0) + 1;
}

async function soak(a) {
  const base = `http://127.0.0.1:${a.port}`;
  const kinds = ['normal', 'stream', 'cancel', 'malformed'];
  const stats = { by_kind: {}, unexpected: {}, server_errors: 0, transport_errors: 0, tokens: 0 };
  const rss = [];
  const t0 = performance.now();
  const end = t0 + a.minutes * 60000;
  const sample = () => rss.push({ t_s: Math.round((performance.now() - t0) / 1000), ...rssKiB(a.pid) });
  sample();
  const timer = setInterval(sample, 5000);
  let id = 0;
  await Promise.all(Array.from({ length: a.clients || 6 }, async () => {
    while (performance.now() < end) {
      const n = id++;
      const kind = kinds[n % kinds.length];
      try {
        await soakOne(base, kind, n, stats);
      } catch (e) {
        stats.transport_errors++;
        stats.unexpected[`${kind}:${e.cause?.code || e.message}`] = (stats.unexpected[`${kind}:${e.cause?.code || e.message}`] || 0) + 1;
      }
    }
  }));
  clearInterval(timer);
  sample();
  const health = await fetch(`${base}/health`).then((r) => r.status).catch(() => 0);
  return { minutes: a.minutes, clients: a.clients || 6, requests: id, ...stats, health, rss };
}

const a = parseArgs(process.argv.slice(2));
const out = a.mode === 'soak' ? await soak(a) : await bench(a);
process.stdout.write(JSON.stringify(out) + '\n');
