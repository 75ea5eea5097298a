/**
 * A size-bucketed pool of storage buffers. GPU buffers are garbage-collected
 * objects in Deno, reclaimed far too late for a training loop, so tensors hand
 * their buffers back here explicitly and later allocations reuse them.
 *
 * The free list is bounded: past `maxFreeBytes` the buffers released longest
 * ago are destroyed, so a run whose shapes drift (a last partial batch, an
 * evaluation at another batch size) cannot pile up buffers nobody asks for.
 * A request over the device's limits fails before anything is created, with
 * an error naming the op, the size and the limit; a buffer the device could
 * not create (out of memory) is reported through `report` and never reused.
 *
 * @module
 */

import { formatBytes, GpuAllocationError } from "./errors.ts";

/** Live and free buffer counts and bytes, for leak checks and `info`. */
export interface PoolStats {
  /** Buffers handed out and not yet released. */
  liveBuffers: number;
  /** Bytes of the buffers handed out. */
  liveBytes: number;
  /** Buffers waiting in the pool for reuse. */
  freeBuffers: number;
  /** Bytes of the buffers waiting in the pool. */
  freeBytes: number;
  /** Most bytes the free list may hold before it evicts. */
  freeLimitBytes: number;
  /** Free buffers destroyed so far to stay within `freeLimitBytes`. */
  evictions: number;
}

/** Options of a `BufferPool`. */
export interface BufferPoolOptions {
  /** Most bytes held free for reuse (default `DEFAULT_POOL_FREE_BYTES`). */
  maxFreeBytes?: number;
  /**
   * Submits the pending commands. Called before a buffer released since the
   * last submit is destroyed or rewritten, since pending commands may use it.
   */
  flush?: () => void;
  /**
   * Receives, for each buffer created, a promise of the error the device
   * reported for it (out of memory), or null.
   */
  report?: (check: Promise<Error | null>) => void;
}

/** Default cap on the bytes of free pooled buffers: 512 MiB. */
export const DEFAULT_POOL_FREE_BYTES = 512 * 2 ** 20;

/**
 * Rounds a byte size up to its bucket: a power of two, at least 256.
 * @example
 * ```ts
 * import { bucketSize } from "@cnnf/webgpu/gpu";
 * import assert from "node:assert/strict";
 * assert.equal(bucketSize(4), 256);
 * assert.equal(bucketSize(1000), 1024);
 * assert.equal(bucketSize(1024), 1024);
 * ```
 */
export function bucketSize(bytes: number): number {
  let size = 256;
  while (size < bytes) size *= 2;
  return size;
}

/** Where a free buffer sits: its size and the submit it was released in. */
interface FreeEntry {
  size: number;
  epoch: number;
}

/**
 * Size-bucketed, capped buffer pool over one device. Needs WebGPU; the
 * example does nothing where there is no adapter.
 * @example A released buffer is reused for the next request of its bucket
 * ```ts
 * import { BufferPool, requestAdapter } from "@cnnf/webgpu/gpu";
 * import assert from "node:assert/strict";
 * const adapter = await requestAdapter();
 * if (adapter) {
 *   const device = await adapter.requestDevice();
 *   const pool = new BufferPool(device);
 *   const a = pool.acquire(1000); // served from the 1024-byte bucket
 *   assert.equal(a.size, 1024);
 *   pool.release(a);
 *   assert.equal(pool.acquire(600), a);
 *   assert.equal(pool.stats().liveBuffers, 1);
 *   device.destroy();
 * }
 * ```
 */
export class BufferPool {
  #device: GPUDevice;
  #options: BufferPoolOptions;
  /** Free buffers per size, oldest release first. */
  #free = new Map<number, GPUBuffer[]>();
  /** Every free buffer in release order (least recently used first). */
  #lru = new Map<GPUBuffer, FreeEntry>();
  #live = new Set<GPUBuffer>();
  #broken = new WeakSet<GPUBuffer>();
  #liveBytes = 0;
  #freeBytes = 0;
  #evictions = 0;
  #maxFreeBytes: number;
  /**
   * Count of submits so far, advanced by the runtime (`advance`): a buffer
   * released at the current epoch may still be used by unsubmitted work.
   */
  #epoch = 0;
  /** Usage flags of every pooled buffer. */
  readonly usage: number = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
    GPUBufferUsage.COPY_DST;

