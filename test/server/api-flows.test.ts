// Flows over real loopback HTTP, on both stores: POST /api/flows inserts a tree in one transaction
// (parents waiting, leaves available), a worker runs each parent after its children, and every
// refusal — unknown job, invalid payload, unknown dependency, over the bounds, malformed node —
// stores nothing.
import { validate as validateOpenApi } from '@readme/openapi-parser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../../src/job/define-job.js';
import { createNightshift, type Nightshift } from '../../src/nightshift.js';
import { MAX_FLOW_REQUEST_DEPTH, MAX_FLOW_REQUEST_JOBS } from '../../src/server/api-schemas.js';
import { STORE_KINDS, type OpenedStore } from '../fault/both-stores.js';
import { callJson, storedJobs, type Reply } from '../support/http-call.js';

const step = defineJob({ name: 'flow.step', schema: z.object({ n: z.number() }), handler: async ({ n }) => n });
const sync = defineJob({ name: 'flow.sync', concurrencyKey: 'orgId', perKey: 1, handler: async () => undefined });

interface ReplyNode {
  job: { id: string; name: string; state: string; payload: unknown; priority: number; key: string | null };
  inserted: boolean;
  children: ReplyNode[];
}

const node = (n: number, children?: unknown[], options?: unknown) => ({ name: 'flow.step', data: { n }, ...(options ? { options } : {}), ...(children ? { children } : {}) });
/** A parent with 3 children, the middle one with a child of its own. */
const TREE = node(0, [node(1), node(2, [node(21)]), node(3)], { priority: 'high', key: 'report-42' });

