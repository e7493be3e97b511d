/** What `onX(listener)` returns: call `dispose()` to stop listening. */
export interface Disposable {
  dispose(): void;
}

/** A typed event: subscribe with a listener, get back a handle to unsubscribe. */
export type Event<T> = (listener: (value: T) => void) => Disposable;

/**
 * A small, typed event source. Emitting with no listeners costs one length check, so it
 * is safe on the hot path. A throwing listener does not stop the others or the caller:
 * the error is reported through `queueMicrotask`, as an uncaught error, where it belongs.
 *
 * @example
 * const retried = new EventEmitter<{ attempt: number }>();
 * const sub = retried.event(({ attempt }) => console.log('retry', attempt));
 * retried.emit({ attempt: 2 });
 * sub.dispose();
 */
export class EventEmitter<T> {
  #listeners: ((value: T) => void)[] = [];

  /** Subscribes a listener. */
  readonly event: Event<T> = (listener) => {
    this.#listeners = [...this.#listeners, listener];
    return {
      dispose: () => {
        this.#listeners = this.#listeners.filter((l) => l !== listener);
      },
    };
  };

  /** True when at least one listener is subscribed; lets callers skip building a payload. */
  get hasListeners(): boolean {
    return this.#listeners.length > 0;
  }

  emit(value: T): void {
    const listeners = this.#listeners;
    for (let i = 0; i < listeners.length; i++) {
      try {
        listeners[i]!(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
