import { cleanup } from '@testing-library/svelte';
import { afterEach } from 'vitest';

afterEach(() => cleanup());

// jsdom lacks these browser APIs the app touches.
if (!window.matchMedia) {
  window.matchMedia = (query: string) =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addEventListener: () => {},
      removeEventListener: () => {},
      addListener: () => {},
      removeListener: () => {},
      dispatchEvent: () => false,
    }) as unknown as MediaQueryList;
}
if (!HTMLDialogElement.prototype.showModal) {
  HTMLDialogElement.prototype.showModal = function showModal(this: HTMLDialogElement) {
    this.open = true;
  };
}

/** jsdom has no layout: a ResizeObserver that tests drive by hand (`resizeAll`). */
class TestResizeObserver {
  static instances = new Set<TestResizeObserver>();
  readonly targets = new Set<Element>();
  constructor(private readonly cb: ResizeObserverCallback) {
    TestResizeObserver.instances.add(this);
  }
  observe(el: Element) {
    this.targets.add(el);
  }
  unobserve(el: Element) {
    this.targets.delete(el);
  }
  disconnect() {
    this.targets.clear();
    TestResizeObserver.instances.delete(this);
  }
  fire(height: (el: Element) => number) {
    const entries = [...this.targets].map(
      (target) =>
        ({
          target,
          contentRect: { height: height(target) } as DOMRectReadOnly,
          borderBoxSize: [{ blockSize: height(target), inlineSize: 0 }],
        }) as unknown as ResizeObserverEntry,
    );
    this.cb(entries, this as unknown as ResizeObserver);
  }
}
(globalThis as unknown as { ResizeObserver: unknown }).ResizeObserver = TestResizeObserver;

/** Reports a size for every observed element, like a layout pass would. */
export function resizeAll(height: (el: Element) => number) {
  for (const o of TestResizeObserver.instances) o.fire(height);
}
