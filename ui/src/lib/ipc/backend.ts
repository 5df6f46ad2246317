import type { ArgsOf, CommandName, EventName, Events, FileFilter, ResultOf } from './types';

export type CallArgs<C extends CommandName> = ArgsOf<C> extends void ? [] : [args: ArgsOf<C>];

export type Unlisten = () => void;

export type PathPick = { title: string; defaultPath?: string; filters?: FileFilter[] };

/**
 * The one way into the shell. `TauriBackend` talks to Rust; `FakeBackend`
 * implements the same contract in memory (tests, `--mode fake`). Every
 * rejection is an `AppError` (see `../errors`).
 */
export interface Backend {
  call<C extends CommandName>(cmd: C, ...args: CallArgs<C>): Promise<ResultOf<C>>;
  on<E extends EventName>(event: E, handler: (payload: Events[E]) => void): Promise<Unlisten>;
  /** A native "save as" dialog; null when the person cancelled. */
  pickSavePath(pick: PathPick): Promise<string | null>;
  /** A native "open file" dialog; null when the person cancelled. */
  pickOpenPath(pick: PathPick): Promise<string | null>;
}
