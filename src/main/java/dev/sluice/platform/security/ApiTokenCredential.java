package dev.sluice.platform.security;

import io.quarkus.security.identity.request.BaseAuthenticationRequest;

/** An opaque API token presented as a bearer token (anything that is not a JWT). */
public final class ApiTokenCredential extends BaseAuthenticationRequest {
    private final String secret;

    public ApiTokenCredential(String secret) {
        this.secret = secret;
    }

    public String secret() {
        return secret;
    }

    @Override
    public String toString() {
        return "ApiTokenCredential[redacted]";
    }
}
