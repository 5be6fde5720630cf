namespace Mesh.Client;

/// <summary>Where a <see cref="RequestHashPolicy"/> takes the key it hashes from.</summary>
public enum RequestHashSource
{
    /// <summary>A request header's value (several values joined with <c>,</c>).</summary>
    Header,

    /// <summary>A cookie's value, from the request's <c>Cookie</c> header.</summary>
    Cookie,

    /// <summary>A query parameter's value (the first, unescaped).</summary>
    QueryParameter,

    /// <summary>The request path, without the query.</summary>
    Path,

    /// <summary>A delegate's result (<see cref="RequestHashPolicy.KeySelector"/>).</summary>
    Custom,
}
