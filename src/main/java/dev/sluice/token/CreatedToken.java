package dev.sluice.token;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonUnwrapped;

/**
 * The one response that carries a token's secret. An Idempotency-Key replay of it omits {@code secret}:
 * secrets are never stored, not even for replays.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record CreatedToken(@JsonUnwrapped TokenView token, String secret) {
}
