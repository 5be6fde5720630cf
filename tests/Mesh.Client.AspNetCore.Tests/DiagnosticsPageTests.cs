using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Mesh.Client.AspNetCore.Tests;

/// <summary>The diagnostics page in a real browser (headless Chromium driven by Playwright) against a running app.</summary>
public sealed class DiagnosticsPageTests : IAsyncLifetime
{
    private static readonly float s_timeout = 30_000;
    private DiagnosticsApp _app = null!;
    private Chromium.Session _browser = null!;

    public async Task InitializeAsync()
    {
        _app = await DiagnosticsApp.StartAsync(backendCount: 3);
        _browser = await Chromium.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Where the screenshot is kept: <c>TestResults/mesh-page.png</c> under the test output directory.</summary>
    public static string ScreenshotPath => Path.Combine(AppContext.BaseDirectory, "TestResults", "mesh-page.png");

    [Fact]
    public async Task Page_shows_every_endpoint_and_updates_when_one_is_ejected()
    {
        await _app.SendAsync(30); // the service exists once used; every endpoint has traffic
        _app.StartTraffic();
        var page = await _browser.Context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => errors.Add(error);

        var response = await page.GotoAsync(new Uri(_app.BaseAddress, "/mesh").ToString());
        Assert.NotNull(response);
        Assert.Equal(200, response.Status);

        var service = page.Locator("section[data-service='catalog']");
        await Expect(service).ToBeVisibleAsync(new() { Timeout = s_timeout });
        foreach (var backend in _app.Backends)
        {
            var row = service.Locator($"tr[data-endpoint='{backend.Authority}']");
            await Expect(row).ToHaveAttributeAsync("data-state", "available", new() { Timeout = s_timeout });
            await Expect(row.GetByTestId("state")).ToHaveTextAsync("available");
        }

        await Expect(service.Locator("tr[data-endpoint]")).ToHaveCountAsync(_app.Backends.Count);

        var ejected = _app.Backends[1];
        DiagnosticsApp.Break(ejected); // the background traffic makes passive health eject it

        var ejectedRow = service.Locator($"tr[data-endpoint='{ejected.Authority}']");
        await Expect(ejectedRow).ToHaveAttributeAsync("data-state", "ejected", new() { Timeout = s_timeout });
        await Expect(ejectedRow.GetByTestId("state")).ToHaveTextAsync("ejected");
        await Expect(ejectedRow).ToHaveClassAsync("not-routable");
        await Expect(ejectedRow.Locator(".meta")).ToContainTextAsync("back in"); // the ejection's end, counting down
        foreach (var backend in _app.Backends.Where(b => b != ejected))
        {
            await Expect(service.Locator($"tr[data-endpoint='{backend.Authority}']")).ToHaveAttributeAsync("data-state", "available");
        }

        // The ejected endpoint stops taking traffic: once the page's five-second window has passed, its share reads 0 %.
        await Expect(ejectedRow.Locator(".pct")).ToHaveTextAsync("0%", new() { Timeout = s_timeout });
        var colour = await ejectedRow.GetByTestId("state").EvaluateAsync<string>("e => getComputedStyle(e).color");
        Assert.Equal("rgb(217, 45, 32)", colour); // the page's red for ejected

        Directory.CreateDirectory(Path.GetDirectoryName(ScreenshotPath)!);
        await page.ScreenshotAsync(new() { Path = ScreenshotPath, FullPage = true });
        Assert.True(new FileInfo(ScreenshotPath).Length > 0);
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Page_loads_nothing_from_other_origins()
    {
        await _app.SendAsync(3);
        var page = await _browser.Context.NewPageAsync();
        var requested = new List<string>();
        page.Request += (_, request) => requested.Add(request.Url);

        await page.GotoAsync(new Uri(_app.BaseAddress, "/mesh").ToString());
        await Expect(page.Locator("section[data-service='catalog']")).ToBeVisibleAsync(new() { Timeout = s_timeout });

        var origin = _app.BaseAddress.GetLeftPart(UriPartial.Authority);
        Assert.NotEmpty(requested);
        Assert.All(requested, url => Assert.StartsWith(origin + "/mesh", url, StringComparison.Ordinal));
    }
}
