import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** protocol/ at the repository root, found from this file (src or dist). */
const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, here.endsWith(join("dist", "scripts")) ? "../../../.." : "../../..");
export const protocolDir = join(repoRoot, "protocol");
