import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// Builds the browser tests' IPC double: one IIFE that installs
// `@tauri-apps/api/mocks`' `mockIPC` backed by the in-memory fake backend.
// Playwright loads it with `addInitScript`, before any app code runs.
export default defineConfig({
  plugins: [svelte()],
  define: { __PP_FAKE_BACKEND__: 'true' },
  build: {
    target: 'es2022',
    outDir: 'e2e/.build',
    emptyOutDir: true,
    minify: false,
    lib: {
      entry: 'e2e/fake-ipc.ts',
      formats: ['iife'],
      name: 'PPFakeIpc',
      fileName: () => 'fake-ipc.js',
    },
  },
});
