// E2E: the official MCP TypeScript SDK *client* (Client + StdioClientTransport)
// against the real pforge binary over stdio: the examples and the full fixture.
//
// usage: node client.mjs PFORGE_BINARY SOURCE_DIR
//   (or env PFORGE and PF_SOURCE_DIR); PFORGE_BUILD (the meson build dir, where
//   the handler libraries are) is passed through to the servers.
// Run by tests/e2e/test_ts_client.sh, which installs the SDK (package-lock.json)
// into BUILD/ts-client and runs a copy of this file from there.
// Prints one line per check and ends with "N passed, N failed"; exits non-zero
// on any failure and gives up by itself after 60 s.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CallToolResultSchema,
  ErrorCode,
  LoggingMessageNotificationSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';

const PF = process.argv[2] ?? process.env.PFORGE;
const SRC = process.argv[3] ?? process.env.PF_SOURCE_DIR;
if (!PF || !SRC) {
  console.error('usage: client.mjs PFORGE_BINARY SOURCE_DIR');
  process.exit(2);
}
const OVERALL_MS = Number(process.env.TS_CLIENT_TIMEOUT_MS ?? 60000);
const REQ = { timeout: 15000 }; // per request

let passed = 0;
let failed = 0;
const children = new Set(); // every server process this script started

function check(name, cond, detail) {
  if (cond) {
    passed++;
    console.log(`ok - ${name}`);
  } else {
    failed++;
    let d = '';
    try {
      d = detail === undefined ? '' : ' ' + JSON.stringify(detail);
    } catch {
      d = ' ' + String(detail);
    }
    console.log(`not ok - ${name}${d.slice(0, 2000)}`);
  }
}

function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

const overall = setTimeout(() => {
  failed++;
  console.log(`not ok - overall timeout of ${OVERALL_MS} ms`);
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  finish();
}, OVERALL_MS);

// Runs fn; a throw is a failed check (with the error), not the end of the script.
async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, e instanceof McpError ? { code: e.code, message: e.message, data: e.data } : String(e?.stack ?? e));
  }
}

// Expects promise to reject with an McpError of the given code.
async function rejectsWith(name, promise, code, extra = () => true) {
  try {
    const r = await promise;
    check(name, false, { resolved: r });
  } catch (e) {
    check(name, e instanceof McpError && e.code === code && extra(e),
      { name: e?.constructor?.name, code: e?.code, message: e?.message });
  }
}

// The SDK (1.32.2) handles a notification in a microtask but a response
// synchronously, and forgets a request's progress handler with its response. So
// progress notifications that reach the client in the same read as the response
// (pforge writes them just before it, often in one write) are reported through
// onerror and dropped: modelcontextprotocol/typescript-sdk#2580. The checks
// below count those as delivered, in order, when they were otherwise right.
const RACE = /^Received a progress notification for an unknown token: (.*)$/s;

// Starts `pforge serve CONFIG` through the SDK and connects (initialize +
// notifications/initialized). Returns { client, transport, exited } where
// exited resolves to the child's {code, signal}.
async function connect(config) {
  const transport = new StdioClientTransport({
    command: PF,
    args: ['serve', config],
    // everything (PFORGE_BUILD, ASAN_OPTIONS, UBSAN_OPTIONS, ...) passes through
    env: { ...process.env },
    stderr: 'inherit',
  });
  const client = new Client({ name: 'pforge-e2e-ts-client', version: '0.1.0' },
    { capabilities: {}, enforceStrictCapabilities: true });
  const errors = [];
  const dropped = []; // progress notifications the SDK dropped (see RACE)
  client.onerror = (e) => {
    const m = String(e?.message ?? e);
    const race = m.match(RACE);
    if (race) {
      dropped.push(JSON.parse(race[1]).params);
      console.log(`# SDK dropped a progress notification (typescript-sdk#2580): ${race[1]}`);
    } else {
      errors.push(m);
      console.log(`# client error: ${m}`);
    }
  };
  await client.connect(transport, REQ);
  const child = transport._process; // the SDK keeps it private; only to see how it exits
  let exited = Promise.resolve({ code: null, signal: 'unknown' });
  if (child) {
    children.add(child);
    exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }));
  }
  return { client, transport, exited, errors, dropped };
}

// Closes the client (stdin EOF first; the SDK escalates to signals after 2 s)
// and checks that the server exited by itself with status 0.
async function close(name, conn) {
  check(`${name}: the SDK reported no transport or parse errors`, conn.errors.length === 0, conn.errors);
  await conn.client.close();
  const how = await conn.exited;
  check(`${name}: server exits 0 on stdin EOF`, how.code === 0 && how.signal === null, how);
}

