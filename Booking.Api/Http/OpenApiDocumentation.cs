using Booking.Api.Idempotency;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Booking.Api.Http;

/// <summary>
/// What the OpenAPI document (and the Scalar reference over it) says beyond the endpoints: how a caller is
/// identified, and the <c>Idempotency-Key</c> header every creating POST accepts.
/// </summary>
public static class OpenApiDocumentation
{
    public const string CallerScheme = "bearer";

    public static void Describe(OpenApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[CallerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "A JWT whose sub claim is the user id; role admin for capacity writes. A user sees and changes only their own "
                    + "holds and reservations. Development tokens: dotnet user-jwts create --project Booking.Api --name alice [--role admin] -o token.",
            };
            document.Security ??= [];
            document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(CallerScheme, document)] = [] });
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            if (context.Description.ActionDescriptor.EndpointMetadata.AcceptsIdempotencyKey())
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = "Idempotency-Key",
                    In = ParameterLocation.Header,
                    Required = false,
                    Description = "Same key and request (method, path, query, body): the first response is returned again (status and body). Same key, other request: 422 IDEMPOTENCY_KEY_REUSED. Same key while the first request still runs: waits up to 10 s, then 409 INVALID_STATE.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, MaxLength = 255 },
                });
            }

            return Task.CompletedTask;
        });
    }
}
