using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Booking.Core;

namespace Booking.LoadTest;

/// <summary>Where one mode sends its requests.</summary>
public sealed record Target(string Mode, string BaseUrl)
{
    public bool IsCeiling => Mode == "ceiling";

    public string HoldPath(string performanceId) => IsCeiling ? $"/hold/{performanceId}" : $"/api/performances/{performanceId}/holds";

    public string ReleasePath(string performanceId, Guid holdId) => IsCeiling ? $"/hold/{performanceId}/{holdId}" : $"/api/holds/{holdId}";

    public Uri Url(string path) => new(new Uri(BaseUrl), path);
}

/// <summary>
/// The virtual users of the reference scenario: started over the ramp-up, each repeating its iteration until the
/// phase ends. Holds phase: hold 1-4 free seats, then give them back (so 100,000 seats last a 180 s run at any
/// rate). Bookings phase: hold seats nobody else picked, reserve them, and wait for the completed event.
/// </summary>
public sealed class Workload(LoadOptions options, HttpClient http, EventWatcher events, LoadTokens tokens)
{
    private static readonly TimeSpan EventTimeout = TimeSpan.FromSeconds(60);

    public async Task<PhaseResult> HoldsAsync(Target target, string performanceId, IReadOnlyList<string> seats, CancellationToken cancellationToken, string? phase = null)
    {
        var pool = new System.Collections.Concurrent.ConcurrentQueue<string>(Shuffle(seats));
        var measurements = new Measurements();
        phase ??= $"{target.Mode} holds";
        var elapsed = await RunUsersAsync(phase, measurements, async (user, random, token) =>
        {
            var count = random.Next(options.MinSeatsPerBooking, options.MaxSeatsPerBooking + 1);
            var picked = new List<string>(count);
            while (picked.Count < count && pool.TryDequeue(out var seat))
            {
                picked.Add(seat);
            }

            if (picked.Count < count)
            {
                picked.ForEach(pool.Enqueue);
                await Task.Delay(1, token).ConfigureAwait(false);
                return;
            }

            try
            {
                // Requests are never cut off at the phase end (that would leave holds behind); only new iterations
                // stop. A stop of the whole run (Ctrl-C) cuts them off: nothing of that run is audited.
                var (holdId, _) = await HoldAsync(target, performanceId, user, picked, measurements, cancellationToken).ConfigureAwait(false);
                if (holdId is { } id)
                {
                    using var release = new HttpRequestMessage(HttpMethod.Delete, target.Url(target.ReleasePath(performanceId, id)));
                    release.Headers.Authorization = tokens.For(user);
                    using var released = await http.SendAsync(release, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                picked.ForEach(pool.Enqueue);
            }
        }, cancellationToken).ConfigureAwait(false);
        return measurements.Result(phase, elapsed);
    }

    public async Task<(PhaseResult Result, List<Guid> Reservations)> BookingsAsync(
        Target target, string performanceId, IReadOnlyList<string> seats, CancellationToken cancellationToken, string? phase = null, Breakdown? breakdown = null)
    {
        var shuffled = Shuffle(seats);
        var next = -1;
        var reservations = new System.Collections.Concurrent.ConcurrentBag<Guid>();
        var measurements = new Measurements();
        phase ??= $"{target.Mode} bookings";
        var elapsed = await RunUsersAsync(phase, measurements, async (user, random, token) =>
        {
            var count = random.Next(options.MinSeatsPerBooking, options.MaxSeatsPerBooking + 1);
            var end = Interlocked.Add(ref next, count);
            if (end >= shuffled.Length)
            {
                throw new OperationCanceledException("seats exhausted");
            }

            var picked = shuffled[(end - count + 1)..(end + 1)];
            await BookAsync(target, performanceId, user, picked, measurements, reservations, breakdown, cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return (measurements.Result(phase, elapsed), reservations.ToList());
    }

    /// <summary>
    /// One booking: hold the seats, reserve them, and wait for the outcome event on Kafka. It runs to its end after its
    /// phase ended; only a stop of the whole run (<paramref name="stop"/>) cuts it off.
    /// </summary>
    private async Task BookAsync(Target target, string performanceId, string user, string[] picked, Measurements measurements,
        System.Collections.Concurrent.ConcurrentBag<Guid> reservations, Breakdown? breakdown, CancellationToken stop)
    {
        var started = Stopwatch.GetTimestamp();
        var (holdId, _) = await HoldAsync(target, performanceId, user, picked, null, stop).ConfigureAwait(false);
        if (holdId is null)
        {
            measurements.Failure(Stopwatch.GetElapsedTime(started), "HOLD_FAILED");
            return;
        }

        var held = Stopwatch.GetElapsedTime(started);
        using var reserve = new HttpRequestMessage(HttpMethod.Post, target.Url("/api/reservations")) { Content = JsonContent.Create(new { holdId }, options: BookingJson.Options) };
        reserve.Headers.Authorization = tokens.For(user);
        using var reserved = await http.SendAsync(reserve, stop).ConfigureAwait(false);
        if (reserved.StatusCode != HttpStatusCode.Accepted)
        {
            measurements.Failure(Stopwatch.GetElapsedTime(started), await CodeAsync(reserved, stop).ConfigureAwait(false));
            return;
        }

        var reservedAt = DateTimeOffset.UtcNow;
        var reserveTime = Stopwatch.GetElapsedTime(started) - held;
        var id = (await reserved.Content.ReadFromJsonAsync<JsonElement>(stop).ConfigureAwait(false)).GetProperty("id").GetGuid();
        reservations.Add(id);
        string outcome;
        try
        {
            outcome = await events.WaitAsync(id).WaitAsync(EventTimeout, stop).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            measurements.Failure(Stopwatch.GetElapsedTime(started), "EVENT_TIMEOUT");
            return;
        }

        if (outcome == Core.Outbox.BookingTopics.Completed)
        {
            var total = Stopwatch.GetElapsedTime(started);
            measurements.Success(total);
            breakdown?.Booked(id, held, reserveTime, reservedAt, total);
        }
        else
        {
            measurements.Failure(Stopwatch.GetElapsedTime(started), "RESERVATION_FAILED");
        }
    }

    private async Task<(Guid? HoldId, HttpStatusCode Status)> HoldAsync(
        Target target, string performanceId, string user, IReadOnlyList<string> seats, Measurements? measurements, CancellationToken token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, target.Url(target.HoldPath(performanceId)))
        {
            Content = JsonContent.Create(new { seatIds = seats }, options: BookingJson.Options),
        };
        request.Headers.Authorization = tokens.For(user);
        var started = Stopwatch.GetTimestamp();
        using var response = await http.SendAsync(request, token).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.Created)
        {
            var holdId = (await response.Content.ReadFromJsonAsync<JsonElement>(token).ConfigureAwait(false)).GetProperty("holdId").GetGuid();
            measurements?.Success(Stopwatch.GetElapsedTime(started));
            return (holdId, response.StatusCode);
        }

        measurements?.Failure(Stopwatch.GetElapsedTime(started), await CodeAsync(response, token).ConfigureAwait(false));
        return (null, response.StatusCode);
    }

    /// <summary>Starts the users over the ramp-up, runs them until the phase ends, and prints progress every second.</summary>
    private async Task<TimeSpan> RunUsersAsync(string phase, Measurements measurements, Func<string, Random, CancellationToken, Task> iteration, CancellationToken cancellationToken)
    {
        using var phaseEnd = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        phaseEnd.CancelAfter(options.Duration);
        var watch = Stopwatch.StartNew();
        measurements.Start();
        var running = 0;
        var users = Enumerable.Range(0, options.Users).Select(async index =>
        {
            try
            {
                await Task.Delay(options.RampUp * index / options.Users, phaseEnd.Token).ConfigureAwait(false);
                Interlocked.Increment(ref running);
                var (user, random) = ($"vu-{index}", new Random(index));
                Func<Task> once = () => iteration(user, random, phaseEnd.Token);
                while (!phaseEnd.IsCancellationRequested)
                {
                    await IterateAsync(measurements, once, phaseEnd.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // The phase ended, or its seats ran out.
            }
        }).ToList();

        long last = 0;
        var progress = PhaseProgress.RunAsync(phase, options.Duration, () =>
        {
            var total = measurements.Ok + measurements.Failed;
            var perSecond = total - last;
            last = total;
            return new PhaseProgress.Snapshot(watch.Elapsed, Volatile.Read(ref running), perSecond, measurements.Ok, measurements.Failed, measurements.Errors);
        }, phaseEnd.Token);

        await Task.WhenAll(users).ConfigureAwait(false);
        var elapsed = watch.Elapsed;
        await phaseEnd.CancelAsync().ConfigureAwait(false);
        await progress.ConfigureAwait(false);
        return elapsed;
    }

    /// <summary>
    /// One iteration of a user. A request the client gave up on (its timeout) or could not send is a failure of the
    /// phase, and the user goes on: a stall must show in the errors, not thin out the users and leave no trace.
    /// </summary>
    private static async Task IterateAsync(Measurements measurements, Func<Task> iteration, CancellationToken phaseEnd)
    {
        try
        {
            await iteration().ConfigureAwait(false);
        }
        catch (TaskCanceledException exception) when (exception.InnerException is TimeoutException)
        {
            // The client's timeout, also when it fires after the phase ended (bookings do not stop with the phase).
            measurements.Unanswered("TIMEOUT");
        }
        catch (HttpRequestException exception)
        {
            measurements.Unanswered("HTTP_" + (exception.StatusCode?.ToString() ?? "CONNECTION"));
            await Task.Delay(100, phaseEnd).ConfigureAwait(false);
        }
    }

    private static async Task<string> CodeAsync(HttpResponseMessage response, CancellationToken token)
    {
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(token).ConfigureAwait(false);
            return problem.TryGetProperty("code", out var code) ? code.GetString() ?? $"HTTP_{(int)response.StatusCode}" : $"HTTP_{(int)response.StatusCode}";
        }
        catch (JsonException)
        {
            return $"HTTP_{(int)response.StatusCode}";
        }
    }

    private static string[] Shuffle(IReadOnlyList<string> seats)
    {
        var copy = seats.ToArray();
        new Random(20261124).Shuffle(copy);
        return copy;
    }
}
