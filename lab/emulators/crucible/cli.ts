import { processIo } from './io';
import { main } from './main';

// The bundle's entry: run the program named by the first argument (the wrappers pass it).
main(process.argv.slice(2), processIo).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`thread 'main' panicked: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 101;
  },
);
