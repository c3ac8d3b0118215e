/**
 * The C parser kernel (native/src/response_parser.c) for `--upstream-engine native`, or null when
 * the addon is not built or predates it (addon < 1.3.0); the engine then falls back to the
 * TypeScript kernel and says so once in the worker's log.
 *
 * The scratch arrays are bound to the addon once per thread, so a call passes only the bytes.
 */
import { nativeResponseParser, nativeLoadError, type NativeResponseParser } from '../util/native';
import { ChunkSlot, HeadOut, INITIAL_RANGE_HEADERS, type ParserKernel } from './parser-kernel';

class NativeKernel implements ParserKernel {
  readonly name = 'native';
  readonly out = new Float64Array(HeadOut.Slots);
  ranges = new Int32Array(INITIAL_RANGE_HEADERS * 4);
  readonly chunkState = new Float64Array(ChunkSlot.Slots);
  readonly #addon: NativeResponseParser;

  constructor(addon: NativeResponseParser) {
    this.#addon = addon;
    addon.bind(this.out, this.ranges, this.chunkState);
  }

  parseHead(buf: Buffer, start: number, end: number): number {
    return this.#addon.parseHead(buf, start, end);
  }

  scanHead(buf: Buffer, start: number, max: number): number {
    return this.#addon.scanHead(buf, start, max);
  }

  growRanges(): void {
    const bigger = new Int32Array(this.ranges.length * 2);
    bigger.set(this.ranges);
    this.ranges = bigger;
    this.#addon.bind(this.out, this.ranges, this.chunkState);
  }

  chunkScan(buf: Buffer, i: number): number {
    return this.#addon.chunkScan(buf, i);
  }
}

export const nativeKernel: ParserKernel | null = nativeResponseParser === null ? null : new NativeKernel(nativeResponseParser);

/** Why the native kernel is unavailable ('' when it is loaded). */
export const nativeKernelUnavailableReason: string =
  nativeKernel !== null ? '' : nativeLoadError !== null ? nativeLoadError.message : 'the native addon is out of date (no responseParser; rebuild with `sh native/build.sh`)';
