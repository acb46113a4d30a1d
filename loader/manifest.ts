/**
 * The sha256 manifest of the GSP firmware falconry fetches: every regular
 * file below `nvidia/<chip>/gsp/` in Debian's `firmware-nvidia-graphics`
 * package, and every symlink the package uses to share them (file links,
 * `<chip>/gsp` folder links and chip folder links). Generated data: when
 * Debian ships a new package version, regenerate it from a fetch into a
 * temporary cache that checks against an empty manifest:
 *
 * ```sh
 * deno eval 'import { fetchFirmware } from "./loader/fetch.ts";
 *   import { renderManifestModule, scanFirmwareTree } from "./loader/verify.ts";
 *   const empty = { package: "firmware-nvidia-graphics", version: "", suite: "sid",
 *     component: "non-free-firmware", files: {}, links: {} };
 *   const cacheDir = await Deno.makeTempDir();
 *   const r = await fetchFirmware({ cacheDir, manifest: empty });
 *   const tree = await scanFirmwareTree(r.firmwareDir);
 *   await Deno.remove(cacheDir, { recursive: true });
 *   console.log(renderManifestModule({ ...empty, version: r.packageVersion, ...tree }));' \
 *   > /tmp/manifest.ts && mv /tmp/manifest.ts loader/manifest.ts && deno fmt loader/manifest.ts
 * ```
 *
 * @module
 */

import type { FirmwareManifest } from "./manifest_types.ts";

export type { FirmwareManifest, ManifestFile } from "./manifest_types.ts";

/**
 * The manifest of the firmware falconry fetches.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FIRMWARE_MANIFEST } from "./manifest.ts";
 * const gsp = FIRMWARE_MANIFEST.files["nvidia/ga102/gsp/gsp-570.144.bin"];
 * assert(gsp.sha256.length === 64 && gsp.size > 0);
 * assert(FIRMWARE_MANIFEST.links["nvidia/tu104/gsp"] === "../tu102/gsp");
 * ```
 */
