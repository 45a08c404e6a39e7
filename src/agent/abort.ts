import { setMaxListeners } from "node:events";

/**
 * An AbortController for a whole agent generation or connection. Every certificate or template loop waits
 * on its signal (sleeps, requests), so a hundred listeners are expected, not a leak: without this, Node
 * prints "MaxListenersExceededWarning: Possible EventTarget memory leak detected" past ten.
 */
export const sharedAbortController = (): AbortController => {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
};
