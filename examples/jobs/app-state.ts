/**
 * The example app's own data, kept in plain files so the example runs with nothing installed:
 * users come from `examples/users.json`; what the jobs learn about each user lives in
 * `examples/data/users/<id>.json`; snapshots go to `examples/data/snapshots/`; emails to
 * `examples/outbox/`. (`data/` and `outbox/` are git-ignored.)
 */
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));

/** Where the example writes; `EXAMPLE_DATA_DIR` / `EXAMPLE_OUTBOX_DIR` move it (tests use temp dirs). */
export const paths = {
  users: process.env.EXAMPLE_USERS_FILE ?? join(exampleDir, 'users.json'),
  data: process.env.EXAMPLE_DATA_DIR ?? join(exampleDir, 'data'),
  get userState(): string {
    return join(this.data, 'users');
  },
  get snapshots(): string {
    return join(this.data, 'snapshots');
  },
  outbox: process.env.EXAMPLE_OUTBOX_DIR ?? join(exampleDir, 'outbox'),
};

export interface User {
  id: string;
  name: string;
  email: string;
  active: boolean;
  /** What the user did recently: the text the nightly analysis reads. */
  notes: string[];
}

/** What the app believes about a user's skills: confidence 0…1 per skill, and when it was last seen. */
export interface UserState {
  userId: string;
  skills: Record<string, { confidence: number; lastSeenAt: string }>;
  lastAnalysisAt: string | null;
  insights: string[];
}

export async function loadUsers(): Promise<User[]> {
  return JSON.parse(await readFile(paths.users, 'utf8')) as User[];
}

export async function loadUserState(userId: string): Promise<UserState> {
  try {
    return JSON.parse(await readFile(join(paths.userState, `${userId}.json`), 'utf8')) as UserState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { userId, skills: {}, lastAnalysisAt: null, insights: [] };
    throw error;
  }
}

/** Writes a file atomically (temp file + rename), so a crash never leaves half a JSON document. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}

export async function saveUserState(state: UserState): Promise<void> {
  await mkdir(paths.userState, { recursive: true });
  await writeFileAtomic(join(paths.userState, `${state.userId}.json`), `${JSON.stringify(state, null, 2)}\n`);
}

export async function listUserStates(): Promise<UserState[]> {
  let files: string[];
  try {
    files = (await readdir(paths.userState)).filter((file) => file.endsWith('.json'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return Promise.all(files.map((file) => loadUserState(file.slice(0, -'.json'.length))));
}
