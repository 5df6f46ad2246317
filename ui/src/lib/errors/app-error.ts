import type { IpcError } from '../ipc/types';

/** Every failure the UI handles: a stable `code` (the contract's) and details for bug reports. */
export class AppError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'AppError';
    this.code = code;
  }

  static from(e: unknown): AppError {
    if (e instanceof AppError) return e;
    if (isIpcError(e)) return new AppError(e.code, e.message);
    if (e instanceof Error) return new AppError('internal', e.message);
    return new AppError('internal', typeof e === 'string' ? e : JSON.stringify(e));
  }

  toIpc(): IpcError {
    return { code: this.code, message: this.message };
  }
}

export function isIpcError(e: unknown): e is IpcError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as IpcError).code === 'string' &&
    typeof (e as IpcError).message === 'string'
  );
}
