/**
 * Flows: a job and the jobs it waits for, as one tree, turned into one `jobInsertMany` batch.
 * Children come before their parent (post-order), and each parent names its direct children by
 * their position in the batch (`dependsOnItems`), so the store links the whole tree in the same
 * transaction that inserts it: nothing of a flow exists until all of it does.
 */
import { ValidationError } from '../errors.js';
import type { FlowNode, FlowResult } from '../job/enqueue-types.js';
import type { Job } from '../job/job-view.js';
import type { JobInsert } from '../store/types.js';

/** Most jobs in one flow (a fan-out of 10 000 and its fan-in fit with room). */
export const MAX_FLOW_JOBS = 100_000;
/** Deepest nesting of children. */
export const MAX_FLOW_DEPTH = 100;

/** Builds the insert of one node (its job, payload and options checked as any enqueue), given where it is. */
export type FlowInsertBuilder = (node: FlowNode, where: string) => Promise<JobInsert>;

/** The batch for `root`, and how to rebuild the tree from the batch's results. */
export async function flattenFlow(root: FlowNode, build: FlowInsertBuilder): Promise<{ inserts: JobInsert[]; shape: (results: { job: Job; inserted: boolean }[]) => FlowResult }> {
  const inserts: JobInsert[] = [];
  interface Placed {
    index: number;
    children: Placed[];
  }
  const visit = async (node: unknown, where: string, depth: number): Promise<Placed> => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) throw new ValidationError('INVALID_OPTION', `${where}: a flow node must be an object { job, data, options?, children? }`);
    const { children } = node as FlowNode;
    if (children !== undefined && !Array.isArray(children)) throw new ValidationError('INVALID_OPTION', `${where}: children must be an array of flow nodes`);
    if (depth > MAX_FLOW_DEPTH) throw new ValidationError('INVALID_OPTION', `${where}: a flow may nest at most ${MAX_FLOW_DEPTH} levels`);
    const placed: Placed[] = [];
    for (const [i, child] of (children ?? []).entries()) placed.push(await visit(child, `${where}.children[${i}]`, depth + 1));
    if (inserts.length >= MAX_FLOW_JOBS) throw new ValidationError('INVALID_OPTION', `flow: at most ${MAX_FLOW_JOBS} jobs in one flow`);
    const insert = await build(node as FlowNode, where);
    if (placed.length > 0) insert.dependsOnItems = placed.map((child) => child.index);
    inserts.push(insert);
    return { index: inserts.length - 1, children: placed };
  };
  const top = await visit(root, 'flow', 0);
  const shape = (results: { job: Job; inserted: boolean }[]): FlowResult => {
    const rebuild = (placed: Placed): FlowResult => ({ ...results[placed.index]!, children: placed.children.map(rebuild) });
    return rebuild(top);
  };
  return { inserts, shape };
}