// All pages of a paginated list (the SDK returns one page per call).
async function listAll(fn, key) {
  const items = [];
  let cursor;
  let pages = 0;
  do {
    const r = await fn(cursor === undefined ? undefined : { cursor }, REQ);
    items.push(...r[key]);
    cursor = r.nextCursor;
    pages++;
  } while (cursor !== undefined && pages < 100);
  return { items, pages };
}

const textOf = (r, i = 0) => r?.content?.[i]?.text;
const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// ---- examples/hello ----------------------------------------------------------------------------
await step('hello', async () => {
  const c = await connect(path.join(SRC, 'examples/hello/pforge.yaml'));
  const { client } = c;
  const info = client.getServerVersion();
  check('hello: initialize, serverInfo', info?.name === 'hello-world' && info?.version === '0.1.0', info);
  check('hello: tools capability', client.getServerCapabilities()?.tools !== undefined,
    client.getServerCapabilities());
  const tools = await client.listTools(undefined, REQ);
  check('hello: listTools gives greet', eq(tools.tools.map((t) => t.name), ['greet']), tools);
  const schema = tools.tools[0]?.inputSchema;
  check('hello: greet inputSchema', schema?.type === 'object' && eq(schema.required, ['name']), schema);
  let r = await client.callTool({ name: 'greet', arguments: { name: 'Ada' } }, undefined, REQ);
  check('hello: greet with the default greeting', textOf(r) === 'Hello, Ada!' && !r.isError, r);
  r = await client.callTool({ name: 'greet', arguments: { name: 'Ada', greeting: 'Hi' } }, undefined, REQ);
  check('hello: greet with a greeting', textOf(r) === 'Hi, Ada!', r);
  r = await client.callTool({ name: 'greet', arguments: {} }, undefined, REQ);
  check('hello: greet without the required name is an isError result', r.isError === true, r);
  await rejectsWith('hello: unknown tool rejects with McpError -32602',
    client.callTool({ name: 'no_such_tool', arguments: {} }, undefined, REQ), ErrorCode.InvalidParams);
  const p = await client.ping(REQ);
  check('hello: ping', eq(p, {}), p);
  await close('hello', c);
});

// ---- examples/calculator -----------------------------------------------------------------------
await step('calculator', async () => {
  const c = await connect(path.join(SRC, 'examples/calculator/pforge.yaml'));
  const { client } = c;
  const tools = await client.listTools(undefined, REQ);
  check('calculator: listTools gives calculate', eq(tools.tools.map((t) => t.name), ['calculate']), tools);
  let r = await client.callTool({ name: 'calculate', arguments: { operation: 'multiply', a: 1.5, b: 4 } },
    undefined, REQ);
  check('calculator: multiply, text and structuredContent',
    textOf(r) === '6' && eq(r.structuredContent, { result: 6 }) && !r.isError, r);
  r = await client.callTool({ name: 'calculate', arguments: { operation: 'divide', a: 1, b: 4 } }, undefined, REQ);
  check('calculator: divide', textOf(r) === '0.25' && eq(r.structuredContent, { result: 0.25 }), r);
  r = await client.callTool({ name: 'calculate', arguments: { operation: 'divide', a: 1, b: 0 } }, undefined, REQ);
  check('calculator: division by zero is isError', r.isError === true && textOf(r) === 'Division by zero', r);
  r = await client.callTool({ name: 'calculate', arguments: { operation: 'pow', a: 1, b: 2 } }, undefined, REQ);
  check('calculator: unknown operation is isError', r.isError === true, r);
  await close('calculator', c);
});

// ---- examples/bench ----------------------------------------------------------------------------
await step('bench', async () => {
  const c = await connect(path.join(SRC, 'examples/bench/pforge.yaml'));
  const { client } = c;
  const tools = await client.listTools(undefined, REQ);
  check('bench: listTools gives echo, add', eq(tools.tools.map((t) => t.name), ['echo', 'add']), tools);
  let r = await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }, undefined, REQ);
  check('bench: add', textOf(r) === '5', r);
  const msg = 'héllo "wörld"\n\u2028😀';
  r = await client.callTool({ name: 'echo', arguments: { message: msg } }, undefined, REQ);
  check('bench: echo round-trips text', textOf(r) === msg, r);
  // many requests in flight at once through one transport
  const many = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    client.callTool({ name: 'add', arguments: { a: i, b: 1 } }, undefined, REQ)));
  check('bench: 200 concurrent calls each get their own answer',
    many.every((x, i) => textOf(x) === String(i + 1)), many.map((x) => textOf(x)).slice(0, 10));
  await close('bench', c);
});

// ---- tests/e2e/full (the fixture) --------------------------------------------------------------
const FIXTURE = path.join(SRC, 'tests/e2e/full');
const LOGO = readFileSync(path.join(FIXTURE, 'content/logo.bin')).toString('base64');

