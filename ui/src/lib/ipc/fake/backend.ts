import { AppError } from '../../errors/app-error';
import type { Backend, CallArgs, PathPick, Unlisten } from '../backend';
import type { CommandName, EventName, Events, ResultOf } from '../types';
import { FakeVault, type FakeSeed } from './vault';

/** The contract in memory, for unit tests and the browser dev mode. */
export class FakeBackend implements Backend {
  readonly vault: FakeVault;
  private listeners = new Map<string, Set<(p: unknown) => void>>();
  /** What the next save/open dialog answers (null = cancelled). */
  nextPath: string | null = '/home/user/Documents/picked.txt';

  constructor(seed: FakeSeed, now?: () => Date) {
    this.vault = new FakeVault(seed, now);
    this.vault.onEvent = (event, payload) => this.emit(event, payload);
  }

  async call<C extends CommandName>(cmd: C, ...args: CallArgs<C>): Promise<ResultOf<C>> {
    try {
      const result = await this.vault.handle(cmd, (args[0] ?? {}) as Record<string, unknown>);
      // Answers cross a serialisation boundary in the real app: never share objects.
      return structuredClone(result) as ResultOf<C>;
    } catch (e) {
      throw AppError.from(e);
    }
  }

  async on<E extends EventName>(
    event: E,
    handler: (payload: Events[E]) => void,
  ): Promise<Unlisten> {
    const set = this.listeners.get(event) ?? new Set();
    const h = handler as (p: unknown) => void;
    set.add(h);
    this.listeners.set(event, set);
    return () => set.delete(h);
  }

  emit<E extends EventName>(event: E, payload: Events[E]) {
    for (const h of this.listeners.get(event) ?? []) h(structuredClone(payload));
  }

  async pickSavePath(pick: PathPick): Promise<string | null> {
    void pick;
    return this.nextPath;
  }

  async pickOpenPath(pick: PathPick): Promise<string | null> {
    void pick;
    return this.nextPath;
  }
}
