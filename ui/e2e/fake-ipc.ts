// The browser tests' IPC double, loaded with Playwright's `addInitScript`
// before any app code: `@tauri-apps/api/mocks` answers every `invoke` from
// the in-memory fake, and event mocking lets tests emit shell events.
import { mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import { AppError } from '../src/lib/errors/app-error';
import { demoSeed } from '../src/lib/ipc/fake/seed';
import { FakeVault, type FakeSeed } from '../src/lib/ipc/fake/vault';
import type { EventName, Events } from '../src/lib/ipc/types';

type Harness = {
  vault: FakeVault;
  emit<E extends EventName>(event: E, payload: Events[E]): Promise<void>;
  /** What the next native file dialog answers; null = cancelled. */
  nextPath: string | null;
  dialogs: { kind: 'save' | 'open'; options: unknown }[];
  /** How many records each `tasks_get` answered, in order. */
  fetched: number[];
};

declare global {
  interface Window {
    __PP_SEED__?: FakeSeed;
    __PP_FAKE__?: Harness;
  }
}

const vault = new FakeVault(window.__PP_SEED__ ?? demoSeed());
// The fake's own events (update progress, …) go out like the shell's.
vault.onEvent = (event, payload) => void emit(event, payload);
const harness: Harness = {
  vault,
  emit: (event, payload) => emit(event, payload),
  nextPath: '/home/user/Documents/picked.txt',
  dialogs: [],
  fetched: [],
};
window.__PP_FAKE__ = harness;

mockIPC(
  async (cmd, args) => {
    if (cmd === 'plugin:dialog|save' || cmd === 'plugin:dialog|open') {
      harness.dialogs.push({ kind: cmd.endsWith('save') ? 'save' : 'open', options: args });
      return harness.nextPath;
    }
    try {
      // Like the real IPC: answers are serialised, never shared objects.
      const answer = await vault.handle(cmd, (args ?? {}) as Record<string, unknown>);
      if (cmd === 'tasks_get') harness.fetched.push((answer as unknown[]).length);
      return structuredClone(answer);
    } catch (e) {
      // The shell rejects with `{ code, message }`.
      throw AppError.from(e).toIpc();
    }
  },
  { shouldMockEvents: true },
);
