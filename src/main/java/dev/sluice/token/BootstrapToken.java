package dev.sluice.token;

import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * First-start contract relied on by automation: if SLUICE_BOOTSTRAP_TOKEN is set, that value is a
 * platform-admin token (re-applied at every start, so rotating the variable rotates the token); otherwise a
 * random one is generated once, on the very first start, and printed once. It is the only secret this
 * service ever logs, and only in that case.
 */
@ApplicationScoped
public class BootstrapToken {
    private static final Logger LOG = Logger.getLogger(BootstrapToken.class);

    @ConfigProperty(name = "sluice.bootstrap-token")
    Optional<String> configured;

    @Inject
    TokenService tokens;

    void onStart(@Observes StartupEvent event) {
        if (configured.isPresent() && !configured.get().isBlank()) {
            tokens.ensureBootstrap(configured.get().trim());
            LOG.info("bootstrap platform-admin token taken from SLUICE_BOOTSTRAP_TOKEN");
            return;
        }
        if (tokens.hasBootstrap()) {
            return;
        }
        String secret = TokenService.generateSecret();
        tokens.ensureBootstrap(secret);
        LOG.warnf("generated the bootstrap platform-admin token (shown only this once; store it now): %s", secret);
    }
}
