package pflow.operatondev;

import org.operaton.bpm.engine.rest.security.auth.ProcessEngineAuthenticationFilter;
import org.operaton.bpm.engine.rest.security.auth.impl.HttpBasicAuthenticationProvider;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * HTTP basic authentication on the whole REST API (/engine-rest/*), as PFlow's
 * production engine must run: every call needs a user of the engine's identity
 * service (the admin user from application.yaml, "pflow"); without one, or with a
 * wrong password, the engine answers 401. Operaton leaves only GET /engine-rest/engine
 * (the list of engine names) open, which operaton-dev.sh uses to see that it is up.
 *
 * <p>The filter is built here and only registered through the
 * FilterRegistrationBean (it is not a bean itself, which Spring Boot would also
 * map to every URL).
 */
@Configuration
public class RestAuthentication {

    @Bean
    public FilterRegistrationBean<ProcessEngineAuthenticationFilter> processEngineAuthenticationFilter() {
        FilterRegistrationBean<ProcessEngineAuthenticationFilter> registration =
                new FilterRegistrationBean<>(new ProcessEngineAuthenticationFilter());
        registration.setName("operaton-rest-authentication");
        registration.addInitParameter(ProcessEngineAuthenticationFilter.AUTHENTICATION_PROVIDER_PARAM,
                HttpBasicAuthenticationProvider.class.getName());
        // The filter finds the engine name in the path after this prefix (Jersey's application path).
        registration.addInitParameter(ProcessEngineAuthenticationFilter.SERVLET_PATH_PREFIX, "/engine-rest");
        registration.addUrlPatterns("/engine-rest/*");
        return registration;
    }
}
