using Mesh.Client.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace Mesh.Client.Routing;

/// <summary>
/// The last good <c>Mesh</c> configuration: the mesh-wide <see cref="MeshClientOptions"/>, and a copy of each
/// <c>Mesh:Services:&lt;name&gt;</c> section that passed the start-up checks. A reload is checked with the start-up
/// checks (one service at a time, the mesh-wide values on their own); what passes replaces the last good, what fails is
/// logged once, listed in <see cref="Rejections"/> and leaves the last good in force. Nothing is thrown into the
/// configuration's reload callback.
/// </summary>
/// <remarks>
/// Services are built from the last good copy, not from live configuration, so a bad reload never reaches a service
/// created after it (a new client, or one forgotten while idle and used again).
/// </remarks>
internal sealed partial class MeshConfiguration : IDisposable
{
    private const string ServicesPath = MeshClientOptions.SectionName + ":Services";
    private const string MeshWideKey = MeshClientOptions.SectionName;

    private readonly IConfiguration? _configuration;
    private readonly IConfigureOptions<MeshClientOptions>[] _setups;
    private readonly IPostConfigureOptions<MeshClientOptions>[] _postSetups;
    private readonly MeshServiceOptionsFactory _serviceOptions;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ServiceSection> _services = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Rejection> _rejections = new(StringComparer.OrdinalIgnoreCase);
    private readonly IDisposable? _subscription;
    private MeshClientOptions _options;

    public MeshConfiguration(IServiceProvider services, IOptions<MeshClientOptions> options, IEnumerable<IConfigureOptions<MeshClientOptions>> setups,
        IEnumerable<IPostConfigureOptions<MeshClientOptions>> postSetups, MeshServiceOptionsFactory serviceOptions, ILoggerFactory? loggerFactory = null)
    {
        _configuration = (IConfiguration?)services.GetService(typeof(IConfiguration));
        _setups = setups.ToArray();
        _postSetups = postSetups.ToArray();
        _serviceOptions = serviceOptions;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Mesh.Client.Routing");
        _options = options.Value; // validated: start-up fails here, naming the key, if ValidateOnStart has not already
        if (_configuration is not null)
        {
            lock (_lock)
            {
                ReloadServices(_configuration, changed: null);
            }

            _subscription = ChangeToken.OnChange(_configuration.GetReloadToken, Reload);
        }
    }

    /// <summary>The mesh-wide options in force: the last good ones.</summary>
    public MeshClientOptions Options => Volatile.Read(ref _options);

    /// <summary>Raised after a reload with the names of the services whose configuration changed (and was accepted).</summary>
    public event Action<IReadOnlyCollection<string>>? Changed;

    /// <summary>Rejected reloads still in place, each message naming the key: what diagnostics show.</summary>
    public IReadOnlyList<string> Rejections
    {
        get
        {
            lock (_lock)
            {
                return _rejections.OrderBy(r => r.Key, StringComparer.OrdinalIgnoreCase).Select(r => r.Value.Message).ToArray();
            }
        }
    }

    /// <summary>
    /// The last good <c>Mesh:Services:&lt;name&gt;</c> section of <paramref name="serviceName"/> (null when configuration
    /// has none), or false, with the reason, when configuration has one but no version of it was ever good.
    /// </summary>
    public bool TryGetService(string serviceName, out IConfigurationSection? section, out string? rejection)
    {
        lock (_lock)
        {
            rejection = null;
            if (_services.TryGetValue(serviceName, out var good))
            {
                section = good.Section;
                return true;
            }

            section = null;
            if (_rejections.TryGetValue(ServiceKey(serviceName), out var rejected))
            {
                rejection = rejected.Message;
                return false;
            }

            return true;
        }
    }

