/**
 * At most `max` calls of `fn` in flight; the rest wait in order. A slot passes straight from a finishing
 * call to the next waiter, so a newcomer can never slip in between and exceed the bound.
 */
export const createLimiter = (max: number) => {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
};
export type Limiter = ReturnType<typeof createLimiter>;
