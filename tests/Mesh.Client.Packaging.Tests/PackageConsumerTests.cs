using System.Diagnostics;
using System.Text;
using Mesh.Client.Tests.Infrastructure;

namespace Mesh.Client.Packaging.Tests;

/// <summary>
/// Consumes Mesh.Client the way users will: packs it, installs the package from a local folder feed into a
/// throwaway console app, and sends a request through the app to a real backend.
/// </summary>
public sealed class PackageConsumerTests
{
    private static readonly string RepositoryRoot = FindRepositoryRoot();

    [Fact]
    public async Task The_packed_libraries_install_into_a_console_app_that_routes_a_request_through_the_mesh()
    {
        await using var backend = await TestBackend.StartAsync("packaged-backend");
        var work = Directory.CreateTempSubdirectory("mesh-pack-");
        try
        {
            // A version no other build uses, so the global package cache cannot serve a stale copy.
            string version = $"0.0.0-smoke.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
            var feed = Directory.CreateDirectory(Path.Combine(work.FullName, "feed")).FullName;
            foreach (var project in new[] { "Mesh.Client", "Mesh.Client.Kubernetes", "Mesh.Client.AspNetCore" })
            {
                await RunAsync("dotnet", ["pack", Path.Combine(RepositoryRoot, "src", project, $"{project}.csproj"),
                    "-c", "Release", "-o", feed, $"-p:Version={version}"], RepositoryRoot);
                Assert.True(File.Exists(Path.Combine(feed, $"{project}.{version}.nupkg")), $"dotnet pack produced no {project} package");
            }

            var app = Directory.CreateDirectory(Path.Combine(work.FullName, "app")).FullName;
            var upstream = File.ReadAllText(Path.Combine(RepositoryRoot, "nuget.config"));
            var source = System.Text.RegularExpressions.Regex.Match(upstream, "<add key=\"[^\"]+\" value=\"([^\"]+)\"").Groups[1].Value;
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                    <add key="upstream" value="{source}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Mesh.Client" Version="{version}" />
                    <PackageReference Include="Mesh.Client.Kubernetes" Version="{version}" />
                    <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.14" />
                  </ItemGroup>
                </Project>
                """);
            // Keep the repository's Directory.Build.props and central versions out of the consumer.
            File.WriteAllText(Path.Combine(app, "Directory.Build.props"), "<Project />");
            File.WriteAllText(Path.Combine(app, "Directory.Packages.props"), "<Project />");
            File.WriteAllText(Path.Combine(app, "Program.cs"), """
                using Microsoft.Extensions.DependencyInjection;

                var services = new ServiceCollection();
                services.AddMeshClient().AddStaticEndpoints("catalog", args[0]).AddKubernetes();
                services.AddHttpClient("catalog", c => c.BaseAddress = new Uri("http://catalog")).AddMeshHandler();
                using var provider = services.BuildServiceProvider();
                var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("catalog");
                Console.WriteLine("answer: " + await client.GetStringAsync("/from-package"));
                """);

            string output = await RunAsync("dotnet", ["run", "--project", app, "--", backend.Address], app);

            Assert.Contains("answer: packaged-backend", output, StringComparison.Ordinal);
            Assert.Equal("/from-package", Assert.Single(backend.Received).PathAndQuery);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task<string> RunAsync(string file, string[] arguments, string workingDirectory)
    {
        var start = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        output.Append(await stdout).Append(await stderr);
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited {process.ExitCode}:\n{output}");
        return output.ToString();
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mesh.Client.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Mesh.Client.sln not found above " + AppContext.BaseDirectory);
    }
}
