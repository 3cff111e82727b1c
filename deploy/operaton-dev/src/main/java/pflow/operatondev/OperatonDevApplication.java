package pflow.operatondev;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/**
 * Local Operaton engine (Operaton 7's open fork) for PFlow development and tests.
 *
 * <p>Everything is configured in application.yaml; the Operaton Spring Boot
 * starter brings up the process engine, the job executor and the REST API
 * under /engine-rest. Process definitions are deployed by PFlow itself over
 * REST (POST /engine-rest/deployment/create), not from this classpath.
 */
@SpringBootApplication
public class OperatonDevApplication {

    public static void main(String[] args) {
        SpringApplication.run(OperatonDevApplication.class, args);
    }
}
