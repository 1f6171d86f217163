/**
 * Rotation-only timewarp: corrects a frame rendered at one head orientation for display at
 * another. Pure math (no DOM, no Node), so it runs in a headset's frame loop or a shader's setup.
 *
 * Conventions
 * - Orientations are unit quaternions `[x, y, z, w]` (WebXR/three.js), camera → world: the camera
 *   looks down its local −z with +y up and +x right.
 * - Pixels: origin at the top-left corner of the image, x right, y down, pixel centres at +0.5.
 * - Intrinsics K = [[f, 0, cx], [0, f, cy], [0, 0, 1]] with f = (height / 2) / tan(fovY / 2) (square
 *   pixels) and the principal point at the image centre (the renderer's projection is symmetric).
 * - C = diag(1, −1, −1) turns the WebXR camera frame (y up, looking −z) into the pinhole frame
 *   (y down, looking +z) that K expects; C = C⁻¹.
 *
 * A world direction w shows at pixel p ~ K · C · Rᵀ · w for camera orientation R, so a pixel of the
 * frame rendered at R_render appears, at display orientation R_display, at
 *
 *     p_display ~ H · p_render,   H = K · C · R_display⁻¹ · R_render · C · K⁻¹
 *
 * (`timewarpHomography`). To warp by sampling, as a shader does, use H⁻¹: for every display pixel,
 * read the rendered frame at H⁻¹ · p_display (`displayToRenderHomography`). Translation (and so
 * parallax) is not corrected: the rotation dominates at the tens of milliseconds we bridge.
 * For a side-by-side (`eye: 'both'`) frame, apply it to each half with that half's width.
 */
import type { Quat } from '../protocol/messages.js';

/** Row-major 3×3 matrix. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

export interface ViewIntrinsics {
  /** Vertical field of view, degrees. */
  fovY: number;
  /** Width and height in pixels of one eye's image. */
  width: number;
  height: number;
}

export function focalLengthPx(view: ViewIntrinsics): number {
  return view.height / 2 / Math.tan((view.fovY * Math.PI) / 360);
}

export function intrinsicsMatrix(view: ViewIntrinsics): Mat3 {
  const f = focalLengthPx(view);
  return [f, 0, view.width / 2, 0, f, view.height / 2, 0, 0, 1];
}

export function multiply3(a: Mat3, b: Mat3): Mat3 {
  const out = new Array<number>(9) as Mat3;
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      out[r * 3 + c] = a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!;
    }
  }
  return out;
}

export function transpose3(m: Mat3): Mat3 {
  return [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]];
}

export function invert3(m: Mat3): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-300) throw new RangeError('matrix is singular');
  const s = 1 / det;
  return [
    A * s, -(b * i - c * h) * s, (b * f - c * e) * s,
    B * s, (a * i - c * g) * s, -(a * f - c * d) * s,
    C * s, -(a * h - b * g) * s, (a * e - b * d) * s,
  ];
}

/** Rotation matrix of a quaternion `[x, y, z, w]` (normalised here). */
export function rotationMatrix(q: readonly number[]): Mat3 {
  let [x = 0, y = 0, z = 0, w = 1] = q;
  const n = Math.hypot(x, y, z, w) || 1;
  x /= n; y /= n; z /= n; w /= n;
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
    2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
    2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
  ];
}

const FLIP_YZ: Mat3 = [1, 0, 0, 0, -1, 0, 0, 0, -1];

/** H: rendered-frame pixel → where it belongs on the display (see the header for conventions). */
export function timewarpHomography(renderOrientation: Quat | readonly number[], displayOrientation: Quat | readonly number[], view: ViewIntrinsics): Mat3 {
  const K = intrinsicsMatrix(view);
  const relative = multiply3(transpose3(rotationMatrix(displayOrientation)), rotationMatrix(renderOrientation));
  return multiply3(multiply3(K, multiply3(FLIP_YZ, multiply3(relative, FLIP_YZ))), invert3(K));
}

/** H⁻¹: display pixel → where to sample the rendered frame (what a warp shader needs). */
export function displayToRenderHomography(renderOrientation: Quat | readonly number[], displayOrientation: Quat | readonly number[], view: ViewIntrinsics): Mat3 {
  return timewarpHomography(displayOrientation, renderOrientation, view);
}

/** Applies a homography to a pixel; `null` when the point maps behind the camera (w ≤ 0). */
export function applyHomography(h: Mat3, x: number, y: number): [number, number] | null {
  const w = h[6] * x + h[7] * y + h[8];
  if (!(w > 1e-12)) return null;
  return [(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w];
}
