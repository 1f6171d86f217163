/**
 * Scenes a renderer can draw: the built-in test scene (shared, read-only) and the scenes each
 * session uploads (GLB only, validated by glb.ts before three.js parses them, capped per session).
 *
 * Embedded textures are decoded with sharp (three's own image path needs a DOM), after checking
 * their size, so an uploaded PNG cannot make the node allocate an arbitrarily large bitmap.
 */
import sharp from 'sharp';
import {
  AmbientLight,
  ClampToEdgeWrapping,
  Color,
  DataTexture,
  DirectionalLight,
  Group,
  HemisphereLight,
  LinearMipmapLinearFilter,
  MirroredRepeatWrapping,
  RepeatWrapping,
  RGBAFormat,
  Scene,
  type Material,
  type Mesh,
  type Object3D,
  type Wrapping,
} from 'three/webgpu';
import { GLTFLoader, type GLTFParser } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { ErrorCode, InvalidStateError, RequestError } from '../../protocol/index.js';
import { DEFAULT_SCENE_LIMITS, parseGlb, type SceneLimits } from './glb.js';
import { buildTestSceneGlb, TEST_BACKGROUND, TEST_SCENE_NAME } from './testScene.js';

export interface LoadedScene {
  readonly name: string;
  readonly scene: Scene;
  readonly vertexCount: number;
}

const WRAPPING: Record<number, Wrapping> = {
  33071: ClampToEdgeWrapping,
  33648: MirroredRepeatWrapping,
  10497: RepeatWrapping,
};

/** GLTFLoader plugin: embedded images → DataTexture via sharp, size-checked before decoding. */
function sharpTextures(limits: SceneLimits) {
  return (parser: GLTFParser) => ({
    name: 'EDGE_OFFLOAD_sharp_textures',
    async loadTexture(textureIndex: number): Promise<DataTexture> {
      const json = parser.json;
      const def = json.textures?.[textureIndex];
      const image = def && Number.isInteger(def.source) ? json.images?.[def.source] : undefined;
      if (!image || !Number.isInteger(image.bufferView)) {
        throw new RequestError(ErrorCode.BAD_REQUEST, `scene: textures[${textureIndex}] has no embedded image`);
      }
      const bytes = new Uint8Array((await parser.getDependency('bufferView', image.bufferView)) as ArrayBuffer);
      const max = limits.maxTextureSize;
      const meta = await sharp(bytes, { limitInputPixels: max * max }).metadata().catch(() => null);
      if (!meta?.width || !meta.height) throw new RequestError(ErrorCode.BAD_REQUEST, `scene: image ${def.source} does not decode`);
      if (meta.width > max || meta.height > max) {
        throw new RequestError(ErrorCode.TOO_LARGE, `scene: image ${def.source} is ${meta.width}×${meta.height}, over ${max} px`);
      }
      const { data, info } = await sharp(bytes, { limitInputPixels: max * max })
        .ensureAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const texture = new DataTexture(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), info.width, info.height, RGBAFormat);
      texture.flipY = false; // glTF UVs have their origin top-left, like the decoded rows
      texture.generateMipmaps = true;
      texture.minFilter = LinearMipmapLinearFilter;
      const sampler = Number.isInteger(def.sampler) ? json.samplers?.[def.sampler] : undefined;
      texture.wrapS = WRAPPING[sampler?.wrapS as number] ?? RepeatWrapping;
      texture.wrapT = WRAPPING[sampler?.wrapT as number] ?? RepeatWrapping;
      texture.needsUpdate = true;
      return texture;
    },
  });
}

function disposeTree(root: Object3D): void {
  root.traverse((object) => {
    const mesh = object as Mesh;
    mesh.geometry?.dispose();
    const materials = Array.isArray(mesh.material) ? mesh.material : mesh.material ? [mesh.material] : [];
    for (const material of materials as Material[]) {
      for (const value of Object.values(material)) {
        if (value instanceof DataTexture) value.dispose();
      }
      material.dispose();
    }
  });
}

export class SceneStore {
  readonly limits: SceneLimits;
  readonly #sessions = new Map<string, Map<string, LoadedScene>>();
  #testScene: Promise<LoadedScene> | null = null;

