using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Mesh.Client.AspNetCore.Tests;

/// <summary>
/// The page's routes table and traffic charts in a real browser (headless Chromium): a canary taking 20 % of
/// <c>catalog</c>'s requests, slower than the stable version and failing for a while, over five minutes of the mesh's
/// clock.
/// </summary>
public sealed class DiagnosticsChartsPageTests : IAsyncLifetime
{
    private static readonly float s_timeout = 30_000;
    private const int ChartsPerRow = 3; // success rate, requests/s, latency
    private const int PathsPerRow = 4; // latency draws p50 and p99
    private const int TrafficRecorderBuckets = 30; // the five minutes the charts show, the last in progress
    private DiagnosticsApp _app = null!;
    private Chromium.Session _browser = null!;

    public async Task InitializeAsync()
    {
        _app = await DiagnosticsApp.StartAsync(backendCount: 3, canary: true);
        _browser = await Chromium.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Where the screenshot is kept: <c>TestResults/diagnostics.png</c> under the test output directory.</summary>
    public static string ScreenshotPath => Path.Combine(AppContext.BaseDirectory, "TestResults", "diagnostics.png");

    [Fact]
    public async Task Routes_show_configured_and_observed_shares_and_every_endpoint_and_backend_has_its_charts()
    {
        await FillFiveMinutesAsync();
        var page = await _browser.Context.NewPageAsync();
        await page.SetViewportSizeAsync(1680, 900);
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);

        var response = await page.GotoAsync(new Uri(_app.BaseAddress, "/mesh").ToString());
        Assert.Equal(200, response!.Status);

        var catalog = page.Locator("section[data-service='catalog']");
        var routeRows = catalog.Locator("tr[data-route='canary']");
        await Expect(routeRows).ToHaveCountAsync(2, new() { Timeout = s_timeout });
        var stable = catalog.Locator("tr[data-route='canary'][data-backend='catalog']");
        var canary = catalog.Locator("tr[data-route='canary'][data-backend='catalog-v2']");
        await Expect(stable.GetByTestId("configured-share")).ToHaveTextAsync("80%");
        await Expect(canary.GetByTestId("configured-share")).ToHaveTextAsync("20%");
        double observed = double.Parse((await canary.GetByTestId("observed-share").TextContentAsync())!.TrimEnd('%'), CultureInfo.InvariantCulture);
        Assert.InRange(observed, 10, 30);
        await Expect(catalog.Locator("td.match")).ToHaveTextAsync("*");

        // catalog: three endpoint rows and two route backend rows; catalog-v2: its one endpoint.
        await Expect(catalog.Locator("tr[data-endpoint]")).ToHaveCountAsync(_app.Backends.Count);
        int catalogRows = _app.Backends.Count + 2;
        await Expect(catalog.Locator("svg.spark")).ToHaveCountAsync(catalogRows * ChartsPerRow);
        await Expect(catalog.Locator("svg.spark path")).ToHaveCountAsync(catalogRows * PathsPerRow);
        var v2 = page.Locator("section[data-service='catalog-v2']");
        await Expect(v2.Locator("svg.spark path")).ToHaveCountAsync(PathsPerRow);
        foreach (var metric in new[] { "success", "rps", "latency" })
        {
            await Expect(catalog.Locator($"svg.spark[data-metric='{metric}']")).ToHaveCountAsync(catalogRows);
        }

        // Every chart draws a line across buckets (a move, then segments), not an empty path.
        int drawn = await page.Locator("svg.spark path").EvaluateAllAsync<int>(
            "paths => paths.filter(p => /^M.*L/.test(p.getAttribute('d'))).length");
        Assert.Equal((catalogRows + 1) * PathsPerRow, drawn);

        Directory.CreateDirectory(Path.GetDirectoryName(ScreenshotPath)!);
        await page.ScreenshotAsync(new() { Path = ScreenshotPath, FullPage = true });
        Assert.True(new FileInfo(ScreenshotPath).Length > 0);
        Assert.Empty(errors);
    }

    /// <summary>
    /// Every bucket but the one in progress, which stays empty: a batch of requests, then the mesh's clock ten seconds
    /// ahead (a burst in the bucket in progress would read as a spike of requests per second). The stable backends
    /// answer in a few milliseconds, the canary in 40 to 60, and for a minute in the middle the canary fails one
    /// request in eight (not enough for passive health to eject it).
    /// </summary>
    private async Task FillFiveMinutesAsync()
    {
        foreach (var backend in _app.Backends)
        {
            backend.Handler = async context =>
            {
                await Task.Delay(Random.Shared.Next(2, 7));
                await context.Response.WriteAsync("v1");
            };
        }

        bool failing = false;
        int canaryRequests = 0;
        _app.Canary!.Handler = async context =>
        {
            await Task.Delay(Random.Shared.Next(40, 61));
            if (Volatile.Read(ref failing) && Interlocked.Increment(ref canaryRequests) % 8 == 0)
            {
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                return;
            }

            await context.Response.WriteAsync("v2");
        };

        var client = _app.MeshClient;
        for (int bucket = 0; bucket < TrafficRecorderBuckets - 1; bucket++)
        {
            Volatile.Write(ref failing, bucket is >= 12 and < 18);
            await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
            {
                for (int i = 0; i < 6; i++)
                {
                    using var response = await client.GetAsync(new Uri("/items", UriKind.Relative));
                }
            }));
            _app.Clock!.Advance(TimeSpan.FromSeconds(10));
        }
    }
}
