import type { Id } from '../../lib/ipc/types';

/** The drag payload's MIME type: a JSON array of task ids. */
export const TASKS_MIME = 'application/x-productivitypro-tasks';

export function readDraggedIds(dt: DataTransfer | null): Id[] {
  const raw = dt?.getData(TASKS_MIME);
  if (!raw) return [];
  try {
    const v: unknown = JSON.parse(raw);
    return Array.isArray(v) ? v.filter((x): x is Id => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function isTaskDrag(dt: DataTransfer | null): boolean {
  return !!dt && [...dt.types].includes(TASKS_MIME);
}