for (const kind of STORE_KINDS) {
  describe.skipIf(!kind.available)(`POST /api/flows on ${kind.kind}`, () => {
    let opened: OpenedStore;
    let nightshift: Nightshift | undefined;
    let base: string;
    const call = (method: string, path: string, body?: unknown): Promise<Reply> => callJson(base, method, path, body);

    async function start(worker: boolean): Promise<Nightshift> {
      nightshift = createNightshift({ store: opened.store, jobs: [step, sync], worker, http: { port: 0 }, ...(worker ? { pollIntervalMs: 20 } : {}) });
      await nightshift.start();
      base = nightshift.httpAddress!;
      return nightshift;
    }

    beforeEach(async () => {
      opened = await kind.open();
    });
    afterEach(async () => {
      await nightshift?.stop();
      nightshift = undefined;
      await opened.cleanup();
    });

    it('inserts the tree with parents waiting and leaves available, and a worker runs each parent after its children', async () => {
      const runtime = await start(true);
      const completed: string[] = [];
      const allDone = new Promise<void>((resolve) => {
        runtime.events.on('job:completed', ({ job }) => {
          completed.push(job.id);
          if (completed.length === 5) resolve();
        });
      });
      const reply = await call('POST', '/api/flows', TREE);
      expect(reply.status, reply.text).toBe(201);
      const root = reply.body as ReplyNode;
      expect(root).toMatchObject({
        inserted: true,
        job: { name: 'flow.step', state: 'waiting', payload: { n: 0 }, priority: 100, key: 'report-42' },
        children: [
          { inserted: true, job: { state: 'available', payload: { n: 1 } }, children: [] },
          { inserted: true, job: { state: 'waiting', payload: { n: 2 } }, children: [{ inserted: true, job: { state: 'available', payload: { n: 21 } }, children: [] }] },
          { inserted: true, job: { state: 'available', payload: { n: 3 } }, children: [] },
        ],
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`only ${completed.length} of 5 jobs completed`)), 15_000);
      });
      await Promise.race([allDone, timeout]).finally(() => clearTimeout(timer));
      const [one, middle, three] = root.children as [ReplyNode, ReplyNode, ReplyNode];
      const at = (n: ReplyNode) => completed.indexOf(n.job.id);
      expect(at(middle.children[0]!)).toBeLessThan(at(middle));
      for (const child of [one, middle, three]) expect(at(child)).toBeLessThan(at(root));
      expect((await call('GET', `/api/jobs/${root.job.id}`)).body).toMatchObject({ state: 'completed', result: 0 });
    });

    it('refuses an unknown job, an invalid payload, an unknown dependency, a tree over the bounds and a malformed node, storing nothing', async () => {
      await start(false);
      const before = await storedJobs(opened.store);
      const refused = async (body: unknown, status: number, code: string, message?: string | RegExp) => {
        const reply = await call('POST', '/api/flows', body);
        expect(reply.status, reply.text).toBe(status);
        expect(reply.body.error.code, reply.text).toBe(code);
        if (message !== undefined) expect(reply.body.error.message).toMatch(message);
        expect(await storedJobs(opened.store)).toBe(before);
      };

      await refused(node(0, [node(1), { name: 'flow.nope', data: {} }]), 404, 'UNKNOWN_JOB', /"flow\.nope"/);
      await refused(node(0, [node(1, [{ name: 'flow.gone', data: {} }])]), 404, 'UNKNOWN_JOB', /"flow\.gone"/);
      await refused(node(0, [node(1), node(2), node(3), { name: 'flow.step', data: { n: 'x' } }]), 400, 'INVALID_PAYLOAD', /^flow\.children\[3\] "flow\.step": /);
      await refused(node(0, [node(1, undefined, { dependsOn: ['987654321'] })]), 400, 'UNKNOWN_DEPENDENCY', /987654321/);

      // Over the bounds: one job too many, one level too deep, and a nesting far deeper than a recursive parse survives.
      await refused(node(0, Array.from({ length: MAX_FLOW_REQUEST_JOBS }, (_, i) => node(i + 1))), 400, 'INVALID_REQUEST', new RegExp(`at most ${MAX_FLOW_REQUEST_JOBS} jobs`));
      const chain = (levels: number): string => '{"name":"flow.step","data":{"n":1},"children":['.repeat(levels) + '{"name":"flow.step","data":{"n":1}}' + ']}'.repeat(levels);
      await refused(chain(MAX_FLOW_REQUEST_DEPTH + 1), 400, 'INVALID_REQUEST', new RegExp(`at most ${MAX_FLOW_REQUEST_DEPTH} levels`));
      await refused(chain(50_000), 400, 'INVALID_REQUEST', new RegExp(`at most ${MAX_FLOW_REQUEST_DEPTH} levels`));

      // The request's form: a child that is not an object, an unknown field (at the root, in a child, in options), a bad option.
      await refused(node(0, [node(1), 42]), 400, 'INVALID_REQUEST', /children\.1/);
      await refused({ ...node(0), priority: 5 }, 400, 'INVALID_REQUEST', /priority/);
      await refused(node(0, [{ ...node(1), job: 'flow.step' }]), 400, 'INVALID_REQUEST', /job/);
      await refused(node(0, [node(1, undefined, { tx: 1 })]), 400, 'INVALID_REQUEST', /tx/);
      await refused(node(0, [node(1, undefined, { onDependencyFailure: 'later' })]), 400, 'INVALID_REQUEST');
      await refused({ data: {} }, 400, 'INVALID_REQUEST', /name/);
      expect(before).toBe(0);

      // At the depth bound exactly, the chain is accepted, each parent waiting for the one below.
      const deep = await call('POST', '/api/flows', chain(MAX_FLOW_REQUEST_DEPTH));
      expect(deep.status, deep.text).toBe(201);
      expect(await storedJobs(opened.store)).toBe(MAX_FLOW_REQUEST_DEPTH + 1);
    });

    it('takes dependsOn, onDependencyFailure, concurrencyKey and key in options; a taken key answers inserted: false', async () => {
      await start(false);
      const first = await call('POST', '/api/jobs', { name: 'flow.step', data: { n: 9 } });
      const id = first.body.job.id as string;
      const leafNode = { name: 'flow.sync', data: { orgId: 'from-payload' }, options: { dependsOn: [id], onDependencyFailure: 'run', concurrencyKey: 'acme', key: 'leaf-1' } };
      const body = node(0, [leafNode]);
      const reply = await call('POST', '/api/flows', body);
      expect(reply.status, reply.text).toBe(201);
      const leaf = reply.body.children[0].job;
      expect(leaf).toMatchObject({ state: 'waiting', key: 'leaf-1', concurrencyKey: 'acme' });
      expect((await call('GET', `/api/jobs/${leaf.id}/why`)).body).toMatchObject({ code: 'waiting', waitingOn: [id] });
      const again = await call('POST', '/api/flows', node(5, [{ ...leafNode, options: { key: 'leaf-1' } }]));
      expect(again.status, again.text).toBe(201);
      expect(again.body.children[0]).toMatchObject({ inserted: false, job: { id: leaf.id } });
    });

    it('a flow whose root key a pending job holds inserts nothing: 200 with that job, no children', async () => {
      await start(false);
      const flow = node(1, [node(2), node(3)], { key: 'report-2026-11' });
      const first = await call('POST', '/api/flows', flow);
      expect(first.status, first.text).toBe(201);
      const before = await storedJobs(opened.store);
      expect(before).toBe(3);
      // The same POST again (a client retrying after a timeout): the flow already exists.
      const again = await call('POST', '/api/flows', flow);
      expect(again.status, again.text).toBe(200);
      expect(again.body).toEqual({ job: first.body.job, inserted: false, children: [] });
      expect(await storedJobs(opened.store)).toBe(before);
    });
  });
}

