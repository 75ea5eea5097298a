/**
 * A size-bucketed pool of storage buffers. GPU buffers are garbage-collected
 * objects in Deno, reclaimed far too late for a training loop, so tensors hand
 * their buffers back here explicitly and later allocations reuse them.
 *
 * @module
 */

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
}

/** Rounds a byte size up to its bucket: a power of two, at least 256. */
export function bucketSize(bytes: number): number {
  let size = 256;
  while (size < bytes) size *= 2;
  return size;
}

/** Size-bucketed buffer pool over one device. */
export class BufferPool {
  #device: GPUDevice;
  #free = new Map<number, GPUBuffer[]>();
  #live = new Set<GPUBuffer>();
  #liveBytes = 0;
  #freeBytes = 0;
  #freeCount = 0;
  /** Usage flags of every pooled buffer. */
  readonly usage: number = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC |
    GPUBufferUsage.COPY_DST;

  /**
   * Creates an empty pool.
   * @param device The device that owns the buffers.
   */
  constructor(device: GPUDevice) {
    this.#device = device;
  }

  /**
   * Returns a buffer of at least `bytes` bytes, reusing a free one if any.
   * With `mapped`, the buffer is new and mapped for writing (for uploads).
   */
  acquire(bytes: number, mapped = false): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.#free.get(size);
    let buffer: GPUBuffer | undefined;
    if (!mapped && list && list.length > 0) {
      buffer = list.pop()!;
      this.#freeBytes -= size;
      this.#freeCount--;
    } else {
      buffer = this.#device.createBuffer({
        size,
        usage: this.usage,
        mappedAtCreation: mapped,
        label: `pool:${size}`,
      });
    }
    this.#live.add(buffer);
    this.#liveBytes += size;
    return buffer;
  }

  /** Hands a buffer back for reuse. Releasing twice throws. */
  release(buffer: GPUBuffer): void {
    if (!this.#live.delete(buffer)) {
      throw new Error("BufferPool.release: buffer is not live (double free?)");
    }
    this.#liveBytes -= buffer.size;
    let list = this.#free.get(buffer.size);
    if (!list) this.#free.set(buffer.size, list = []);
    list.push(buffer);
    this.#freeBytes += buffer.size;
    this.#freeCount++;
  }

  /** Destroys the free buffers (live ones stay). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const b of list) b.destroy();
    }
    this.#free.clear();
    this.#freeBytes = 0;
    this.#freeCount = 0;
  }

  /** Current live and free counts and bytes. */
  stats(): PoolStats {
    return {
      liveBuffers: this.#live.size,
      liveBytes: this.#liveBytes,
      freeBuffers: this.#freeCount,
      freeBytes: this.#freeBytes,
    };
  }
}
