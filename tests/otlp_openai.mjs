// otlp_openai.mjs: the npm openai client, instrumented by someone else,
// calling a small fake of the OpenAI chat and embeddings API (in this
// process), its spans and metrics exported to oct over OTLP/HTTP
// (tests/test_otlp.c).
//
//	node otlp_openai.mjs NODE_MODULES genai|openinference
//
// genai: @opentelemetry/instrumentation-openai (OpenTelemetry GenAI
// conventions), spans as protobuf, metrics as JSON. openinference:
// @arizeai/openinference-instrumentation-openai, spans as JSON. Three
// calls: a chat, a chat the fake answers 429, an embedding; undici's
// instrumentation adds the HTTP client span of each, a child of the LLM
// span (oct ignores them). The endpoint
// comes from OTEL_EXPORTER_OTLP_ENDPOINT. Prints {"code":0,...} once oct
// took everything.
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [modules, what] = process.argv.slice(2);
const require = createRequire(join(modules, '..', 'otlp_openai.cjs'));
const { context } = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } =
	require('@opentelemetry/context-async-hooks');
const { UndiciInstrumentation } =
	require('@opentelemetry/instrumentation-undici');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter: TraceJson } =
	require('@opentelemetry/exporter-trace-otlp-http');
const { OTLPTraceExporter: TraceProto } =
	require('@opentelemetry/exporter-trace-otlp-proto');
const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
const { OTLPMetricExporter } =
	require('@opentelemetry/exporter-metrics-otlp-http');

const resource = resourceFromAttributes({ 'service.name': 'support-bot' });

function fail(e) {
	console.log(JSON.stringify({ code: 2, error: String(e && e.stack || e) }));
	process.exit(1);
}

// The fake API: chat answers once, then 429; embeddings answer.
let chats = 0;
function fake(req, res) {
	let body = '';
	req.on('data', (c) => { body += c; });
	req.on('end', () => {
		const q = JSON.parse(body || '{}');
		res.setHeader('Content-Type', 'application/json');
		if (req.url.endsWith('/chat/completions') && chats++ > 0) {
			res.statusCode = 429;
			res.end(JSON.stringify({ error: { message: 'Rate limit ' +
			    'reached for gpt-4o-mini', type: 'requests',
			    code: 'rate_limit_exceeded' } }));
		} else if (req.url.endsWith('/chat/completions'))
			res.end(JSON.stringify({ id: 'chatcmpl-1',
			    object: 'chat.completion', created: 1796500000,
			    model: 'gpt-4o-mini-2024-07-18', choices: [{ index: 0,
			    message: { role: 'assistant', content: 'Hello!' },
			    finish_reason: 'stop' }], usage: { prompt_tokens: 11,
			    completion_tokens: 4, total_tokens: 15 } }));
		else if (req.url.endsWith('/embeddings'))
			res.end(JSON.stringify({ object: 'list', model: q.model,
			    data: [{ object: 'embedding', index: 0,
			    embedding: [0.1, 0.2] }], usage: { prompt_tokens: 3,
			    total_tokens: 3 } }));
		else {
			res.statusCode = 404;
			res.end('{}');
		}
	});
}

class Collect {
	constructor() { this.items = []; }
	onStart() {}
	onEnd(span) { this.items.push(span); }
	forceFlush() { return Promise.resolve(); }
	shutdown() { return Promise.resolve(); }
}

class Reader extends MetricReader {
	async onForceFlush() {}
	async onShutdown() {}
}

function exportAll(exporter, items) {
	return new Promise((resolve, reject) => exporter.export(items, (r) =>
	    r.code === 0 ? resolve() : reject(r.error || new Error('export'))));
}

async function calls(OpenAI, port) {
	const client = new OpenAI({ apiKey: 'sk-test', maxRetries: 0,
	    baseURL: `http://127.0.0.1:${port}/v1` });
	const msgs = [{ role: 'system', content: 'You are terse.' },
	    { role: 'user', content: 'Say hello' }];
	await client.chat.completions.create({ model: 'gpt-4o-mini',
	    messages: msgs });
	try {
		await client.chat.completions.create({ model: 'gpt-4o-mini',
		    messages: msgs });
	} catch (e) {
		if (e.status !== 429)
			throw e;
	}
	await client.embeddings.create({ model: 'text-embedding-3-small',
	    input: 'hello' });
}

async function main() {
	const col = new Collect();
	const tp = new BasicTracerProvider({ resource, spanProcessors: [col] });
	const reader = new Reader();
	const mp = new MeterProvider({ resource, readers: [reader] });
	let inst;
	if (what === 'genai') {
		const { OpenAIInstrumentation } =
		    require('@opentelemetry/instrumentation-openai');
		inst = new OpenAIInstrumentation();
		inst.setMeterProvider(mp);
	} else {
		const { OpenAIInstrumentation } =
		    require('@arizeai/openinference-instrumentation-openai');
		inst = new OpenAIInstrumentation();
	}
	inst.setTracerProvider(tp);
	inst.enable();
	context.setGlobalContextManager(
	    new AsyncLocalStorageContextManager().enable());
	const undici = new UndiciInstrumentation();
	undici.setTracerProvider(tp);
	undici.enable();
	const OpenAI = require('openai');
	if (what !== 'genai')
		inst.manuallyInstrument(OpenAI);
	const server = createServer(fake).listen(0, '127.0.0.1');
	await new Promise((r) => server.once('listening', r));
	await calls(OpenAI.default || OpenAI, server.address().port);
	server.close();
	const spans = col.items;
	await exportAll(what === 'genai' ? new TraceProto() : new TraceJson(),
	    spans);
	if (what === 'genai') {
		// an app's own metric beside the instrumentation's histograms
		mp.getMeter('app').createCounter('app.jobs').add(1);
		const { resourceMetrics } = await reader.collect();
		await exportAll(new OTLPMetricExporter(), resourceMetrics);
	}
	console.log(JSON.stringify({ code: 0, spans: spans.length,
	    names: spans.map((s) => s.name) }));
	process.exit(0);
}

if (what !== 'genai' && what !== 'openinference')
	fail('usage: otlp_openai.mjs NODE_MODULES genai|openinference');
main().catch(fail);
