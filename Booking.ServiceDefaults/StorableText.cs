using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Refuses, as a 400 problem, text that PostgreSQL cannot store (NUL, in text and in jsonb) or that is not text at
/// all (an unpaired UTF-16 surrogate), wherever a caller can put it: query values, and every string and property
/// name of a JSON body. One check at the edge, so no handler, validator or database call meets it; it runs after
/// authorization, for authenticated callers of an endpoint.
/// </summary>
public sealed class StorableText(RequestDelegate next, IProblemDetailsService problems)
{
    private const string Message = "Text must not contain NUL characters or unpaired UTF-16 surrogates.";

    /// <summary>The largest first buffer, whatever length a request declares: Booking.Api's body limit (1 MiB).</summary>
    private const long FirstBufferLimit = 1024 * 1024;

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.GetEndpoint() is null || context.User.Identity?.IsAuthenticated != true)
        {
            // Nothing reads the text of a request no endpoint takes, or of a caller without an identity (the endpoints
            // that allow one, health and the API reference, read no body): its body is not buffered or parsed here.
            await next(context).ConfigureAwait(false);
            return;
        }

        var json = context.Request.HasJsonContentType();
        if (json && !IsUtf8(context.Request.ContentType))
        {
            // RFC 8259: JSON between systems is UTF-8. The endpoints would transcode another charset, past this check.
            await problems.WriteProblemAsync(context, StatusCodes.Status415UnsupportedMediaType, "Unsupported media type",
                "JSON bodies must be UTF-8.", ProblemCodes.ValidationFailed).ConfigureAwait(false);
            return;
        }

        var field = context.Request.Query.FirstOrDefault(q => !IsStorable(q.Key) || q.Value.Any(v => !IsStorable(v))).Key;
        if (field is null && json && context.Request.ContentLength is not 0)
        {
            field = await FindUnstorableInBodyAsync(context.Request, context.RequestAborted).ConfigureAwait(false);
        }

        if (field is null)
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        await problems.WriteProblemAsync(context, StatusCodes.Status400BadRequest, "The request is not valid", Message, ProblemCodes.ValidationFailed,
            new Dictionary<string, string[]>(StringComparer.Ordinal) { [field] = [Message] }).ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the whole body (bounded: a service's body limit runs first) into one buffer sized to it, checks it, and
    /// hands the endpoint the same bytes from memory. Hot-path bodies are a few dozen bytes, most often sent chunked
    /// (JsonContent declares no length); <c>EnableBuffering</c> and a copy through a MemoryStream rented a 30 KiB and an
    /// 80 KiB buffer for each of them, over a third of all the bytes the API allocated per hold.
    /// </summary>
    private static async Task<string?> FindUnstorableInBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        // One byte more than a declared length, so a body of exactly that length is read without growing the buffer.
        var buffer = new byte[Math.Clamp((request.ContentLength ?? 0) + 1, 512, FirstBufferLimit)];
        var length = 0;
        int read;
        while ((read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
        {
            length += read;
            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }
        }

        request.Body = new MemoryStream(buffer, 0, length, writable: false);
        return FindUnstorable(buffer.AsSpan(0, length));
    }

    /// <summary>
    /// No charset, or <c>utf-8</c> written so (any case): the only spellings the endpoints' JSON reading takes, which
    /// fails on another (<c>utf8</c>, a quoted one) with an exception that is no caller's fault.
    /// </summary>
    private static bool IsUtf8(string? contentType) =>
        contentType is null
        || !contentType.Contains("charset", StringComparison.OrdinalIgnoreCase)
        || contentType.Equals("application/json; charset=utf-8", StringComparison.OrdinalIgnoreCase)
        || (MediaTypeHeaderValue.TryParse(contentType, out var mediaType)
            && (mediaType.Charset.Length == 0 || mediaType.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)));

    /// <summary>The JSON path of the first unstorable string or property name; null when all are fine or the JSON is invalid.</summary>
    public static string? FindUnstorable(ReadOnlySpan<byte> json)
    {
        // The endpoints' reader skips a UTF-8 byte-order mark; so does this check.
        if (json.StartsWith(Encoding.UTF8.Preamble))
        {
            json = json[Encoding.UTF8.Preamble.Length..];
        }

        // In valid JSON, NUL and surrogates can only arrive as \u escapes (a raw NUL or a surrogate's raw bytes make it
        // invalid, which the endpoint's own reading answers): plain ASCII without one needs no parse. Hot-path bodies are.
        if (System.Text.Ascii.IsValid(json) && json.IndexOf("\\u"u8) < 0 && json.IndexOf((byte)0) < 0)
        {
            return null;
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        var property = "body";
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName))
                {
                    continue;
                }

                string value;
                try
                {
                    value = reader.GetString()!;
                }
                catch (InvalidOperationException)
                {
                    // An escaped lone surrogate cannot even be read as a string.
                    return property;
                }

                if (!IsStorable(value))
                {
                    return reader.TokenType == JsonTokenType.PropertyName ? "body" : property;
                }

                if (reader.TokenType == JsonTokenType.PropertyName)
                {
                    property = value;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: the endpoint's own reading answers that with a 400.
        }

        return null;
    }

    public static bool IsStorable(string? text)
    {
        if (text is null)
        {
            return true;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0' || char.IsLowSurrogate(c))
            {
                return false;
            }

            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                {
                    return false;
                }

                i++;
            }
        }

        return true;
    }
}
