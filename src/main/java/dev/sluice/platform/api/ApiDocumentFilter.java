package dev.sluice.platform.api;

import dev.sluice.platform.problem.Problem;
import java.util.Map;
import org.eclipse.microprofile.openapi.OASFactory;
import org.eclipse.microprofile.openapi.OASFilter;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.Operation;
import org.eclipse.microprofile.openapi.models.PathItem;
import org.eclipse.microprofile.openapi.models.media.Schema;
import org.eclipse.microprofile.openapi.models.responses.APIResponse;

/**
 * Documents the conventions every endpoint shares, once, instead of annotating each method: problem+json
 * error responses, 201 for creating POSTs, the Idempotency-Key and If-Match headers.
 */
public class ApiDocumentFilter implements OASFilter {
    private static final String PROBLEM_REF = "#/components/schemas/Problem";

    @Override
    public void filterOpenAPI(OpenAPI api) {
        api.getComponents().addSchema("Problem", OASFactory.createSchema()
                .description("RFC 9457 problem details; `type` is stable, `errors` names offending fields")
                .addType(Schema.SchemaType.OBJECT)
                .addProperty("type", OASFactory.createSchema().addType(Schema.SchemaType.STRING).format("uri"))
                .addProperty("title", OASFactory.createSchema().addType(Schema.SchemaType.STRING))
                .addProperty("status", OASFactory.createSchema().addType(Schema.SchemaType.INTEGER))
                .addProperty("detail", OASFactory.createSchema().addType(Schema.SchemaType.STRING))
                .addProperty("instance", OASFactory.createSchema().addType(Schema.SchemaType.STRING))
                .addProperty("errors", OASFactory.createSchema().addType(Schema.SchemaType.ARRAY).items(OASFactory.createSchema()
                        .addType(Schema.SchemaType.OBJECT)
                        .addProperty("field", OASFactory.createSchema().addType(Schema.SchemaType.STRING))
                        .addProperty("message", OASFactory.createSchema().addType(Schema.SchemaType.STRING)))));
        if (api.getPaths() == null || api.getPaths().getPathItems() == null) {
            return;
        }
        for (Map.Entry<String, PathItem> path : api.getPaths().getPathItems().entrySet()) {
            if (!path.getKey().startsWith("/api/")) {
                continue;
            }
            for (Map.Entry<PathItem.HttpMethod, Operation> op : path.getValue().getOperations().entrySet()) {
                document(path.getKey(), op.getKey(), op.getValue());
            }
        }
    }

    private static void document(String path, PathItem.HttpMethod method, Operation op) {
        var responses = op.getResponses();
        if (method == PathItem.HttpMethod.POST && responses.hasAPIResponse("200")) {
            APIResponse ok = responses.getAPIResponse("200");
            responses.removeAPIResponse("200");
            responses.addAPIResponse("201", ok.description("Created; Location and ETag name the new resource"));
            op.addParameter(OASFactory.createParameter().name("Idempotency-Key").in(org.eclipse.microprofile.openapi.models.parameters.Parameter.In.HEADER)
                    .description("Makes the POST safe to retry: same key and body replay the first response (24 h)")
                    .schema(OASFactory.createSchema().addType(Schema.SchemaType.STRING).maxLength(255)));
        }
        problem(responses, "400", "Malformed request or parameter");
        problem(responses, "401", "Missing, invalid, expired or revoked credentials");
        problem(responses, "403", "The credential's role does not allow this");
        if (path.contains("{")) {
            problem(responses, "404", "No such resource in the caller's tenant");
        }
        if (method == PathItem.HttpMethod.POST || method == PathItem.HttpMethod.PATCH) {
            problem(responses, "409", "Conflict: name taken, state, or idempotent request in progress");
            problem(responses, "422", "Validation failed");
        }
        if (method == PathItem.HttpMethod.PATCH || method == PathItem.HttpMethod.DELETE) {
            problem(responses, "412", "If-Match does not match the current ETag");
        }
    }

    private static void problem(org.eclipse.microprofile.openapi.models.responses.APIResponses responses, String status, String description) {
        if (responses.hasAPIResponse(status)) {
            responses.removeAPIResponse(status);
        }
        responses.addAPIResponse(status, OASFactory.createAPIResponse().description(description)
                .content(OASFactory.createContent().addMediaType(Problem.MEDIA_TYPE,
                        OASFactory.createMediaType().schema(OASFactory.createSchema().ref(PROBLEM_REF)))));
    }
}
