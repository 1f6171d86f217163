/**
 * Saves a tfjs model as `model.json` + `weights.bin` with plain fs, on any backend (tfjs-node's
 * `file://` handler exists only when its native binding loads). Same layout tfjs-node writes,
 * and what ModelRegistry reads.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as TF from '@tensorflow/tfjs';
import type { Tf } from '../../edge-server/inference/backend.js';

export function saveModelFiles(tf: Tf, dir: string): TF.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    mkdirSync(dir, { recursive: true });
    const weights = artifacts.weightData as ArrayBuffer;
    writeFileSync(join(dir, 'weights.bin'), Buffer.from(weights));
    const json = {
      modelTopology: artifacts.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      format: artifacts.format,
      generatedBy: artifacts.generatedBy,
      convertedBy: artifacts.convertedBy ?? null,
      userDefinedMetadata: artifacts.userDefinedMetadata,
    };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
  });
}
