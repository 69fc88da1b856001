using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace Booking.Tests.Distributed;

/// <summary>
/// A person's view of the real Aspire dashboard (a Blazor app, so a browser is needed): Debian's Chromium, driven
/// by Playwright, sees every resource Running and healthy, and one booking's trace with its Lua and saga spans.
/// Screenshots land in the test output folder (screenshots/).
/// </summary>
[Collection(DistributedRun.Name)]
public sealed class DashboardBrowserTests(DistributedSystem system, ITestOutputHelper output)
{
    private static readonly string[] ChromiumFlags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    /// <summary>What the page logged to the browser's console.</summary>
    private readonly ConcurrentQueue<string> _browserConsole = new();

    [Fact]
    public async Task The_dashboard_shows_every_resource_healthy_and_a_bookings_trace_with_its_lua_and_saga_spans()
    {
        var (_, traceId) = await SystemTests.BookAsync(system, "Browser");
        using (var dashboardApi = system.Dashboard())
        {
            await DashboardTelemetry.WaitForTraceAsync(dashboardApi, traceId, ["hold_seats", "CompleteReservation"]);
        }

        var screenshots = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(screenshots);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = ChromiumFlags,
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1600, Height = 1000 } });
        page.Console += (_, message) => _browserConsole.Enqueue($"{message.Type}: {message.Text}");
        page.SetDefaultTimeout(30_000);
        // Expect's own default is 5 s, too short for the dashboard's first render beside the rest of the suite.
        Assertions.SetDefaultExpectTimeout(30_000);

        // Logged in as the AppHost's printed link does, which then shows the resources.
        await page.GotoAsync(system.DashboardLoginUrl);
        await ReloadedOnceIfItFailsAsync(page, async () =>
        {
            foreach (var resource in new[] { "redis", "postgres", "bookingdb", "performancedb", "kafka", "performance-stub", "booking-api", "saga-worker" })
            {
                var row = page.GetByRole(AriaRole.Row).Filter(new LocatorFilterOptions { Has = page.GetByText(resource, new PageGetByTextOptions { Exact = true }) }).First;
                await Assertions.Expect(row).ToContainTextAsync("Running");
                await Assertions.Expect(row).Not.ToContainTextAsync("Unhealthy");
            }
        });

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "resources.png"), FullPage = true });

        await page.GotoAsync($"{system.DashboardUrl}/traces/detail/{traceId}");
        await ReloadedOnceIfItFailsAsync(page, async () =>
        {
            foreach (var span in new[] { "hold_seats", "ConfirmHold", "confirm_seats", "AllocateSection", "CompleteReservation" })
            {
                await page.GetByText(span).First.WaitForAsync();
            }
        });

        var path = Path.Combine(screenshots, "trace.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshots in {screenshots}");
        Assert.True(new FileInfo(path).Length > 10_000);
    }

    /// <summary>
    /// Runs the page's expectations; when they fail with the page showing Blazor's error bar (as the resources page did
    /// once in a full run here, listing no resources; the cause is not known), writes what the browser logged and
    /// reloads once, as a person would, then expects the same again. A page that fails twice fails the test.
    /// </summary>
    private async Task ReloadedOnceIfItFailsAsync(IPage page, Func<Task> expectations)
    {
        try
        {
            await expectations();
            return;
        }
        catch (PlaywrightException)
        {
            if (!await page.GetByText("An unhandled error has occurred.").IsVisibleAsync())
            {
                throw;
            }

            output.WriteLine($"The dashboard's page showed Blazor's error bar; reloading once. The browser's console:{Environment.NewLine}{string.Join(Environment.NewLine, _browserConsole)}");
        }

        await page.ReloadAsync();
        await expectations();
    }
}
