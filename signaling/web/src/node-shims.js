// Node globals simple-peer and its stream library expect, for the browser bundle
// (esbuild injects these wherever the names are used).
import { Buffer } from 'buffer';
import process from 'process';

export { Buffer, process };
