import { render, fireEvent, screen, waitFor } from '@testing-library/svelte';
import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';
import QuickAdd from '../../src/components/task/QuickAdd.svelte';
import VirtualList from '../../src/components/shared/VirtualList.svelte';
import Markdown from '../../src/components/shared/Markdown.svelte';
import SecretForm from '../../src/components/vault/SecretForm.svelte';
import { App } from '../../src/lib/app/app.svelte';
import { FakeBackend } from '../../src/lib/ipc/fake/backend';
import { TestId } from '../../src/lib/testid';
import { createRawSnippet, type Component } from 'svelte';
import WithApp from './WithApp.svelte';
import { resizeAll } from './setup';

describe('VirtualList', () => {
  it('renders only a window of 10 000 rows', () => {
    const items = Array.from({ length: 10_000 }, (_, i) => ({ key: `k${i}`, label: `Row ${i}` }));
    const row = createRawSnippet((item: () => { key: string }) => ({
      render: () => `<div role="listitem" style="height:40px">Row ${item().key.slice(1)}</div>`,
    }));
    const { container } = render(VirtualList, {
      props: { items, row, label: 'rows', estimate: 40, overscan: 5, testid: 'vl' },
    });
    const viewport = container.querySelector('[data-testid="vl"]') as HTMLElement;
    const rendered = viewport.querySelectorAll('[role="listitem"]');
    // jsdom has no layout: an 800 px viewport is assumed, 20 rows + overscan.
    expect(rendered.length).toBeLessThan(40);
    expect(rendered[0]?.textContent).toBe('Row 0');
    expect((viewport.querySelector('.spacer') as HTMLElement).style.height).toBe('400000px');
  });

  it('lays out by measured heights', async () => {
    const items = Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, label: `Row ${i}` }));
    const row = createRawSnippet((item: () => { key: string }) => ({
      render: () => `<div role="listitem">${item().key}</div>`,
    }));
    const { container } = render(VirtualList, {
      props: { items, row, label: 'rows', estimate: 40, overscan: 0, testid: 'vl' },
    });
    const spacer = container.querySelector('.spacer') as HTMLElement;
    expect(spacer.style.height).toBe('4000px');
    // Every rendered row turns out 100 px tall: the total grows by their difference.
    const rendered = container.querySelectorAll('.slot').length;
    resizeAll((el) => (el.classList.contains('slot') ? 100 : 800));
    flushSync();
    expect(spacer.style.height).toBe(`${4000 + rendered * 60}px`);
    // With taller rows, fewer fit in the 800 px viewport.
    expect(container.querySelectorAll('.slot').length).toBeLessThan(rendered);
  });
});

describe('QuickAdd', () => {
  it('never blocks typing and drops previews for text that changed', async () => {
    const backend = new FakeBackend({ vault: 'unlocked', latency: { quick_add_preview: 80 } });
    const app = new App(backend);
    await app.start();
    render(WithApp, {
      props: { app, component: QuickAdd as unknown as Component<Record<string, unknown>> },
    });
    const input = screen.getByTestId(TestId.QuickAdd) as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'Call Bob #Work' } });
    expect(input.disabled).toBe(false);
    await new Promise((r) => setTimeout(r, 150)); // first preview requested, still in flight
    await fireEvent.input(input, { target: { value: 'Call Bob @phone !2' } });
    await waitFor(
      () => expect(screen.getAllByTestId(TestId.PreviewChip).length).toBeGreaterThan(0),
      { timeout: 2000 },
    );
    await new Promise((r) => setTimeout(r, 200));
    const kinds = screen.getAllByTestId(TestId.PreviewChip).map((c) => c.dataset.kind);
    expect(kinds).toEqual(['title', 'tag', 'priority']);
    // Enter clears the field at once; the add happens in the background.
    await fireEvent.submit(input.form as HTMLFormElement);
    flushSync();
    expect(input.value).toBe('');
    await waitFor(() =>
      expect([...backend.vault.tasks.values()].some((t) => t.title === 'Call Bob')).toBe(true),
    );
  });

  it('gives the text back when the add fails', async () => {
    const backend = new FakeBackend({ vault: 'unlocked' });
    const app = new App(backend);
    await app.start();
    render(WithApp, {
      props: { app, component: QuickAdd as unknown as Component<Record<string, unknown>> },
    });
    const input = screen.getByTestId(TestId.QuickAdd) as HTMLInputElement;
    await fireEvent.input(input, { target: { value: 'x #a #b' } });
    await fireEvent.submit(input.form as HTMLFormElement);
    await waitFor(() => expect(input.value).toBe('x #a #b'));
    expect(app.toasts.items.at(-1)?.code).toBe('quick_add_multiple_lists');
  });
});

describe('Markdown component', () => {
  it('renders notes without executing anything', () => {
    const { container } = render(Markdown, {
      props: { source: '**hi** <img src=x onerror=alert(1)> [x](javascript:alert(1))' },
    });
    expect(container.querySelector('strong')?.textContent).toBe('hi');
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('a')).toBeNull();
  });
});

describe('SecretForm (the unlock and too-new screens share it)', () => {
  function shown(kind: 'passphrase' | 'recoveryKey', results: boolean[], busy = false) {
    const seen: string[] = [];
    render(SecretForm, {
      props: {
        kind,
        action: 'Open',
        label: 'Open it',
        busy,
        fieldTestid: 'f',
        submitTestid: 's',
        submit: async (secret: string) => {
          seen.push(secret);
          return results.shift() ?? false;
        },
      },
    });
    const field = screen.getByTestId('f') as HTMLInputElement;
    return { field, button: screen.getByTestId('s') as HTMLButtonElement, seen };
  }

  it('keeps a secret that failed, to be corrected, and clears one that worked', async () => {
    const { field, button, seen } = shown('passphrase', [false, true]);
    expect(field.type).toBe('password');
    await fireEvent.input(field, { target: { value: 'nope' } });
    await fireEvent.submit(field.form as HTMLFormElement);
    await waitFor(() => expect(seen).toEqual(['nope']));
    expect(field.value).toBe('nope');
    await fireEvent.input(field, { target: { value: 'pw' } });
    await fireEvent.click(button);
    await waitFor(() => expect(field.value).toBe(''));
    expect(seen).toEqual(['nope', 'pw']);
  });

  it('shows a recovery key as typed and offers no button while an unlock runs', () => {
    const { field, button } = shown('recoveryKey', [], true);
    expect(field.type).toBe('text');
    expect(field.autocomplete).toBe('off');
    expect(field.getAttribute('aria-label')).toBe('Recovery key');
    expect(button.disabled).toBe(true);
    expect(screen.getByRole('form', { name: 'Open it' })).toBe(field.form);
  });
});
