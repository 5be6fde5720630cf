using Microsoft.Extensions.Configuration;

namespace Mesh.Client.Tests.Resilience;

public sealed class ResilienceOptionsTests
{
    [Fact]
    public void Health_and_resilience_options_bind_from_the_service_section()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:PassiveHealth:ConsecutiveFailures"] = "7",
            ["Mesh:Services:catalog:PassiveHealth:FailureStatusCodes:0"] = "429",
            ["Mesh:Services:catalog:HealthCheck:Path"] = "/healthz",
            ["Mesh:Services:catalog:HealthCheck:Interval"] = "00:00:05",
            ["Mesh:Services:catalog:Panic:Mode"] = "FailFast",
            ["Mesh:Services:catalog:SlowStart:Window"] = "00:01:00",
            ["Mesh:Services:catalog:Retry:MaxAttempts"] = "4",
            ["Mesh:Services:catalog:Hedging:Enabled"] = "true",
            ["Mesh:Services:catalog:Hedging:DelayPercentile"] = "95",
            ["Mesh:Services:catalog:Timeouts:Attempt"] = "00:00:02",
        }).Build();
        var options = new MeshServiceOptions();

        configuration.GetSection("Mesh:Services:catalog").Bind(options);

        Assert.Empty(options.Validate("Mesh:Services:catalog"));
        Assert.Equal(7, options.PassiveHealth.ConsecutiveFailures);
        Assert.Equal([429], options.PassiveHealth.FailureStatusCodes!);
        Assert.Equal("/healthz", options.HealthCheck.Path);
        Assert.Equal(TimeSpan.FromSeconds(5), options.HealthCheck.Interval);
        Assert.Equal(PanicMode.FailFast, options.Panic.Mode);
        Assert.True(options.SlowStart.Enabled);
        Assert.Equal(4, options.Retry.MaxAttempts);
        Assert.Equal(95, options.Hedging.DelayPercentile);
        Assert.Equal(TimeSpan.FromSeconds(2), options.Timeouts.Attempt);
    }

    [Theory]
    [InlineData("PassiveHealth:ConsecutiveFailures", "-1")]
    [InlineData("PassiveHealth:MinimumSuccessRatePercent", "120")]
    [InlineData("PassiveHealth:MaxEjectionTime", "00:00:01")]
    [InlineData("PassiveHealth:FailureStatusCodes:0", "999")]
    [InlineData("HealthCheck:Path", "healthz")]
    [InlineData("HealthCheck:UnhealthyThreshold", "0")]
    [InlineData("Panic:ThresholdPercent", "150")]
    [InlineData("SlowStart:Aggression", "0")]
    [InlineData("Retry:MaxAttempts", "9")]
    [InlineData("Retry:BudgetPercent", "-5")]
    [InlineData("Hedging:MaxAttempts", "1")]
    [InlineData("Timeouts:Attempt", "00:00:00")]
    [InlineData("Timeouts:WaitForEndpoint", "-00:00:01")]
    public void A_bad_value_is_reported_with_its_key_and_value(string key, string value)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Mesh:Services:catalog:" + key] = value,
        }).Build();
        var options = new MeshServiceOptions();
        configuration.GetSection("Mesh:Services:catalog").Bind(options);

        var error = Assert.Single(options.Validate("Mesh:Services:catalog"));

        string property = key.Split(':')[1];
        Assert.Contains($"'Mesh:Services:catalog:{key.Split(':')[0]}:{property}'", error, StringComparison.Ordinal);
        Assert.Contains($"is '{value}'", error, StringComparison.Ordinal);
    }
}
