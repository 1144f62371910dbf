import { parentPort, workerData } from 'node:worker_threads';
import { MediaCalls, type MediaProbeOptions } from './media-call.js';

/** Worker entry: run the calls, post the outcomes; the parent terminates the thread afterwards. */
const outcomes = await new MediaCalls(workerData as MediaProbeOptions).run();
parentPort?.postMessage(outcomes);
