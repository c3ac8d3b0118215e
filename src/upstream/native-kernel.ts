/**
 * The C parser kernel (native/src/response_parser.c) for `--upstream-engine native`, or null when
 * the addon is not built or predates it (addon < 1.3.0); the engine then falls back to the
 * TypeScript kernel and says so once in the worker's log.
 */
import { nativeResponseParser, nativeLoadError } from '../util/native';
import type { ParserKernel } from './parser-kernel';

export const nativeKernel: ParserKernel | null =
  nativeResponseParser === null
    ? null
    : { name: 'native', parseHead: nativeResponseParser.parseHead, chunkScan: nativeResponseParser.chunkScan };

/** Why the native kernel is unavailable ('' when it is loaded). */
export const nativeKernelUnavailableReason: string =
  nativeKernel !== null ? '' : nativeLoadError !== null ? nativeLoadError.message : 'the native addon is out of date (no responseParser; rebuild with `sh native/build.sh`)';
