import { createContext } from 'svelte';
import type { App } from './app.svelte';

/** The App, handed to every component once by the root. */
export const [getApp, setApp] = createContext<App>();
