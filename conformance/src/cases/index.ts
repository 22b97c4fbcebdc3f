import type { Case } from "../case.js";
import type { BrokerCtx } from "../broker-ctx.js";
import { httpCases } from "./broker-http.js";
import { messagingCases } from "./broker-messaging.js";
import { poolCases } from "./broker-pools.js";
import { taskCases } from "./broker-tasks.js";
import { traceCases } from "./broker-trace.js";
import { wireCases } from "./broker-wire.js";
import { workflowCases } from "./broker-workflows.js";

export const brokerCases: readonly Case<BrokerCtx>[] = [...wireCases, ...taskCases, ...messagingCases, ...poolCases, ...traceCases, ...httpCases, ...workflowCases];