await step('full', async () => {
  const c = await connect(path.join(FIXTURE, 'pforge.yaml'));
  const { client } = c;
  const info = client.getServerVersion();
  check('full: serverInfo', info?.name === 'full-fixture' && info?.version === '1.2.3' && info?.title === 'Full Fixture', info);
  check('full: instructions', client.getInstructions() === 'Use the tools wisely.', client.getInstructions());
  const caps = client.getServerCapabilities() ?? {};
  check('full: capabilities tools, resources, prompts, logging, completions',
    ['tools', 'resources', 'prompts', 'logging', 'completions'].every((k) => caps[k] !== undefined), caps);

  const logs = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logs.push(n.params));

  // tools, all pages; then the first page again so that the SDK caches the
  // validator of sum's outputSchema (it keeps only the last listed page's).
  const tl = await listAll((p, o) => client.listTools(p, o), 'tools');
  check('full: listTools paginates (9 tools, page_size 2)',
    tl.pages === 5 && eq(tl.items.map((t) => t.name), ['everything', 'sum', 'bad_sum', 'broken_structured',
      'slow', 'chatty', 'fail_code', 'fail_result', 'annotated']), tl);
  const sumTool = tl.items.find((t) => t.name === 'sum');
  check('full: sum declares an outputSchema', sumTool?.outputSchema?.type === 'object', sumTool);
  const ann = tl.items.find((t) => t.name === 'annotated');
  check('full: annotations and title', ann?.title === 'Annotated Tool' && ann?.annotations?.readOnlyHint === true
    && ann?.annotations?.destructiveHint === false, ann);
  await client.listTools(undefined, REQ);
  check('full: the SDK holds an output validator for sum',
    typeof client.getToolOutputValidator?.('sum') === 'function');

  let r = await client.callTool({ name: 'sum', arguments: { a: 1, b: 2.5 } }, undefined, REQ);
  check('full: structuredContent validated by the SDK against outputSchema',
    eq(r.structuredContent, { sum: 3.5 }) && !r.isError, r);
  r = await client.callTool({ name: 'everything', arguments: {} }, undefined, REQ);
  check('full: every content type parses (default argument applied)',
    textOf(r) === 'text for world' && r.content.length >= 5, r.content?.map((x) => x.type));
  r = await client.callTool({ name: 'fail_code', arguments: {} }, undefined, REQ);
  check('full: failing handler is isError', r.isError === true, r);
  await rejectsWith('full: unknown tool rejects with McpError -32602',
    client.callTool({ name: 'no_such_tool', arguments: {} }, undefined, REQ), ErrorCode.InvalidParams,
    (e) => e.message.includes('no_such_tool'));

  // logging + progress from a blocking tool
  await client.setLoggingLevel('debug', REQ);
  check('full: setLoggingLevel debug', true);
  const prog = [];
  r = await client.callTool({ name: 'slow', arguments: { steps: 4, step_ms: 50 } }, CallToolResultSchema,
    { ...REQ, onprogress: (p) => prog.push(p) });
  check('full: slow tool result', textOf(r) === 'slept 4 steps', r);
  // what onprogress saw, then what the SDK dropped for this request (its token is the request id)
  const progressOf = (seen) => {
    const token = c.dropped.length ? c.dropped[0].progressToken : undefined;
    const lost = c.dropped.filter((d) => d.progressToken === token).map(({ progressToken, ...rest }) => rest);
    c.dropped.length = 0;
    return { seen, lost, all: [...seen, ...lost] };
  };
  await new Promise((res) => setTimeout(res, 100)); // let the SDK report what it dropped
  let pr = progressOf(prog);
  check('full: onprogress: slow tool progress 1..4 of 4, in order, before the response',
    eq(pr.all.map((p) => p.progress), [1, 2, 3, 4]) && pr.all.every((p) => p.total === 4 && p.message === 'working')
    && pr.seen.length >= 1, pr);
  const slowLogs = logs.filter((l) => String(l.data).startsWith('slow '));
  check('full: log notifications at debug level',
    slowLogs.length === 8 && slowLogs.some((l) => l.level === 'debug') && slowLogs.some((l) => l.level === 'info'),
    slowLogs);
  await client.setLoggingLevel('warning', REQ);
  logs.length = 0;
  r = await client.callTool({ name: 'slow', arguments: { steps: 2, step_ms: 10 } }, undefined, REQ);
  await new Promise((res) => setTimeout(res, 100));
  check('full: setLoggingLevel warning filters debug/info', textOf(r) === 'slept 2 steps'
    && logs.every((l) => !['debug', 'info', 'notice'].includes(l.level)), logs);
  const chattyProg = [];
  r = await client.callTool({ name: 'chatty', arguments: {} }, undefined, { ...REQ, onprogress: (p) => chattyProg.push(p) });
  await new Promise((res) => setTimeout(res, 100));
  pr = progressOf(chattyProg);
  check('full: chatty progress 1/2 "half", 2/2 (token: the SDK\'s request id)',
    eq(pr.all, [{ progress: 1, total: 2, message: 'half' }, { progress: 2, total: 2 }]), pr);
  // cancellation through an AbortSignal: the SDK sends notifications/cancelled
  const ac = new AbortController();
  const slowCall = client.callTool({ name: 'slow', arguments: { steps: 100, step_ms: 50 } }, undefined,
    { ...REQ, signal: ac.signal });
  setTimeout(() => ac.abort('stop'), 150);
  try {
    await slowCall;
    check('full: aborted call rejects', false);
  } catch (e) {
    check('full: aborted call rejects', true);
  }
  const p = await client.ping(REQ);
  check('full: ping after a cancelled call', eq(p, {}), p);

  // resources
  const rl = await listAll((q, o) => client.listResources(q, o), 'resources');
  check('full: listResources, all pages by nextCursor',
    rl.pages === 4 && eq(rl.items.map((x) => x.uri), ['docs://inline', 'docs://hello', 'docs://logo', 'docs://raw',
      'app://status', 'app://blob', 'app://empty']), rl);
  const one = await client.listResources(undefined, REQ);
  check('full: listResources returns one page with nextCursor', one.resources.length === 2
    && typeof one.nextCursor === 'string', one);
  const tpl = await client.listResourceTemplates(undefined, REQ);
  check('full: listResourceTemplates', eq(tpl.resourceTemplates.map((t) => t.uriTemplate),
    ['notes://{folder}/{id}', 'files://{name}']), tpl);
  r = await client.readResource({ uri: 'docs://inline' }, REQ);
  check('full: readResource text', eq(r.contents, [{ uri: 'docs://inline', mimeType: 'text/plain',
    text: 'Inline text resource' }]), r);
  r = await client.readResource({ uri: 'docs://logo' }, REQ);
  check('full: readResource blob', eq(r.contents, [{ uri: 'docs://logo', mimeType: 'image/png', blob: LOGO }]), r);
  r = await client.readResource({ uri: 'notes://inbox/42' }, REQ);
  check('full: readResource through a template', r.contents?.[0]?.text === 'note 42 in inbox', r);
  await rejectsWith('full: readResource of an unknown URI rejects with -32002',
    client.readResource({ uri: 'docs://nope' }, REQ), -32002);
  r = await client.subscribeResource({ uri: 'docs://inline' }, REQ);
  check('full: subscribeResource', eq(r, {}), r);
  r = await client.unsubscribeResource({ uri: 'docs://inline' }, REQ);
  check('full: unsubscribeResource', eq(r, {}), r);

  // prompts
  const pl = await listAll((q, o) => client.listPrompts(q, o), 'prompts');
  check('full: listPrompts, all pages', eq(pl.items.map((x) => x.name), ['greeting', 'conversation', 'plain']), pl);
  r = await client.getPrompt({ name: 'greeting', arguments: { name: 'Ada', mood: 'happy' } }, REQ);
  check('full: getPrompt with arguments', r.messages?.[0]?.content?.text === 'Hello Ada, you seem happy! Style: formal'
    && r.description === 'Greets someone', r);
  r = await client.getPrompt({ name: 'conversation', arguments: { topic: 'cats' } }, REQ);
  check('full: getPrompt with image and embedded resources', r.messages?.length === 5
    && r.messages[1].content.type === 'image' && r.messages[4].content.resource?.blob === LOGO, r);
  await rejectsWith('full: getPrompt without a required argument rejects with -32602',
    client.getPrompt({ name: 'greeting', arguments: {} }, REQ), ErrorCode.InvalidParams);

  // completion
  r = await client.complete({ ref: { type: 'ref/prompt', name: 'greeting' }, argument: { name: 'name', value: 'al' } }, REQ);
  check('full: complete a prompt argument', eq(r.completion, { values: ['alice', 'albert'], total: 2, hasMore: false }), r);
  r = await client.complete({ ref: { type: 'ref/resource', uri: 'notes://{folder}/{id}' },
    argument: { name: 'id', value: 'v' }, context: { arguments: { folder: 'inbox' } } }, REQ);
  check('full: complete a template variable (100 values, hasMore)', r.completion.values.length === 100
    && r.completion.total === 105 && r.completion.hasMore === true, r.completion.total);

  await close('full', c);
});

clearTimeout(overall);
finish();
