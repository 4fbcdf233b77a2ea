import { main } from './main';

// The bundle's entry: run the command named by the first argument (the wrappers pass it).
process.exitCode = main(process.argv.slice(2));
