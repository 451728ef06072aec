/**
 * `/api/flows`: a job and the jobs it waits for, as one tree, inserted in one transaction
 * (`client.flow`), for callers that are not TypeScript. Every job of the tree is checked as
 * `POST /api/jobs` checks one (name, payload, options), and one refusal stores nothing.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Client } from '../../client/client.js';
import { jobToJson } from '../../client/job-json.js';
import type { FlowNode, FlowResult } from '../../job/enqueue-types.js';
import { BULK_BODY_LIMIT, errorReplySchema, flowNodeBodySchema, flowReplySchema, MAX_FLOW_REQUEST_DEPTH, MAX_FLOW_REQUEST_JOBS } from '../api-schemas.js';
import { HttpError } from '../http-errors.js';
import type { RouteGuard } from '../route-guard.js';
import { enqueueOptions } from './jobs.js';

const errors = { 400: errorReplySchema, 401: errorReplySchema, 403: errorReplySchema, 404: errorReplySchema, 409: errorReplySchema, 413: errorReplySchema, 503: errorReplySchema };

type FlowBody = z.output<typeof flowNodeBodySchema>;
type FlowReply = z.input<typeof flowReplySchema>;

/**
 * Refuses a tree over the request bounds before the schema parses it. It walks the parsed JSON
 * with its own stack, not by recursion: the body limit admits a nesting far deeper than a
 * recursive parse survives, and such a tree must be a 400 naming the bound, not a stack overflow.
 * Anything that is not an object with a `children` array counts as one job and is left to the
 * schema to refuse.
 */
function assertFlowWithinBounds(body: unknown): void {
  const pending: { node: unknown; depth: number }[] = [{ node: body, depth: 0 }];
  let jobs = 0;
  while (pending.length > 0) {
    const { node, depth } = pending.pop()!;
    jobs += 1;
    if (jobs > MAX_FLOW_REQUEST_JOBS) throw new HttpError(400, 'INVALID_REQUEST', `a flow may hold at most ${MAX_FLOW_REQUEST_JOBS} jobs in one request; split it, or enqueue the leaves with POST /api/jobs/bulk and name them in dependsOn`);
    if (depth > MAX_FLOW_REQUEST_DEPTH) throw new HttpError(400, 'INVALID_REQUEST', `a flow may nest at most ${MAX_FLOW_REQUEST_DEPTH} levels of children in one request`);
    const children = node !== null && typeof node === 'object' && !Array.isArray(node) ? (node as { children?: unknown }).children : undefined;
    if (Array.isArray(children)) for (const child of children) pending.push({ node: child, depth: depth + 1 });
  }
}

/** The library's flow node from a validated request node. */
function flowNodeOf(body: FlowBody): FlowNode {
  const options = body.options === undefined ? undefined : { ...enqueueOptions(body.options), ...(body.options.key === undefined ? {} : { key: body.options.key }) };
  return {
    job: body.name,
    data: body.data ?? null,
    ...(options === undefined ? {} : { options }),
    ...(body.children === undefined ? {} : { children: body.children.map(flowNodeOf) }),
  };
}

function flowReplyOf(result: FlowResult): FlowReply {
  return { job: jobToJson(result.job), inserted: result.inserted, children: result.children.map(flowReplyOf) };
}

export function flowRoutes(app: FastifyInstance, client: Client, guard: RouteGuard): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/flows',
    {
      onRequest: guard('enqueue'),
      preValidation: async (request: FastifyRequest) => assertFlowWithinBounds(request.body),
      bodyLimit: BULK_BODY_LIMIT,
      schema: {
        summary: `Enqueue a flow: a job and the jobs it waits for, nested (at most ${MAX_FLOW_REQUEST_JOBS} jobs, ${MAX_FLOW_REQUEST_DEPTH} levels), in one transaction; each parent waits for its direct children`,
        tags: ['jobs'],
        body: flowNodeBodySchema,
        response: {
          201: flowReplySchema,
          200: flowReplySchema.describe('the root\'s key is held by a pending job: that job (inserted false, no children), and nothing of this flow was inserted'),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const result = await client.flow(flowNodeOf(request.body));
      // As POST /api/jobs: 201 when it was inserted, 200 with the job that holds the key.
      return reply.code(result.inserted ? 201 : 200).send(flowReplyOf(result));
    },
  );
}
