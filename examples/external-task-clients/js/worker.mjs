// PFlow's automated steps (topic "ticket-processing") done by Camunda's JavaScript external-task client,
// unchanged, against any engine REST that speaks Camunda 7's external-task API: PFlow's embedded engine
// under `pflow serve`, Camunda 7 or Operaton.
//
// Environment: CAMUNDA_URL (default http://localhost:8080/engine-rest), CAMUNDA_USERNAME and
// CAMUNDA_PASSWORD (basic authentication, when set), PFLOW_WORKER_BUSINESS_KEY (fetch only the tasks of
// that business key, i.e. of one ticket).
//
// The rule, the same in the Java and Python examples: a ticket title containing "[bpmn-error]" reports
// the BPMN error ORDER_REFUSED; "[fail]" fails the first attempt with no retries left (an incident an
// admin retries from PFlow); anything else completes with provisionedBy=camunda-js-client.
import { BasicAuthInterceptor, Client, Variables } from "camunda-external-task-client-js";

const TOPIC = "ticket-processing";
const CLIENT = "camunda-js-client";

const baseUrl = process.env.CAMUNDA_URL || "http://localhost:8080/engine-rest";
const username = process.env.CAMUNDA_USERNAME || "";
const businessKey = process.env.PFLOW_WORKER_BUSINESS_KEY || "";

const client = new Client({
  baseUrl,
  workerId: CLIENT,
  asyncResponseTimeout: 10000,
  lockDuration: 30000,
  interceptors: username
    ? new BasicAuthInterceptor({ username, password: process.env.CAMUNDA_PASSWORD || "" })
    : undefined,
});

client.on("poll:error", (e) => console.log(`${CLIENT}: polling failed: ${e.message || e}`));

function log(task, what) {
  console.log(`${CLIENT}: ticket ${task.businessKey} step ${task.activityId} task ${task.id}: ${what}`);
}

client.subscribe(TOPIC, businessKey ? { businessKey } : {}, async ({ task, taskService }) => {
  const title = String(task.variables.get("title") ?? "");
  try {
    if (title.includes("[bpmn-error]")) {
      await taskService.handleBpmnError(task, "ORDER_REFUSED", "the supplier refused the order");
      log(task, "bpmn error ORDER_REFUSED");
    } else if (title.includes("[fail]") && task.retries == null) {
      await taskService.handleFailure(task, {
        errorMessage: "the order system is down",
        errorDetails: "the order system answered 503",
        retries: 0,
        retryTimeout: 0,
      });
      log(task, "failed (no retries left: an incident)");
    } else {
      await taskService.complete(task, new Variables().set("provisionedBy", CLIENT));
      log(task, "completed");
    }
  } catch (e) {
    // the engine refused the report (the task was taken away meanwhile)
    log(task, `could not report: ${e.message || e}`);
  }
});

console.log(`${CLIENT}: polling ${TOPIC} at ${baseUrl}${businessKey ? ` for business key ${businessKey}` : ""}`);

function stop() {
  client.stop();
  // A poll still waiting for tasks is dropped; a task being handled is finished first.
  const exit = () => (client.activeTasksCount > 0 ? setTimeout(exit, 50) : (console.log(`${CLIENT}: stopped`), process.exit(0)));
  exit();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
