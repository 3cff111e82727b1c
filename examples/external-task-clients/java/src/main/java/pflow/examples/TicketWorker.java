package pflow.examples;

import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.camunda.bpm.client.ExternalTaskClient;
import org.camunda.bpm.client.ExternalTaskClientBuilder;
import org.camunda.bpm.client.interceptor.auth.BasicAuthProvider;
import org.camunda.bpm.client.task.ExternalTask;
import org.camunda.bpm.client.task.ExternalTaskService;
import org.camunda.bpm.client.topic.TopicSubscriptionBuilder;

/**
 * PFlow's automated steps (topic "ticket-processing") done by Camunda's Java external-task client.
 *
 * Environment: CAMUNDA_URL (default http://localhost:8080/engine-rest), CAMUNDA_USERNAME and
 * CAMUNDA_PASSWORD (basic authentication, when set), PFLOW_WORKER_BUSINESS_KEY (fetch only the tasks
 * of that business key, i.e. of one ticket).
 *
 * The rule, the same in the Python and JavaScript examples: a ticket title containing "[bpmn-error]"
 * reports the BPMN error ORDER_REFUSED; "[fail]" fails the first attempt with no retries left (an
 * incident an admin retries from PFlow); anything else completes with provisionedBy=camunda-java-client.
 */
public final class TicketWorker {

    static final String TOPIC = "ticket-processing";
    static final String CLIENT = "camunda-java-client";

    public static void main(String[] args) throws InterruptedException {
        String url = env("CAMUNDA_URL", "http://localhost:8080/engine-rest");
        ExternalTaskClientBuilder builder = ExternalTaskClient.create()
                .baseUrl(url)
                .workerId(CLIENT)
                .asyncResponseTimeout(10_000)
                .lockDuration(30_000);
        String user = env("CAMUNDA_USERNAME", "");
        if (!user.isEmpty()) {
            builder.addInterceptor(new BasicAuthProvider(user, env("CAMUNDA_PASSWORD", "")));
        }
        ExternalTaskClient client = builder.build();
        TopicSubscriptionBuilder subscription = client.subscribe(TOPIC).handler(TicketWorker::handle);
        String businessKey = env("PFLOW_WORKER_BUSINESS_KEY", "");
        if (!businessKey.isEmpty()) {
            subscription.businessKey(businessKey);
        }
        subscription.open();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {  // SIGTERM, Ctrl-C
            client.stop();  // waits for a task being handled; a poll waiting for tasks is dropped
            System.out.println(CLIENT + ": stopped");
            System.out.flush();
            stopped.countDown();
            Runtime.getRuntime().halt(0);  // a requested stop, not a crash: exit status 0 (not 143)
        }));
        System.out.println(CLIENT + ": polling " + TOPIC + " at " + url
                + (businessKey.isEmpty() ? "" : " for business key " + businessKey));
        System.out.flush();
        stopped.await();
    }

    static void handle(ExternalTask task, ExternalTaskService service) {
        Object value = task.getVariable("title");
        String title = value == null ? "" : value.toString();
        String ticket = task.getBusinessKey();
        try {
            if (title.contains("[bpmn-error]")) {
                service.handleBpmnError(task, "ORDER_REFUSED", "the supplier refused the order");
                log(ticket, task, "bpmn error ORDER_REFUSED");
            } else if (title.contains("[fail]") && task.getRetries() == null) {
                service.handleFailure(task, "the order system is down", "the order system answered 503", 0, 0L);
                log(ticket, task, "failed (no retries left: an incident)");
            } else {
                service.complete(task, Map.of("provisionedBy", CLIENT));
                log(ticket, task, "completed");
            }
        } catch (RuntimeException exc) {  // the engine refused the report (the task was taken away meanwhile)
            log(ticket, task, "could not report: " + exc.getMessage());
        }
    }

    static void log(String ticket, ExternalTask task, String what) {
        System.out.println(CLIENT + ": ticket " + ticket + " step " + task.getActivityId() + " task "
                + task.getId() + ": " + what);
        System.out.flush();
    }

    static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isEmpty() ? fallback : value;
    }
}
