/**
 * Child process for cross-backend checks: loads the shipped learned predictor on the backend
 * EDGE_TF_BACKEND names, replays the trap tasks of the JSON file in argv[2] through it, and
 * prints {"backend", "answers": [[...per task]]} on stdout.
 */
import { readFileSync } from 'node:fs';
import { loadInference, replayPredictions } from '../../edge-server/inference/index.js';
import type { TrapTask } from '../../client-sdk/trust/index.js';

const tasks = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as TrapTask[];
const inference = await loadInference({ log: () => {} });
const factories = new Map(inference.predictors.map((p) => [p.name, p]));
if (!factories.has('learned')) throw new Error('no learned predictor on this backend');
const answers = [];
for (const task of tasks) answers.push(await replayPredictions(factories, task.messages, { defaultPredictor: 'learned' }));
process.stdout.write(JSON.stringify({ backend: inference.runtime.backend, answers }) + '\n');
await inference.engine.close();
inference.registry.dispose();