  /**
   * Creates an empty pool.
   * @param device The device that owns the buffers.
   * @param options Free-list cap and the runtime's hooks.
   */
  constructor(device: GPUDevice, options: BufferPoolOptions = {}) {
    this.#device = device;
    this.#options = options;
    this.#maxFreeBytes = checkLimit(
      options.maxFreeBytes ?? DEFAULT_POOL_FREE_BYTES,
    );
  }

  /** Most bytes held free; lowering it evicts at once. */
  get maxFreeBytes(): number {
    return this.#maxFreeBytes;
  }

  set maxFreeBytes(bytes: number) {
    this.#maxFreeBytes = checkLimit(bytes);
    this.#evict();
  }

  /**
   * The largest buffer this pool may create, and the device limit that sets
   * it: a pooled buffer is bound whole as storage, so both the buffer size
   * and the storage binding size limits apply.
   */
  limit(): { bytes: number; name: string } {
    const l = this.#device.limits;
    return l.maxStorageBufferBindingSize < l.maxBufferSize
      ? {
        bytes: l.maxStorageBufferBindingSize,
        name: "maxStorageBufferBindingSize",
      }
      : { bytes: l.maxBufferSize, name: "maxBufferSize" };
  }

  /**
   * Throws `GpuAllocationError` when `bytes` cannot be one pooled buffer.
   * @param op The op asking, for the message.
   */
  check(bytes: number, op = "alloc"): void {
    const limit = this.limit();
    if (!(bytes <= limit.bytes)) {
      throw new GpuAllocationError(op, bytes, limit.bytes, limit.name);
    }
  }

  /** The buffer size `bytes` is served with: its bucket, within the limit. */
  #sizeFor(bytes: number, op: string): number {
    this.check(bytes, op);
    // Past the limit's last power of two a bucket would not fit: use the
    // limit itself (rounded down to 4 bytes), still a single size.
    return Math.min(bucketSize(bytes), Math.floor(this.limit().bytes / 4) * 4);
  }

  /**
   * Returns a buffer of at least `bytes` bytes, reusing the most recently
   * released free one of its size if any.
   * @param op Name of the op asking, for error messages.
   * @throws {GpuAllocationError} when `bytes` is over the device's limits.
   */
  acquire(bytes: number, op = "alloc"): GPUBuffer {
    const size = this.#sizeFor(bytes, op);
    const list = this.#free.get(size);
    const buffer = list?.length ? this.#take(list, list.length - 1) : null;
    return this.#hand(buffer ?? this.#create(size, false, op));
  }

  /**
   * Returns a buffer holding `data`: a free buffer no pending command uses,
   * filled through the queue, or else a new buffer mapped at creation.
   * @param op Name of the op asking, for error messages.
   * @throws {GpuAllocationError} when the data is over the device's limits.
   */
  upload(data: ArrayBufferView, op = "upload"): GPUBuffer {
    const bytes = Math.max(4, data.byteLength);
    const size = this.#sizeFor(bytes, op);
    const src = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const list = this.#free.get(size) ?? [];
    // The most recently released free buffer of the size that was released
    // before the last submit: every command using it is already queued
    // ahead of the write (a queue write lands before pending commands).
    let i = list.length - 1;
    while (i >= 0 && this.#lru.get(list[i])!.epoch >= this.#epoch) i--;
    if (i >= 0) {
      const buffer = this.#take(list, i);
      // Copied (and padded to 4 bytes) at the call, as writeBuffer wants;
      // an empty write is skipped (Deno 2.9 panics on one).
      if (src.byteLength > 0) {
        const copy = new Uint8Array(Math.ceil(src.byteLength / 4) * 4);
        copy.set(src);
        this.#device.queue.writeBuffer(buffer, 0, copy);
      }
      return this.#hand(buffer);
    }
    const buffer = this.#create(size, true, op);
    try {
      new Uint8Array(buffer.getMappedRange()).set(src);
      buffer.unmap();
    } catch (e) {
      // The device could not create it (out of memory): never hand it out.
      this.#broken.add(buffer);
      buffer.destroy();
      throw new Error(
        `${op}: WebGPU could not allocate ${
          formatBytes(size)
        } (${size} bytes): ${(e as Error).message}`,
      );
    }
    return this.#hand(buffer);
  }

  /** Hands a buffer back for reuse. Releasing twice throws. */
  release(buffer: GPUBuffer): void {
    if (!this.#live.delete(buffer)) {
      throw new Error("BufferPool.release: buffer is not live (double free?)");
    }
    this.#liveBytes -= buffer.size;
    if (this.#broken.has(buffer)) {
      buffer.destroy();
      return;
    }
    let list = this.#free.get(buffer.size);
    if (!list) this.#free.set(buffer.size, list = []);
    list.push(buffer);
    this.#lru.set(buffer, { size: buffer.size, epoch: this.#epoch });
    this.#freeBytes += buffer.size;
    this.#evict();
  }

  /** Marks a submit: buffers released before it are out of pending work. */
  advance(): void {
    this.#epoch++;
  }

  /** Destroys the free buffers (live ones stay). */
  trim(): void {
    this.#flushIfPending([...this.#lru.values()]);
    for (const b of this.#lru.keys()) b.destroy();
    this.#free.clear();
    this.#lru.clear();
    this.#freeBytes = 0;
  }

  /** Current counts and bytes. */
  stats(): PoolStats {
    return {
      liveBuffers: this.#live.size,
      liveBytes: this.#liveBytes,
      freeBuffers: this.#lru.size,
      freeBytes: this.#freeBytes,
      freeLimitBytes: this.#maxFreeBytes,
      evictions: this.#evictions,
    };
  }

  #take(list: GPUBuffer[], index: number): GPUBuffer {
    const [buffer] = list.splice(index, 1);
    this.#lru.delete(buffer);
    this.#freeBytes -= buffer.size;
    return buffer;
  }

  #hand(buffer: GPUBuffer): GPUBuffer {
    this.#live.add(buffer);
    this.#liveBytes += buffer.size;
    return buffer;
  }

  /**
   * Creates a buffer inside error scopes, so a device that cannot hold it
   * reports to `report` (naming the op and size) instead of failing some
   * later kernel, and the buffer is destroyed on release, not reused.
   */
  #create(size: number, mapped: boolean, op: string): GPUBuffer {
    const device = this.#device;
    device.pushErrorScope("out-of-memory");
    device.pushErrorScope("validation");
    const buffer = device.createBuffer({
      size,
      usage: this.usage,
      mappedAtCreation: mapped,
      label: `pool:${size}`,
    });
    const check = async (scope: Promise<GPUError | null>) => {
      const err = await scope.catch(() => null);
      if (!err) return null;
      this.#broken.add(buffer);
      const entry = this.#lru.get(buffer);
      if (entry) {
        // Released before the error came back: take it off the free list.
        const list = this.#free.get(entry.size)!;
        this.#take(list, list.indexOf(buffer));
        buffer.destroy();
      }
      return new Error(
        `${op}: WebGPU could not allocate ${
          formatBytes(size)
        } (${size} bytes): ${err.message}`,
      );
    };
    const validation = check(device.popErrorScope());
    const memory = check(device.popErrorScope());
    this.#options.report?.(
      Promise.all([memory, validation]).then(([m, v]) => m ?? v),
    );
    return buffer;
  }

  /** Destroys least recently released free buffers past the cap. */
  #evict(): void {
    if (this.#freeBytes <= this.#maxFreeBytes) return;
    const victims: [GPUBuffer, FreeEntry][] = [];
    let bytes = this.#freeBytes;
    for (const entry of this.#lru) {
      if (bytes <= this.#maxFreeBytes) break;
      victims.push(entry);
      bytes -= entry[1].size;
    }
    this.#flushIfPending(victims.map(([, e]) => e));
    for (const [buffer, { size }] of victims) {
      // The oldest of its size, so the first of its list.
      this.#take(this.#free.get(size)!, 0);
      buffer.destroy();
      this.#evictions++;
    }
  }

  /** Submits pending work if any entry was released since the last submit. */
  #flushIfPending(entries: FreeEntry[]): void {
    if (entries.some((e) => e.epoch === this.#epoch)) this.#options.flush?.();
  }
}

function checkLimit(bytes: number): number {
  if (!(bytes >= 0)) {
    throw new Error(
      `BufferPool: maxFreeBytes must be a number >= 0, got ${bytes}`,
    );
  }
  return bytes;
}
