import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  applyHomography,
  displayToRenderHomography,
  focalLengthPx,
  multiply3,
  timewarpHomography,
  type Mat3,
} from '../client-sdk/reproject.js';

const view = { fovY: 90, width: 640, height: 480 };
const yaw = (radians: number) => [0, Math.sin(radians / 2), 0, Math.cos(radians / 2)];
const pitch = (radians: number) => [Math.sin(radians / 2), 0, 0, Math.cos(radians / 2)];

function close(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not within ${tolerance} of ${expected}`);
}

const test = suite('reproject');

test('equal poses give the identity homography', () => {
  const q = [0.1, 0.3, -0.2, 0.9];
  const h = timewarpHomography(q, q, view);
  const identity: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  h.forEach((v, i) => close(v / h[8], identity[i]!, 1e-9, `H[${i}]`));
});

test('yawing left by θ moves the principal point right by f·tan(θ)', () => {
  const theta = (5 * Math.PI) / 180;
  const h = timewarpHomography(yaw(0), yaw(theta), view);
  const p = applyHomography(h, view.width / 2, view.height / 2)!;
  close(p[0], view.width / 2 + focalLengthPx(view) * Math.tan(theta), 1e-6, 'x');
  close(p[1], view.height / 2, 1e-6, 'y');
});

test('pitching up by θ moves the principal point down by f·tan(θ)', () => {
  const theta = (3 * Math.PI) / 180;
  const p = applyHomography(timewarpHomography(pitch(0), pitch(theta), view), view.width / 2, view.height / 2)!;
  close(p[0], view.width / 2, 1e-6, 'x');
  close(p[1], view.height / 2 + focalLengthPx(view) * Math.tan(theta), 1e-6, 'y');
});

test('the display→render homography undoes the render→display one', () => {
  const a = [0.05, 0.2, 0.01, 0.98];
  const b = [-0.03, 0.25, 0.02, 0.97];
  const product = multiply3(displayToRenderHomography(a, b, view), timewarpHomography(a, b, view));
  const p = applyHomography(product, 123.5, 321.25)!;
  close(p[0], 123.5, 1e-6, 'x');
  close(p[1], 321.25, 1e-6, 'y');
});

test('a point behind the display camera maps to null', () => {
  const h = timewarpHomography(yaw(0), yaw(Math.PI), view);
  assert.is(applyHomography(h, view.width / 2, view.height / 2), null);
});

test.run();
