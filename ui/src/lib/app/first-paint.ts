import { TestId } from '../testid';

const SHOWN = `[data-testid="${TestId.TaskRow}"], [data-testid="${TestId.EmptyState}"]`;

/**
 * Calls `painted` once, after the first frame that shows the task list —
 * a row, or the view's empty state — has been painted: the observer sees
 * the DOM change, the next animation frame is the one that paints it, and
 * a task queued from that frame runs once it is on screen. Returns a
 * function that cancels the wait.
 */
export function whenTasksPainted(root: ParentNode, painted: () => void): () => void {
  let waiting = true;
  const obs = new MutationObserver(() => check());
  const check = () => {
    if (!waiting || !root.querySelector(SHOWN)) return;
    waiting = false;
    obs.disconnect();
    requestAnimationFrame(() => setTimeout(painted, 0));
  };
  obs.observe(root, { childList: true, subtree: true });
  check();
  return () => {
    waiting = false;
    obs.disconnect();
  };
}