  constructor(limits: Partial<SceneLimits> = {}) {
    this.limits = { ...DEFAULT_SCENE_LIMITS, ...limits };
  }

  /** Validates and parses a GLB into a renderable scene with default lighting. */
  async parse(name: string, glb: Uint8Array, background: readonly number[] = TEST_BACKGROUND): Promise<LoadedScene> {
    const parsed = parseGlb(glb, this.limits);
    const loader = new GLTFLoader().register(sharpTextures(this.limits));
    // GLTFLoader wants an ArrayBuffer holding exactly the file.
    const bytes = glb.buffer.slice(glb.byteOffset, glb.byteOffset + glb.byteLength) as ArrayBuffer;
    let root: Group;
    try {
      const gltf = await loader.parseAsync(bytes, '');
      root = gltf.scene;
    } catch (err) {
      if (err instanceof RequestError) throw err;
      throw new RequestError(ErrorCode.BAD_REQUEST, `scene: glTF does not load (${(err as Error).message})`);
    }
    const scene = new Scene();
    scene.background = new Color().setRGB(background[0] ?? 0, background[1] ?? 0, background[2] ?? 0);
    // Lit materials need light; a scene that brings its own (KHR_lights_punctual) adds to these.
    scene.add(new HemisphereLight(0xffffff, 0x404040, 1.5));
    scene.add(new AmbientLight(0xffffff, 0.3));
    const sun = new DirectionalLight(0xffffff, 1.5);
    sun.position.set(3, 10, 5);
    scene.add(sun);
    scene.add(root);
    scene.updateMatrixWorld(true);
    return { name, scene, vertexCount: parsed.vertexCount };
  }

  testScene(): Promise<LoadedScene> {
    this.#testScene ??= this.parse(TEST_SCENE_NAME, buildTestSceneGlb());
    return this.#testScene;
  }

  /** Stores a session's scene under `name`, replacing (and freeing) one of the same name. */
  async load(sessionId: string, name: string, glb: Uint8Array): Promise<LoadedScene> {
    if (name === TEST_SCENE_NAME) throw new RequestError(ErrorCode.BAD_REQUEST, `scene: '${TEST_SCENE_NAME}' is the built-in scene's name`);
    let scenes = this.#sessions.get(sessionId);
    if (!scenes) this.#sessions.set(sessionId, (scenes = new Map()));
    const full = () => !scenes.has(name) && scenes.size >= this.limits.maxScenesPerSession;
    const tooMany = () => new RequestError(ErrorCode.TOO_LARGE, `scene: a session may hold ${this.limits.maxScenesPerSession} scenes`);
    if (full()) throw tooMany();
    let loaded: LoadedScene;
    try {
      loaded = await this.parse(name, glb);
    } catch (err) {
      if (scenes.size === 0 && this.#sessions.get(sessionId) === scenes) this.#sessions.delete(sessionId);
      throw err;
    }
    // While we parsed, the session may have been released or filled up by a concurrent upload.
    if (this.#sessions.get(sessionId) !== scenes || full()) {
      disposeTree(loaded.scene);
      if (this.#sessions.get(sessionId) !== scenes) throw new InvalidStateError('session released during the upload');
      throw tooMany();
    }
    const previous = scenes.get(name);
    scenes.set(name, loaded);
    if (previous) disposeTree(previous.scene);
    return loaded;
  }

  /** The scene a render request names: the session's own, or the built-in test scene. */
  async get(sessionId: string, name: string | undefined): Promise<LoadedScene> {
    if (name === undefined || name === TEST_SCENE_NAME) return this.testScene();
    const scene = this.#sessions.get(sessionId)?.get(name);
    if (!scene) throw new RequestError(ErrorCode.BAD_REQUEST, `scene '${name}' is not loaded in this session`);
    return scene;
  }

  sceneNames(sessionId: string): string[] {
    return [...(this.#sessions.get(sessionId)?.keys() ?? [])];
  }

  release(sessionId: string): void {
    const scenes = this.#sessions.get(sessionId);
    if (!scenes) return;
    this.#sessions.delete(sessionId);
    for (const { scene } of scenes.values()) disposeTree(scene);
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  close(): void {
    for (const id of [...this.#sessions.keys()]) this.release(id);
  }
}
