import { sleep } from '@lifeline/core';

/** The card processor's capacity: how many charges it works on at once, and how long each takes. */
export interface ProcessorCapacity {
  /** Charges processed at once; the rest wait in line, first come first served. `0`: no limit. */
  workers: number;
  /** Processing time of one charge, ms. */
  workMs: number;
}

/** The processor's state, as plain JSON. */
export interface ProcessorSnapshot extends ProcessorCapacity {
  /** Charges being processed now. */
  busy: number;
  /** Charges waiting for a worker. */
  waiting: number;
  /** Charges processed to the end. */
  processed: number;
  /** Charges that left the line, or were stopped, because their request was cancelled (its caller went away, its deadline passed). */
  abandoned: number;
}

interface Waiter {
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * The payment service's card processor: a physical capacity, not a fault rule. At most
 * `workers` charges are processed at once for `workMs` each; the rest wait in line, so the
 * time a charge takes grows with the line in front of it. When more charges arrive than it
 * can process, the line grows for as long as they do — and a charge whose caller has long
 * given up still takes its turn unless its request is cancelled (its deadline propagated,
 * its caller gone). That is the ground a metastable failure grows on: after a trigger
 * (capacity halved, a spike), callers that time out and retry keep the line long enough that
 * every answer comes too late.
 *
 * @example
 * const processor = new Processor({ workers: 4, workMs: 50 }); // 80 charges/s
 * await processor.process(request.lifeline.signal);
 * processor.resize({ workers: 2 }); // the trigger: capacity halved
 */
export class Processor {
  #workers: number;
  #workMs: number;
  #busy = 0;
  #line: Waiter[] = [];
  #head = 0;
  #processed = 0;
  #abandoned = 0;

  constructor(capacity: ProcessorCapacity) {
    this.#workers = checkWorkers(capacity.workers);
    this.#workMs = checkWorkMs(capacity.workMs);
  }

  /** Waits for a worker, then processes one charge. Rejects with the signal's reason when the request is cancelled first. */
  async process(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.#workers !== 0 && this.#busy >= this.#workers) await this.#wait(signal);
    else this.#busy++;
    try {
      await sleep(this.#workMs, signal);
      this.#processed++;
    } catch (error) {
      this.#abandoned++;
      throw error;
    } finally {
      this.#busy--;
      this.#next();
    }
  }

  /** Changes the capacity; charges already processing finish as they are. More workers serve the line at once. */
  resize(capacity: Partial<ProcessorCapacity>): ProcessorCapacity {
    if (capacity.workers !== undefined) this.#workers = checkWorkers(capacity.workers);
    if (capacity.workMs !== undefined) this.#workMs = checkWorkMs(capacity.workMs);
    this.#next();
    return { workers: this.#workers, workMs: this.#workMs };
  }

  snapshot(): ProcessorSnapshot {
    return {
      workers: this.#workers,
      workMs: this.#workMs,
      busy: this.#busy,
      waiting: this.#line.length - this.#head,
      processed: this.#processed,
      abandoned: this.#abandoned,
    };
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          const at = this.#line.indexOf(waiter, this.#head);
          if (at === -1) return;
          this.#line.splice(at, 1);
          this.#abandoned++;
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#line.push(waiter);
    });
  }

  /** Hands free workers to the line, first come first served. */
  #next(): void {
    while (this.#head < this.#line.length && (this.#workers === 0 || this.#busy < this.#workers)) {
      const waiter = this.#line[this.#head++]!;
      if (waiter.onAbort !== undefined) waiter.signal!.removeEventListener('abort', waiter.onAbort);
      this.#busy++;
      waiter.resolve();
    }
    if (this.#head > 1024 && this.#head * 2 > this.#line.length) {
      this.#line = this.#line.slice(this.#head);
      this.#head = 0;
    }
  }
}

function checkWorkers(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 10_000) {
    throw new RangeError(`payment: \`workers\` must be an integer from 0 (no limit) to 10000, got ${JSON.stringify(value)}`);
  }
  return value;
}

function checkWorkMs(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 60_000) {
    throw new RangeError(`payment: \`workMs\` must be an integer from 0 to 60000 ms, got ${JSON.stringify(value)}`);
  }
  return value;
}
