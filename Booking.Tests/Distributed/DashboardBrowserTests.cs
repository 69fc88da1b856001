using Microsoft.Playwright;

namespace Booking.Tests.Distributed;

/// <summary>A person's view: Debian's Chromium, driven by Playwright, finds one booking's trace in the dashboard.</summary>
[Collection(DistributedCollection.Name)]
public sealed class DashboardBrowserTests(DistributedSystem system, ITestOutputHelper output)
{
    private static readonly string[] ChromiumFlags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    [Fact]
    public async Task The_dashboard_shows_a_bookings_trace_with_its_lua_and_saga_spans()
    {
        var (_, traceId) = await SystemTests.BookAsync(system, "Browser");
        using (var dashboardApi = system.Dashboard())
        {
            await SystemTests.WaitForTraceAsync(dashboardApi, traceId, ["hold_seats", "CompleteReservation"]);
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
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });

        await page.GotoAsync(system.DashboardUrl + "/#/resources");
        await page.Locator("#resources tr[data-resource='saga-worker'] .healthy").WaitForAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "resources.png"), FullPage = true });

        // Find the booking among the traces by one of its span names, then open it.
        await page.ClickAsync("a[data-nav='traces']");
        await page.FillAsync("#trace-filters input[name='name']", "CompleteReservation");
        await page.ClickAsync("#trace-filters button");
        var row = page.Locator($"#traces tr[data-trace-id='{traceId}']");
        await row.WaitForAsync();
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(screenshots, "traces.png"), FullPage = true });
        await row.ClickAsync();

        foreach (var span in new[] { "hold_seats", "saga", "ConfirmHold", "confirm_seats", "AllocateSection", "CompleteReservation" })
        {
            await page.Locator($"#waterfall .row[data-span-name='{span}']").First.WaitForAsync();
        }

        await page.Locator("#waterfall .row[data-span-name='ConfirmHold']").First.ClickAsync();
        var attributes = page.Locator("table.attributes:not([hidden])");
        await Assertions.Expect(attributes).ToContainTextAsync("saga.outcome");
        var path = Path.Combine(screenshots, "trace.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        output.WriteLine($"screenshots in {screenshots}");
        Assert.True(new FileInfo(path).Length > 10_000);
    }
}
