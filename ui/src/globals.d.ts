/** Replaced at build time: true only in `--mode fake` / tests (see vite.config.ts). */
declare const __PP_FAKE_BACKEND__: boolean;