    /// <summary>Configuration reloaded: checks it, keeps what is good, reports what is not. Never throws.</summary>
    internal void Reload()
    {
        if (_configuration is null)
        {
            return;
        }

        var changed = new List<string>();
        try
        {
            lock (_lock)
            {
                ReloadMeshWide(_configuration);
                ReloadServices(_configuration, changed);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A configuration provider that throws while read: the last good configuration stays.
            Log.MeshOptionsReloadRejected(_logger, ex.Message);
            return;
        }

        if (changed.Count > 0)
        {
            try
            {
                Changed?.Invoke(changed);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                Log.MeshOptionsReloadRejected(_logger, ex.Message);
            }
        }
    }

    private void ReloadMeshWide(IConfiguration configuration)
    {
        var errors = new List<string>();
        var next = new MeshClientOptions();
        try
        {
            foreach (var setup in _setups)
            {
                if (setup is IConfigureNamedOptions<MeshClientOptions> named)
                {
                    named.Configure(Microsoft.Extensions.Options.Options.DefaultName, next);
                }
                else
                {
                    setup.Configure(next);
                }
            }

            foreach (var post in _postSetups)
            {
                post.PostConfigure(Microsoft.Extensions.Options.Options.DefaultName, next);
            }
        }
        catch (InvalidOperationException ex)
        {
            errors.Add(ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}");
        }

        if (errors.Count == 0)
        {
            errors.AddRange(next.ValidateMeshWide());
        }

        MeshConfigurationKeys.CheckMesh(configuration.GetSection(MeshClientOptions.SectionName), errors);
        if (errors.Count > 0)
        {
            if (Reject(MeshWideKey, string.Join(" ", errors), content: Flatten(configuration.GetSection(MeshClientOptions.SectionName), skipServices: true)))
            {
                Log.MeshOptionsReloadRejected(_logger, string.Join(" ", errors));
            }

            return;
        }

        _rejections.Remove(MeshWideKey);
        Volatile.Write(ref _options, next);
    }

    /// <summary>Checks each <c>Mesh:Services:&lt;name&gt;</c> section that differs from its last good copy.</summary>
    /// <param name="configuration">The configuration now.</param>
    /// <param name="changed">Collects the names of services whose accepted configuration changed; null at start.</param>
    private void ReloadServices(IConfiguration configuration, List<string>? changed)
    {
        var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var section in configuration.GetSection(ServicesPath).GetChildren())
        {
            present.Add(section.Key);
            var values = Flatten(section, skipServices: false);
            if (_services.TryGetValue(section.Key, out var good) && SameValues(good.Values, values))
            {
                _rejections.Remove(ServiceKey(section.Key)); // back to the good configuration
                continue;
            }

            var errors = MeshServiceOptions.CheckConfiguration(section, _serviceOptions.Balancers.Names, _serviceOptions.ResolverNames);
            if (errors.Count > 0)
            {
                if (Reject(ServiceKey(section.Key), string.Join(" ", errors), values))
                {
                    Log.OptionsReloadRejected(_logger, section.Key, section.Path, string.Join(" ", errors));
                }

                continue;
            }

            _rejections.Remove(ServiceKey(section.Key));
            _services[section.Key] = new ServiceSection(values, Copy(section.Path, values));
            changed?.Add(section.Key);
        }

        foreach (var name in _services.Keys.ToArray())
        {
            if (!present.Contains(name))
            {
                // The entry was removed: the service goes back to defaults (and its client's delegates).
                _services.Remove(name);
                changed?.Add(name);
            }
        }

        foreach (var key in _rejections.Keys.ToArray())
        {
            if (key != MeshWideKey && !present.Contains(key[(ServicesPath.Length + 1)..]))
            {
                _rejections.Remove(key);
            }
        }
    }

    /// <summary>Records a rejection; returns whether it is news (not the same content rejected last time), so it is logged once.</summary>
    private bool Reject(string key, string message, Dictionary<string, string?> content)
    {
        if (_rejections.TryGetValue(key, out var previous) && SameValues(previous.Content, content))
        {
            return false;
        }

        _rejections[key] = new Rejection(message, content);
        return true;
    }

    private static string ServiceKey(string serviceName) => $"{ServicesPath}:{serviceName}";

    private static Dictionary<string, string?> Flatten(IConfigurationSection section, bool skipServices)
    {
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        string services = ServicesPath + ":";
        foreach (var (key, value) in section.AsEnumerable())
        {
            if (value is not null && !(skipServices && key.StartsWith(services, StringComparison.OrdinalIgnoreCase)))
            {
                values[key] = value;
            }
        }

        return values;
    }

    private static bool SameValues(Dictionary<string, string?> a, Dictionary<string, string?> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        foreach (var (key, value) in a)
        {
            if (!b.TryGetValue(key, out var other) || !string.Equals(value, other, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A frozen copy of a section, at the same path, so the binder's messages name the same keys.</summary>
    private static IConfigurationSection Copy(string path, Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection(path);

    public void Dispose() => _subscription?.Dispose();

    private sealed record ServiceSection(Dictionary<string, string?> Values, IConfigurationSection Section);

    private sealed record Rejection(string Message, Dictionary<string, string?> Content);

    private static partial class Log
    {
        [LoggerMessage(EventId = MeshEventIds.OptionsReloadRejected, Level = LogLevel.Error,
            Message = "Reloaded options of service '{Service}' ('{Section}') are invalid and were not applied; every client keeps the service's last good options. {Errors}")]
        public static partial void OptionsReloadRejected(ILogger logger, string service, string section, string errors);

        [LoggerMessage(EventId = MeshEventIds.MeshOptionsReloadRejected, Level = LogLevel.Error,
            Message = "Reloaded mesh-wide options ('Mesh') are invalid and were not applied; the last good options stay in force. {Errors}")]
        public static partial void MeshOptionsReloadRejected(ILogger logger, string errors);
    }
}
