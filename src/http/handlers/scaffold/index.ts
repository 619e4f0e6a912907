/**
 * The operations whose handler is a file of this folder, with their spec/ document. Written by
 * scripts/scaffold-handlers.ts (`npm run generate`) from the files here: do not edit; add or delete
 * a file and run it again. src/app.ts mounts them beside the services (src/http/handlers/scaffolding.ts).
 */
import type { Scaffolds } from '../scaffolding.js';

export const scaffolds = {} as const satisfies Scaffolds;
