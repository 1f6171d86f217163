/**
 * A typed event emitter that runs in browsers and Node alike (no `node:events`), shared by the
 * client SDK and the edge server so both sides have one event style. As in mediasoup,
 * `safeEmit` isolates a throwing listener: the error is reported through `listenererror`
 * instead of unwinding into the emitter's own code (an SDK's state machine, an edge session).
 */
import { Logger } from './Logger.js';

const logger = new Logger('events');

export type EventMap = Record<string, unknown[]>;
type Listener<A extends unknown[]> = (...args: A) => void;
type WithListenerError<E extends EventMap> = E & { listenererror: [eventName: string, error: unknown] };

export class EnhancedEventEmitter<E extends EventMap> {
  readonly #listeners = new Map<keyof WithListenerError<E>, Set<Listener<never>>>();

  on<K extends keyof WithListenerError<E>>(event: K, listener: Listener<WithListenerError<E>[K]>): this {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return this;
  }

  once<K extends keyof WithListenerError<E>>(event: K, listener: Listener<WithListenerError<E>[K]>): this {
    const wrapper = ((...args: WithListenerError<E>[K]) => {
      this.off(event, wrapper);
      listener(...args);
    }) as Listener<WithListenerError<E>[K]>;
    return this.on(event, wrapper);
  }

  off<K extends keyof WithListenerError<E>>(event: K, listener: Listener<WithListenerError<E>[K]>): this {
    this.#listeners.get(event)?.delete(listener as Listener<never>);
    return this;
  }

  listenerCount(event: keyof WithListenerError<E>): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  /** Resolves with the event's arguments the next time it fires (and `until` accepts them), or rejects after `timeoutMs`. */
  waitFor<K extends keyof E & string>(event: K, timeoutMs: number, until?: (...args: E[K]) => boolean): Promise<E[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off(event, listener);
        reject(new Error(`no${until ? ' matching' : ''} '${event}' event within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = ((...args: E[K]) => {
        if (until && !until(...args)) return;
        clearTimeout(timer);
        this.off(event, listener);
        resolve(args);
      }) as Listener<WithListenerError<E>[K]>;
      this.on(event, listener);
    });
  }

  protected safeEmit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    const set = this.#listeners.get(event);
    if (!set || set.size === 0) return false;
    for (const listener of [...set]) {
      try {
        (listener as unknown as Listener<E[K]>)(...args);
      } catch (error) {
        if (event !== 'listenererror' && this.listenerCount('listenererror') > 0) {
          this.safeEmit('listenererror' as K, ...([event, error] as unknown as E[K]));
        } else {
          logger.error(`'${event}' listener threw`, error);
        }
      }
    }
    return true;
  }
}
