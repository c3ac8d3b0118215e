/**
 * The gRPC bench's upstream: an @grpc/grpc-js server (plaintext HTTP/2) with one unary method,
 * /bench.Echo/Unary, that answers the request message's bytes unchanged. The serializers are the
 * identity, so no protobuf work is done on either side: the bench measures the proxies.
 * Prints "ready <port>" on stdout once bound.
 *
 *   node dist/bench/grpc/upstream.js --port N
 */
import * as grpc from '@grpc/grpc-js';

export const ECHO_PATH = '/bench.Echo/Unary';

const identity = (b: Buffer) => b;

function main(): void {
  const at = process.argv.indexOf('--port');
  const port = at > 0 ? Number(process.argv[at + 1]) : 0;
  const server = new grpc.Server();
  server.addService(
    {
      Unary: {
        path: ECHO_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
    },
  );
  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
    if (err) {
      process.stderr.write(`bind failed: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`ready ${bound}\n`);
  });
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}

if (require.main === module) main();
