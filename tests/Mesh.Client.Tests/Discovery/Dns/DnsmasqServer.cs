using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Mesh.Client.Tests.Discovery.Dns;

/// <summary>An SRV record as dnsmasq's <c>--srv-host</c> takes it.</summary>
public sealed record SrvEntry(string Name, string Target, int Port, int Priority = 0, int Weight = 0);

/// <summary>
/// A real dnsmasq on 127.0.0.1 on a free port, answering only for the records given: addresses from an addn-hosts file
/// (changed live with <see cref="SetAddressesAsync"/>, which rewrites the file and sends SIGHUP), SRV records from the
/// command line (changed with <see cref="RestartAsync"/>, on the same port). Names under <c>mesh.test</c> that are not
/// listed get NXDOMAIN.
/// </summary>
/// <remarks>
/// dnsmasq must be installed (Debian package <c>dnsmasq-base</c>; <c>.ci/run</c> installs it). When it is missing, starting
/// fails with a message that says so: the DNS tests never skip silently.
/// </remarks>
public sealed class DnsmasqServer : IAsyncDisposable
{
    public const string Domain = "mesh.test";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly string _directory;
    private readonly string _hostsFile;
    private readonly object _logLock = new();
    private readonly StringBuilder _log = new();
    private Process? _process;
    private int _reloads;
    private TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _reloaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private IReadOnlyList<SrvEntry> _srv = [];

    private DnsmasqServer()
    {
        _directory = Directory.CreateTempSubdirectory("mesh-dnsmasq-").FullName;
        _hostsFile = Path.Combine(_directory, "hosts");
    }

    public int Port { get; private set; }

    /// <summary><c>127.0.0.1:port</c>, as <c>Mesh:Dns:Servers</c> takes it.</summary>
    public string Server => $"127.0.0.1:{Port}";

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>What dnsmasq printed, for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (_logLock)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Finds dnsmasq, or fails with how to install it.</summary>
    public static string FindBinary()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("DNSMASQ") is { Length: > 0 } fromEnvironment)
        {
            candidates.Add(fromEnvironment);
        }

        candidates.AddRange(["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/usr/local/sbin/dnsmasq"]);
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            candidates.Add(Path.Combine(directory, "dnsmasq"));
        }

        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException(
                "dnsmasq is not installed, and the DNS resolver tests need a real DNS server. Install it with "
                + "'apt-get install -y dnsmasq-base' (Debian/Ubuntu; .ci/run does this), or set DNSMASQ to its path.");
    }

    /// <summary>Starts dnsmasq with <paramref name="addresses"/> (name → addresses; names are relative to <see cref="Domain"/>, see <see cref="Qualify"/>) and <paramref name="srv"/>.</summary>
    public static async Task<DnsmasqServer> StartAsync(IReadOnlyDictionary<string, string[]>? addresses = null, IReadOnlyList<SrvEntry>? srv = null)
    {
        var server = new DnsmasqServer();
        try
        {
            await server.WriteHostsAsync(addresses ?? new Dictionary<string, string[]>());
            server._srv = srv ?? [];
            for (int attempt = 1; ; attempt++)
            {
                server.Port = FindFreePort();
                try
                {
                    await server.LaunchAsync();
                    return server;
                }
                catch (IOException) when (attempt < 5)
                {
                    // The port was taken between finding it and dnsmasq binding it: try another.
                }
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Replaces the address records and makes dnsmasq read them (SIGHUP); returns once it has.</summary>
    public async Task SetAddressesAsync(IReadOnlyDictionary<string, string[]> addresses)
    {
        await WriteHostsAsync(addresses);
        Task reloaded;
        lock (_logLock)
        {
            reloaded = _reloaded.Task;
        }

        using (var kill = Process.Start(new ProcessStartInfo("kill", ["-HUP", _process!.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!)
        {
            await kill.WaitForExitAsync();
        }

        await reloaded.WaitAsync(StartTimeout);
    }

    /// <summary>Restarts dnsmasq on the same port with new SRV records (dnsmasq reads them only at start).</summary>
    public async Task RestartAsync(IReadOnlyList<SrvEntry> srv)
    {
        _srv = srv;
        await StopAsync();
        await LaunchAsync();
    }

    private async Task LaunchAsync()
    {
        var binary = FindBinary();
        var arguments = new List<string>
        {
            "--no-daemon", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--bind-interfaces",
            "--listen-address=127.0.0.1", $"--port={Port}", "--pid-file=", "--log-facility=-", $"--local=/{Domain}/",
            $"--addn-hosts={_hostsFile}",
        };
        foreach (var entry in _srv)
        {
            arguments.Add(FormattableString.Invariant($"--srv-host={Qualify(entry.Name)},{Qualify(entry.Target)},{entry.Port},{entry.Priority},{entry.Weight}"));
        }

        var info = new ProcessStartInfo(binary, arguments) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_logLock)
        {
            _started = started;
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) =>
        {
            // This process's own start signal: a previous process exiting late cannot fail a restart.
            started.TrySetException(new IOException($"dnsmasq exited at start:\n{Log}"));
        };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        try
        {
            await started.Task.WaitAsync(StartTimeout);
        }
        catch
        {
            await StopAsync();
            throw;
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_logLock)
        {
            _log.AppendLine(line);
            // dnsmasq reads the hosts file once it listens ("read <file> - N names"), and again after each SIGHUP.
            if (line.Contains($"read {_hostsFile}", StringComparison.Ordinal))
            {
                if (!_started.Task.IsCompleted)
                {
                    _started.TrySetResult();
                }
                else
                {
                    _reloads++;
                    _reloaded.TrySetResult();
                    _reloaded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
        }
    }

    private async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            try
            {
                if (!process.HasExited)
                {
                    process.Kill();
                }

                await process.WaitForExitAsync().WaitAsync(StartTimeout);
            }
            catch (InvalidOperationException)
            {
                // never started
            }

            process.Dispose();
        }
    }

    private async Task WriteHostsAsync(IReadOnlyDictionary<string, string[]> addresses)
    {
        var text = new StringBuilder();
        foreach (var (name, list) in addresses)
        {
            foreach (var address in list)
            {
                text.Append(address).Append(' ').Append(Qualify(name)).Append('\n');
            }
        }

        // Written whole, then moved over the old file, so dnsmasq never reads half a file.
        var temporary = _hostsFile + ".new";
        await File.WriteAllTextAsync(temporary, text.ToString());
        File.Move(temporary, _hostsFile, overwrite: true);
    }

    /// <summary><c>catalog</c> → <c>catalog.mesh.test</c>; a name already under the domain, or ending with a dot, stays.</summary>
    public static string Qualify(string name) =>
        name.EndsWith('.') ? name[..^1] : name.EndsWith("." + Domain, StringComparison.OrdinalIgnoreCase) ? name : $"{name}.{Domain}";

    /// <summary>A port free for both UDP and TCP on 127.0.0.1 now (dnsmasq listens on both).</summary>
    private static int FindFreePort()
    {
        for (int i = 0; i < 20; i++)
        {
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            int port = ((IPEndPoint)udp.LocalEndPoint!).Port;
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
                return port;
            }
            catch (SocketException)
            {
                // taken for TCP: try another
            }
        }

        throw new InvalidOperationException("No port on 127.0.0.1 was free for both UDP and TCP.");
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
