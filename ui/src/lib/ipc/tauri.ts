// The only module that imports `@tauri-apps/api` or a Tauri plugin.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { open, save } from '@tauri-apps/plugin-dialog';
import { AppError } from '../errors/app-error';
import type { Backend, CallArgs, PathPick, Unlisten } from './backend';
import type { CommandName, EventName, Events, ResultOf } from './types';

export class TauriBackend implements Backend {
  async call<C extends CommandName>(cmd: C, ...args: CallArgs<C>): Promise<ResultOf<C>> {
    try {
      return await invoke<ResultOf<C>>(cmd, args[0] as Record<string, unknown> | undefined);
    } catch (e) {
      throw AppError.from(e);
    }
  }

  async on<E extends EventName>(
    event: E,
    handler: (payload: Events[E]) => void,
  ): Promise<Unlisten> {
    return listen<Events[E]>(event, (e) => handler(e.payload));
  }

  async pickSavePath(pick: PathPick): Promise<string | null> {
    try {
      return await save({
        title: pick.title,
        defaultPath: pick.defaultPath,
        filters: pick.filters,
      });
    } catch (e) {
      throw AppError.from(e);
    }
  }

  async pickOpenPath(pick: PathPick): Promise<string | null> {
    try {
      const picked = await open({
        title: pick.title,
        defaultPath: pick.defaultPath,
        filters: pick.filters,
        multiple: false,
        directory: false,
      });
      return typeof picked === 'string' ? picked : null;
    } catch (e) {
      throw AppError.from(e);
    }
  }
}

/** True inside the Tauri webview (or under `@tauri-apps/api/mocks`). */
export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}