describe.skipIf(!STORE_KINDS[0]!.available)('POST /api/flows: scope and OpenAPI document', () => {
  let opened: OpenedStore;
  let nightshift: Nightshift;
  afterEach(async () => {
    await nightshift.stop();
    await opened.cleanup();
  });

  it('needs the enqueue scope and is documented, with its recursive schemas as components, in a valid document', async () => {
    opened = await STORE_KINDS[0]!.open();
    const tokens = { read: 'read-token-0123456789abcdef', enqueue: 'enqueue-token-0123456789abcdef' };
    nightshift = createNightshift({
      store: opened.store,
      jobs: [step],
      worker: false,
      http: { port: 0, tokens: [{ name: 'reader', token: tokens.read, scope: 'read' }, { name: 'ci', token: tokens.enqueue, scope: 'enqueue' }] },
    });
    await nightshift.start();
    const base = nightshift.httpAddress!;
    const as = (token: string | null) => callJson(base, 'POST', '/api/flows', TREE, token ? { authorization: `Bearer ${token}` } : {});
    expect((await as(null)).status).toBe(401);
    expect(await as(tokens.read)).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await storedJobs(opened.store)).toBe(0);
    expect((await as(tokens.enqueue)).status).toBe(201);

    // zod's registry is global: a schema the app registers with an id is not one of the document's components.
    z.object({ orderId: z.string() }).meta({ id: 'AppOrder' });
    const doc = (await callJson(base, 'GET', '/api/openapi.json')).body;
    const result = await validateOpenApi(structuredClone(doc));
    expect(result.valid, JSON.stringify(result).slice(0, 500)).toBe(true);
    const route = doc.paths['/api/flows'].post;
    expect(route.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/FlowNodeInput' });
    expect(route.responses['201'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/FlowResult' });
    const flowNode = doc.components.schemas.FlowNodeInput;
    expect(flowNode.required).toEqual(['name']);
    expect(flowNode.properties.children.items).toEqual({ $ref: '#/components/schemas/FlowNodeInput' });
    expect(Object.keys(flowNode.properties.options.properties)).toEqual(expect.arrayContaining(['key', 'queue', 'priority', 'dependsOn', 'onDependencyFailure', 'concurrencyKey']));
    expect(doc.components.schemas.FlowResult.properties.children.items).toEqual({ $ref: '#/components/schemas/FlowResult' });
    expect(Object.keys(doc.components.schemas).sort()).toEqual(['FlowNodeInput', 'FlowResult']);
  });
});