export const FIRMWARE_MANIFEST: FirmwareManifest = {
  package: "firmware-nvidia-graphics",
  version: "20260916-1",
  suite: "sid",
  component: "non-free-firmware",
  files: {
    "nvidia/ad102/gsp/booter_load-535.113.01.bin": {
      sha256: "7d4ef3258da016f5208cfb1b348a9a1d69aaa13c2f8d4ee8c05d66bd05b45cd6",
      size: 55928,
    },
    "nvidia/ad102/gsp/booter_load-570.144.bin": {
      sha256: "8b293e19b637c5e22c87a2428d1c71bb13e0904e8a88ac6b3c6c1f2679c6e37a",
      size: 57720,
    },
    "nvidia/ad102/gsp/booter_unload-535.113.01.bin": {
      sha256: "d036dfee0545c36e2194bc555cb268a5e11a6f13b5f66a7dec40838efc6ad87e",
      size: 39800,
    },
    "nvidia/ad102/gsp/booter_unload-570.144.bin": {
      sha256: "975b85a14ded8e430d30f000c3c1afdd55c15dee04f35ff9dfd876acd7e67186",
      size: 41592,
    },
    "nvidia/ad102/gsp/bootloader-535.113.01.bin": {
      sha256: "044d3a21eff73eb12f22840e5f145d685727f40165b3f2d265cf664753e9ff9c",
      size: 32876,
    },
    "nvidia/ad102/gsp/bootloader-570.144.bin": {
      sha256: "65ab2e6b6e0fca95365c4deac79a34582abcfeb15b6ae234138f22e7183118a8",
      size: 36972,
    },
    "nvidia/ad102/gsp/scrubber-570.144.bin": {
      sha256: "c397358e5c4258dab070966589c7b172eb00771fd15d0bb74b8e22f327c1909b",
      size: 8312,
    },
    "nvidia/ga100/gsp/booter_load-535.113.01.bin": {
      sha256: "1d11d861ef1f41ee0a3437684ec29d0a5573be0c65b2823d38a2a8ec395c8ed9",
      size: 59128,
    },
    "nvidia/ga100/gsp/booter_load-570.144.bin": {
      sha256: "46bafe32b2d1f59713fc8369b5e59e7267d7da4413ad6486aef69d50daa764cd",
      size: 60664,
    },
    "nvidia/ga100/gsp/booter_unload-535.113.01.bin": {
      sha256: "0518f894d45977d817b6308448ea482e93ede1096808d49c6ed62c7604772f0c",
      size: 38904,
    },
    "nvidia/ga100/gsp/booter_unload-570.144.bin": {
      sha256: "33bea24690c3880a82b47b1a67cbd3cb48707d1c9c26a5db40df6e9682de4da6",
      size: 40440,
    },
    "nvidia/ga100/gsp/bootloader-535.113.01.bin": {
      sha256: "e7670009c98791b8030953ab1d22ecdbf3e073744d928fa15f6267de4eceaad3",
      size: 4196,
    },
    "nvidia/ga102/gsp/booter_load-535.113.01.bin": {
      sha256: "3ab46bf4c70d72e8fc89d98e6bdc9b83a61954a586629d26b8b5653a620237e0",
      size: 59768,
    },
    "nvidia/ga102/gsp/booter_load-570.144.bin": {
      sha256: "4497e3eff7e95c774b8a569d17b27c08c9650158d10b229d2be81cdcad9a085b",
      size: 61304,
    },
    "nvidia/ga102/gsp/booter_unload-535.113.01.bin": {
      sha256: "09240c83595856a0fe70d2ab3ec7325455cd8adfc48ec7b47f6fced1e5431beb",
      size: 39544,
    },
    "nvidia/ga102/gsp/booter_unload-570.144.bin": {
      sha256: "8e63db5b78d7d3e349f20a2d11099c3d7109081393cb09ffc0a28133324ae009",
      size: 41080,
    },
    "nvidia/ga102/gsp/bootloader-535.113.01.bin": {
      sha256: "076d2a0675131ad8a8de215c611ce4271289adcc03e2cf39995f9b29079e2136",
      size: 20588,
    },
    "nvidia/ga102/gsp/bootloader-570.144.bin": {
      sha256: "82428f532240727e95bb3083fbaaba9b2cc7b937314323f2d546ce7245f27fad",
      size: 24684,
    },
    "nvidia/ga102/gsp/gsp-535.113.01.bin": {
      sha256: "e30231ec0d317021770e16c81ae2c0553f728d0344248827582f78132c9447d4",
      size: 38061600,
    },
    "nvidia/ga102/gsp/gsp-570.144.bin": {
      sha256: "a8c3ebeed280323aedb51c061f321e73379cce7a9ae643a33dd03915df027f7f",
      size: 63571696,
    },
    "nvidia/gb100/gsp/bootloader-570.144.bin": {
      sha256: "daebc2235c9756f2418c2116815a4bb94fc330506f5af60d883e4a740d397062",
      size: 200812,
    },
    "nvidia/gb100/gsp/fmc-570.144.bin": {
      sha256: "bc7497c2d8116cceec2fe5638081d60b8f9c0e3dceb0b57dc93950c84909ce21",
      size: 198028,
    },
    "nvidia/gb202/gsp/bootloader-570.144.bin": {
      sha256: "d40b48e431d1707dc77af3605db358ed7a32ebfc2830eb74de2eddb4d3025071",
      size: 200812,
    },
    "nvidia/gb202/gsp/fmc-570.144.bin": {
      sha256: "cb59a35c1d4bd1274d7267fd10243c29f843ff41c851b9cbd59f5af2ddd7fece",
      size: 199820,
    },
    "nvidia/gh100/gsp/bootloader-570.144.bin": {
      sha256: "2176e42f05729ac4dd93ed6cd1b4c6c5650b6aa79c115dfcd9f26a71c1d8d82e",
      size: 168044,
    },
    "nvidia/gh100/gsp/fmc-570.144.bin": {
      sha256: "f3ce25f3897c860e4cdde183ebf09b254d94a5d8191d666c12afb33cc7121107",
      size: 166600,
    },
    "nvidia/tu102/gsp/booter_load-535.113.01.bin": {
      sha256: "e1c574cc0734aebeae7954ad727917141d11f472e15dd206791857e63df84fda",
      size: 57992,
    },
    "nvidia/tu102/gsp/booter_load-570.144.bin": {
      sha256: "7bb181f544a942299bbf4642da6d9bb58bfed8459725094e2ace56647cd3ec8c",
      size: 59272,
    },
    "nvidia/tu102/gsp/booter_unload-535.113.01.bin": {
      sha256: "68cddb9e6d61d7bf78b06197e6bce8fc6f25b2f34d570c517f85974b4f360a2a",
      size: 38024,
    },
    "nvidia/tu102/gsp/booter_unload-570.144.bin": {
      sha256: "5c7f1aa37d045cc20bb81584a830e8dfa4483f1cd63943de83a58c4be19a1782",
      size: 39304,
    },
    "nvidia/tu102/gsp/bootloader-535.113.01.bin": {
      sha256: "12e987b636c2f00fa40f42fd95097515c0817b158119c584049a37faf38f8f96",
      size: 4196,
    },
    "nvidia/tu102/gsp/gen_bootloader-570.144.bin": {
      sha256: "b37776a511b4a00901e4e3ac568db917086d3bf439f85bc9b3e4adc7338a0aff",
      size: 816,
    },
    "nvidia/tu102/gsp/gsp-535.113.01.bin": {
      sha256: "be2c3bb39cee2c4bd6680dce9eb75b26105c576e5aaf2c82f59d11a79f103749",
      size: 23750944,
    },
    "nvidia/tu102/gsp/gsp-570.144.bin": {
      sha256: "3052aee2872182a14d8d7c069e3a14fe4642405894b24692c4aca4101dfb1809",
      size: 28542040,
    },
    "nvidia/tu116/gsp/booter_load-535.113.01.bin": {
      sha256: "aeca340bbc42f739d34a1c64c91b0176f264df5e1b8ff5a054e91d53d70a5cf8",
      size: 57992,
    },
    "nvidia/tu116/gsp/booter_load-570.144.bin": {
      sha256: "9bd01804b4b91d92904e7735b025e07a3c935bc6fb92e3833e85c297546025b9",
      size: 59016,
    },
    "nvidia/tu116/gsp/booter_unload-535.113.01.bin": {
      sha256: "3653ff42f0d64d2918e9f250bf10ee332fc9d8ab775afcfb695566e95c295acf",
      size: 38024,
    },
    "nvidia/tu116/gsp/booter_unload-570.144.bin": {
      sha256: "bf4a2b778722dde57850839bb9f7651ae29592ce85d6df4160d2d228ff430156",
      size: 39048,
    },
  },
  links: {
    "nvidia/ad102/gsp/gsp-535.113.01.bin": "../../ga102/gsp/gsp-535.113.01.bin",
    "nvidia/ad102/gsp/gsp-570.144.bin": "../../ga102/gsp/gsp-570.144.bin",
    "nvidia/ad103": "ad102",
    "nvidia/ad104": "ad102",
    "nvidia/ad106": "ad102",
    "nvidia/ad107": "ad102",
    "nvidia/ga100/gsp/bootloader-570.144.bin": "bootloader-535.113.01.bin",
    "nvidia/ga100/gsp/gen_bootloader-570.144.bin": "../../tu102/gsp/gen_bootloader-570.144.bin",
    "nvidia/ga100/gsp/gsp-535.113.01.bin": "../../tu102/gsp/gsp-535.113.01.bin",
    "nvidia/ga100/gsp/gsp-570.144.bin": "../../tu102/gsp/gsp-570.144.bin",
    "nvidia/ga103/gsp": "../ga102/gsp",
    "nvidia/ga104/gsp": "../ga102/gsp",
    "nvidia/ga106/gsp": "../ga102/gsp",
    "nvidia/ga107/gsp": "../ga102/gsp",
    "nvidia/gb100/gsp/gsp-570.144.bin": "../../ga102/gsp/gsp-570.144.bin",
    "nvidia/gb102": "gb100",
    "nvidia/gb202/gsp/gsp-570.144.bin": "../../ga102/gsp/gsp-570.144.bin",
    "nvidia/gb203": "gb202",
    "nvidia/gb205": "gb202",
    "nvidia/gb206": "gb202",
    "nvidia/gb207": "gb202",
    "nvidia/gh100/gsp/gsp-570.144.bin": "../../ga102/gsp/gsp-570.144.bin",
    "nvidia/tu102/gsp/bootloader-570.144.bin": "bootloader-535.113.01.bin",
    "nvidia/tu104/gsp": "../tu102/gsp",
    "nvidia/tu106/gsp": "../tu102/gsp",
    "nvidia/tu116/gsp/bootloader-535.113.01.bin": "../../tu102/gsp/bootloader-535.113.01.bin",
    "nvidia/tu116/gsp/bootloader-570.144.bin": "../../tu102/gsp/bootloader-570.144.bin",
    "nvidia/tu116/gsp/gen_bootloader-570.144.bin": "../../tu102/gsp/gen_bootloader-570.144.bin",
    "nvidia/tu116/gsp/gsp-535.113.01.bin": "../../tu102/gsp/gsp-535.113.01.bin",
    "nvidia/tu116/gsp/gsp-570.144.bin": "../../tu102/gsp/gsp-570.144.bin",
    "nvidia/tu117/gsp": "../tu116/gsp",
  },
};
