using System.Net;

namespace Mesh.Client.Discovery.Dns;

/// <summary>Reads the nameservers of a <c>resolv.conf</c> file (resolv.conf(5)): the system's DNS servers, as glibc uses them.</summary>
internal static class ResolvConf
{
    /// <summary>The system file.</summary>
    public const string DefaultPath = "/etc/resolv.conf";

    /// <summary>The nameservers of <paramref name="path"/>, port 53; empty when the file is absent or lists none.</summary>
    public static IReadOnlyList<IPEndPoint> ReadNameServers(string path = DefaultPath)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        return ParseNameServers(text);
    }

    /// <summary>The nameservers listed in <paramref name="text"/>; lines that are not a valid <c>nameserver &lt;ip&gt;</c> are ignored, as glibc ignores them.</summary>
    public static IReadOnlyList<IPEndPoint> ParseNameServers(string text)
    {
        var servers = new List<IPEndPoint>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (!line.StartsWith("nameserver", StringComparison.Ordinal))
            {
                continue;
            }

            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && parts[0] == "nameserver" && IPAddress.TryParse(parts[1], out var address))
            {
                servers.Add(new IPEndPoint(address, 53));
            }
        }

        return servers;
    }

    /// <summary>Parses <c>1.2.3.4</c>, <c>1.2.3.4:5353</c>, <c>::1</c> or <c>[::1]:5353</c> (port 53 when none is given).</summary>
    public static bool TryParseServer(string? text, out IPEndPoint? server)
    {
        server = null;
        var value = text?.Trim();
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        if (IPEndPoint.TryParse(value, out var endPoint))
        {
            server = new IPEndPoint(endPoint.Address, endPoint.Port == 0 ? 53 : endPoint.Port);
            return true;
        }

        return false;
    }
}
