using Mesh.Client.Resilience;
using Mesh.Client.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Client.Tests.Resilience;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void The_percentile_is_within_one_bucket_of_the_true_value_and_absent_with_few_samples()
    {
        var time = new FakeTimeProvider();
        var histogram = new LatencyHistogram(time);
        for (int i = 1; i <= 99; i++)
        {
            histogram.Record(TimeSpan.FromMilliseconds(i));
        }

        Assert.Null(histogram.GetPercentile(95));
        histogram.Record(TimeSpan.FromMilliseconds(100));

        var p95 = histogram.GetPercentile(95)!.Value;
        Assert.InRange(p95.TotalMilliseconds, 95, 95 * 1.2 * 1.2);
    }

    [Fact]
    public void Samples_older_than_two_periods_are_forgotten()
    {
        var time = new FakeTimeProvider();
        var histogram = new LatencyHistogram(time);
        for (int i = 0; i < 200; i++)
        {
            histogram.Record(TimeSpan.FromMilliseconds(500));
        }

        time.Advance(TimeSpan.FromSeconds(25));
        Assert.Null(histogram.GetPercentile(50));
    }
}
