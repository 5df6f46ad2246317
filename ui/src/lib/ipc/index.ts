import type { Backend } from './backend';
import { inTauri, TauriBackend } from './tauri';

export type { Backend } from './backend';

/**
 * Picks the backend at start-up: the shell when there is one; otherwise, in
 * `--mode fake` builds only, the in-memory fake (compiled out of releases).
 */
export async function connectBackend(): Promise<Backend | null> {
  if (inTauri()) return new TauriBackend();
  if (__PP_FAKE_BACKEND__) {
    const { FakeBackend } = await import('./fake/backend');
    const { demoSeed } = await import('./fake/seed');
    return new FakeBackend(demoSeed());
  }
  return null;
}
