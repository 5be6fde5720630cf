using Microsoft.Playwright;

namespace Mesh.Client.AspNetCore.Tests;

/// <summary>
/// Launches Debian's headless Chromium through Playwright. Playwright's own browser download is not used (and cannot
/// run here): the browser is the system package <c>chromium</c>, which .ci/run installs.
/// </summary>
public static class Chromium
{
    /// <summary>The browser binary: <c>MESH_CHROMIUM</c> if set, else <c>/usr/bin/chromium</c>.</summary>
    public static string ExecutablePath => Environment.GetEnvironmentVariable("MESH_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>
    /// Starts the browser with a fresh, empty profile (a new temporary user-data-dir, deleted by
    /// <see cref="Session.DisposeAsync"/>), so no state leaks between runs.
    /// </summary>
    public static async Task<Session> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException(
                $"Chromium was not found at '{ExecutablePath}'. Install the Debian package: apt-get install -y chromium " +
                "(or set MESH_CHROMIUM to a Chromium binary).");
        }

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var profile = Directory.CreateTempSubdirectory("mesh-chromium-").FullName;
        var playwright = await Playwright.CreateAsync();
        var context = await playwright.Chromium.LaunchPersistentContextAsync(profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1280, Height = 720 },
            ExecutablePath = ExecutablePath,
            Headless = true,
            Timeout = 60_000,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        });
        return new Session(playwright, context, profile);
    }

    /// <summary>A running browser: its one context (on the fresh profile) and what to clean up.</summary>
    public sealed class Session(IPlaywright playwright, IBrowserContext context, string profile) : IAsyncDisposable
    {
        public IBrowserContext Context { get; } = context;

        public async ValueTask DisposeAsync()
        {
            await Context.CloseAsync();
            playwright.Dispose();
            try
            {
                Directory.Delete(profile, recursive: true);
            }
            catch (IOException)
            {
                // Chromium may still be releasing files in its profile; a leftover temp directory is harmless.
            }
        }
    }
}
