package pflow.bench;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.camunda.bpm.client.ExternalTaskClient;
import org.camunda.bpm.client.ExternalTaskClientBuilder;
import org.camunda.bpm.client.interceptor.auth.BasicAuthProvider;

/**
 * Drains --count waiting external tasks of --topic with a no-op handler and prints one JSON line:
 * {"completed": n, "seconds": s, "tasks_per_second": r}. The clock starts just before the
 * subscription opens (JVM start-up is not counted) and stops when the last completion returned.
 *
 * Options left out keep the client's defaults (7.24: maxTasks 10, lockDuration 20 s, no long
 * polling, exponential back-off when a fetch returns nothing). --clients N starts N independent
 * clients (each fetches and handles on its own thread, as the client does).
 */
public final class DrainBench {

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = parse(argv);
        String url = required(args, "url");
        String topic = required(args, "topic");
        int count = Integer.parseInt(required(args, "count"));
        int clients = Integer.parseInt(args.getOrDefault("clients", "1"));
        long timeoutS = Long.parseLong(args.getOrDefault("timeout-s", "600"));

        AtomicInteger done = new AtomicInteger();
        CountDownLatch finished = new CountDownLatch(1);
        long[] endedAt = new long[1];
        List<ExternalTaskClient> started = new ArrayList<>();

        long t0 = System.nanoTime();
        for (int i = 0; i < clients; i++) {
            ExternalTaskClientBuilder builder = ExternalTaskClient.create()
                    .baseUrl(url)
                    .workerId(args.getOrDefault("worker-id", "java-drain") + "-" + i);
            // Credentials for the REST API from the environment, as PFlow reads them (not the command line).
            String user = System.getenv("CAMUNDA_USERNAME");
            if (user != null && !user.isEmpty()) {
                String password = System.getenv("CAMUNDA_PASSWORD");
                builder.addInterceptor(new BasicAuthProvider(user, password == null ? "" : password));
            }
            if (args.containsKey("max-tasks")) {
                builder.maxTasks(Integer.parseInt(args.get("max-tasks")));
            }
            if (args.containsKey("async-response-timeout")) {
                builder.asyncResponseTimeout(Long.parseLong(args.get("async-response-timeout")));
            }
            if (args.containsKey("lock-duration")) {
                builder.lockDuration(Long.parseLong(args.get("lock-duration")));
            }
            ExternalTaskClient client = builder.build();
            started.add(client);
            client.subscribe(topic)
                    .handler((task, service) -> {
                        service.complete(task);
                        if (done.incrementAndGet() == count) {
                            endedAt[0] = System.nanoTime();
                            finished.countDown();
                        }
                    })
                    .open();
        }
        boolean ok = finished.await(timeoutS, TimeUnit.SECONDS);
        long end = ok ? endedAt[0] : System.nanoTime();
        for (ExternalTaskClient client : started) {
            client.stop();
        }
        double seconds = (end - t0) / 1e9;
        System.out.printf(java.util.Locale.ROOT,
                "{\"completed\": %d, \"seconds\": %.4f, \"tasks_per_second\": %.2f, \"finished\": %b}%n",
                done.get(), seconds, done.get() / seconds, ok);
        System.exit(ok ? 0 : 1);
    }

    private static Map<String, String> parse(String[] argv) {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String name = argv[i];
            if (!name.startsWith("--") || i + 1 >= argv.length) {
                throw new IllegalArgumentException("expected --name value pairs, got " + name);
            }
            args.put(name.substring(2), argv[++i]);
        }
        return args;
    }

    private static String required(Map<String, String> args, String name) {
        String value = args.get(name);
        if (value == null) {
            throw new IllegalArgumentException("missing --" + name);
        }
        return value;
    }
}
