// otlp_client.mjs: an application instrumented with the OpenTelemetry JS
// SDK, exporting to oct with the SDK's own OTLP exporters (tests/test_otlp.c).
//
//	node otlp_client.mjs NODE_MODULES traces-json|traces-proto|metrics|logs
//
// The endpoint and compression come from the environment, as an app's do
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_COMPRESSION). Prints one
// JSON line: the exporter's result code (0: success) and the hex ids of
// the spans made, so that the test can find their rows.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const [modules, what] = process.argv.slice(2);
const require = createRequire(join(modules, '..', 'otlp_client.cjs'));
const { SpanKind, SpanStatusCode } = require('@opentelemetry/api');
const { SeverityNumber } = require('@opentelemetry/api-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
const { OTLPTraceExporter: TraceJson } =
	require('@opentelemetry/exporter-trace-otlp-http');
const { OTLPTraceExporter: TraceProto } =
	require('@opentelemetry/exporter-trace-otlp-proto');
const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
const { OTLPMetricExporter } =
	require('@opentelemetry/exporter-metrics-otlp-http');
const { LoggerProvider } = require('@opentelemetry/sdk-logs');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');

const resource = resourceFromAttributes({ 'service.name': 'chat-app',
	'deployment.environment': 'test' });
const T0 = 1796500000000;	// ms: the spans' start, fixed for the test

function done(code, extra) {
	console.log(JSON.stringify({ code, ...extra }));
	process.exit(code === 0 ? 0 : 1);
}

function exported(exporter, items, extra) {
	exporter.export(items, (r) => {
		exporter.shutdown().finally(() => done(r.code, { ...extra,
		    error: r.error ? String(r.error) : undefined }));
	});
}

// Collects ended spans or emitted log records for one explicit export.
class Collect {
	constructor() { this.items = []; }
	onStart() {}
	onEnd(span) { this.items.push(span); }
	onEmit(rec) { this.items.push(rec); }
	forceFlush() { return Promise.resolve(); }
	shutdown() { return Promise.resolve(); }
}

function ids(span) {
	const c = span.spanContext();
	return { trace_id: c.traceId, span_id: c.spanId };
}

function traces(proto) {
	const col = new Collect();
	const tp = new BasicTracerProvider({ resource, spanProcessors: [col] });
	const tr = tp.getTracer('oct-test', '1.2.3');
	const chat = tr.startSpan('chat gpt-4o-mini', { kind: SpanKind.CLIENT,
	    startTime: new Date(T0), attributes: {
		'gen_ai.operation.name': 'chat',
		'gen_ai.provider.name': 'openai',
		'gen_ai.request.model': 'gpt-4o-mini',
		'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
		'gen_ai.usage.input_tokens': 21,
		'gen_ai.usage.output_tokens': 9,
		'gen_ai.conversation.id': 'conv-1',
		'gen_ai.request.temperature': 0.5,
		'gen_ai.response.finish_reasons': ['stop'],
		'gen_ai.input.messages': '[{"role":"user","parts":[{"type":' +
		    '"text","content":"hi"}]}]' } });
	chat.end(new Date(T0 + 1250));
	const emb = tr.startSpan('embeddings text-embedding-3-small', {
	    kind: SpanKind.CLIENT, startTime: new Date(T0 + 2000), attributes: {
		'gen_ai.operation.name': 'embeddings',
		'gen_ai.system': 'openai',
		'gen_ai.request.model': 'text-embedding-3-small',
		'gen_ai.usage.input_tokens': 5 } });
	emb.end(new Date(T0 + 2040));
	const http = tr.startSpan('GET /health', { kind: SpanKind.SERVER,
	    startTime: new Date(T0), attributes: { 'http.request.method': 'GET' } });
	http.end(new Date(T0 + 3));
	const fail = tr.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT,
	    startTime: new Date(T0 + 5000), attributes: {
		'gen_ai.operation.name': 'chat',
		'gen_ai.provider.name': 'openai',
		'gen_ai.request.model': 'gpt-4o' } });
	const err = new Error('429 Rate limit reached');
	err.name = 'RateLimitError';
	fail.recordException(err, new Date(T0 + 5300));
	fail.setStatus({ code: SpanStatusCode.ERROR,
	    message: '429 Rate limit reached' });
	fail.end(new Date(T0 + 5300));
	const exp = proto ? new TraceProto() : new TraceJson();
	exported(exp, col.items, { chat: ids(chat), embeddings: ids(emb),
	    http: ids(http), failed: ids(fail) });
}

class Reader extends MetricReader {
	async onForceFlush() {}
	async onShutdown() {}
}

async function metrics() {
	const reader = new Reader();
	const mp = new MeterProvider({ resource, readers: [reader] });
	const m = mp.getMeter('oct-test', '1.2.3');
	const h = m.createHistogram('gen_ai.client.token.usage', {
	    unit: '{token}', advice: { explicitBucketBoundaries: [1, 16, 256] } });
	h.record(21, { 'gen_ai.token.type': 'input',
	    'gen_ai.request.model': 'gpt-4o-mini' });
	h.record(9, { 'gen_ai.token.type': 'input',
	    'gen_ai.request.model': 'gpt-4o-mini' });
	m.createCounter('http.server.requests').add(3, { route: '/' });
	const { resourceMetrics } = await reader.collect();
	exported(new OTLPMetricExporter(), resourceMetrics, {});
}

function logs() {
	const col = new Collect();
	const lp = new LoggerProvider({ resource, processors: [col] });
	const log = lp.getLogger('oct-test', '1.2.3');
	log.emit({ severityNumber: SeverityNumber.ERROR, severityText: 'ERROR',
	    body: 'payment service unreachable', timestamp: new Date(T0 + 7000),
	    attributes: { 'exception.type': 'ConnectError',
		'exception.stacktrace': 'at connect (pay.js:10)',
		'order.id': 42 } });
	log.emit({ severityNumber: SeverityNumber.INFO, body: 'all fine',
	    timestamp: new Date(T0 + 7001) });
	exported(new OTLPLogExporter(), col.items, {});
}

if (what === 'traces-json' || what === 'traces-proto')
	traces(what === 'traces-proto');
else if (what === 'metrics')
	metrics().catch((e) => done(2, { error: String(e) }));
else if (what === 'logs')
	logs();
else
	done(2, { error: 'usage: otlp_client.mjs traces-json|traces-proto|' +
	    'metrics|logs' });
