using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace Mesh.Client;

/// <summary>
/// What the configuration binder lets through silently, checked against the options types: a key under <c>Mesh</c>
/// that names no setting (<c>Mesh:Services:catalog:Balancr</c>, <c>Mesh:Services:catalog:Timeouts:Atempt</c>, a
/// <c>Mesh:Service</c> section), and an enum given as a number (<c>"HostHeader": "1"</c>), which the binder would
/// take as whatever member has that value. Each message names the key.
/// </summary>
/// <remarks>
/// Sections the mesh's other parts own are not checked here: <c>Mesh:Dns</c> and <c>Mesh:Services:&lt;name&gt;:Dns</c>
/// (the DNS resolver, <c>AddDns</c>), <c>Mesh:Kubernetes</c> and <c>Mesh:Services:&lt;name&gt;:Port</c> (the Kubernetes
/// resolver, <c>AddKubernetes</c>).
/// </remarks>
internal static class MeshConfigurationKeys
{
    private static readonly string[] s_meshSectionsOwnedElsewhere = ["Dns", "Kubernetes"];
    private static readonly string[] s_serviceKeysOwnedElsewhere = ["Dns", "Port"];

    /// <summary>Checks the keys of the <c>Mesh</c> section except each service's (see <see cref="CheckService"/>).</summary>
    public static void CheckMesh(IConfigurationSection mesh, List<string> errors)
    {
        foreach (var child in mesh.GetChildren())
        {
            if (Contains(s_meshSectionsOwnedElsewhere, child.Key))
            {
                continue;
            }

            if (string.Equals(child.Key, nameof(MeshClientOptions.Services), StringComparison.OrdinalIgnoreCase) && child.Value is null)
            {
                continue; // each service is checked on its own, so one bad service does not hold back the others on reload
            }

            CheckProperty(typeof(MeshClientOptions), child, errors);
        }
    }

    /// <summary>Checks the keys of one <c>Mesh:Services:&lt;name&gt;</c> section.</summary>
    public static void CheckService(IConfigurationSection service, List<string> errors)
    {
        if (service.Value is { } value && !service.GetChildren().Any())
        {
            errors.Add($"'{service.Path}' is '{value}'; expected a section of service settings such as '{service.Path}:Balancer'.");
            return;
        }

        foreach (var child in service.GetChildren())
        {
            if (!Contains(s_serviceKeysOwnedElsewhere, child.Key))
            {
                CheckProperty(typeof(MeshServiceOptions), child, errors);
            }
        }
    }

    private static void CheckProperty(Type owner, IConfigurationSection section, List<string> errors)
    {
        var property = FindSetting(owner, section.Key);
        if (property is null)
        {
            errors.Add($"'{section.Path}' is not a setting; the settings here are {string.Join(", ", Settings(owner).Select(p => p.Name))}.");
            return;
        }

        CheckValue(property.PropertyType, section, errors);
    }

    private static void CheckValue(Type type, IConfigurationSection section, List<string> errors)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target.IsEnum)
        {
            if (!string.IsNullOrWhiteSpace(section.Value) && !IsEnumName(target, section.Value))
            {
                errors.Add($"'{section.Path}' is '{section.Value}'; expected one of {string.Join(", ", Enum.GetNames(target))}.");
            }

            return;
        }

        if (IsScalar(target))
        {
            return; // converting the value is the binder's part, and a value it cannot convert fails start-up already
        }

        if (DictionaryValueType(target) is { } valueType)
        {
            foreach (var child in section.GetChildren())
            {
                CheckValue(valueType, child, errors);
            }

            return;
        }

        if (ElementType(target) is { } elementType)
        {
            foreach (var child in section.GetChildren())
            {
                if (!int.TryParse(child.Key, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _))
                {
                    errors.Add($"'{child.Path}' is not a setting; '{section.Path}' is a list, whose entries are numbered from 0.");
                    continue;
                }

                CheckValue(elementType, child, errors);
            }

            return;
        }

        foreach (var child in section.GetChildren())
        {
            CheckProperty(target, child, errors);
        }
    }

    private static bool IsEnumName(Type enumType, string value)
    {
        var trimmed = value.Trim();
        foreach (var name in Enum.GetNames(enumType))
        {
            if (string.Equals(name, trimmed, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type == typeof(string) || type == typeof(decimal) || type == typeof(TimeSpan) || type == typeof(DateTimeOffset)
        || type == typeof(DateTime) || type == typeof(Uri) || type == typeof(Guid);

    private static Type? DictionaryValueType(Type type)
    {
        foreach (var candidate in type.IsInterface ? type.GetInterfaces().Append(type) : type.GetInterfaces())
        {
            if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == typeof(IDictionary<,>))
            {
                return candidate.GetGenericArguments()[1];
            }
        }

        return null;
    }

    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        foreach (var candidate in type.IsInterface ? type.GetInterfaces().Append(type) : type.GetInterfaces())
        {
            if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            {
                return candidate.GetGenericArguments()[0];
            }
        }

        return null;
    }

    private static PropertyInfo? FindSetting(Type owner, string key)
    {
        foreach (var property in Settings(owner))
        {
            if (string.Equals(property.Name, key, StringComparison.OrdinalIgnoreCase))
            {
                return property;
            }
        }

        return null;
    }

    /// <summary>The properties configuration can set: public, readable, and settable or filled in place; no delegates.</summary>
    private static IEnumerable<PropertyInfo> Settings(Type owner) =>
        owner.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0
                && !typeof(Delegate).IsAssignableFrom(p.PropertyType)
                && (p.SetMethod is { IsPublic: true } || !IsScalar(Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType)))
            .OrderBy(p => p.Name, StringComparer.Ordinal);

    private static bool Contains(string[] names, string key)
    {
        foreach (var name in names)
        {
            if (string.Equals(name, key, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
