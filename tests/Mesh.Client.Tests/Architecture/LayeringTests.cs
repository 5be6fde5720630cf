using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Mesh.Client.Tests.Architecture;

/// <summary>
/// The folders of src/Mesh.Client form layers (DESIGN.md, "Layers and where they live"): a file may use types of
/// folders of lower rank only. Found from the source text: the type names each folder declares, and the identifiers
/// (and doc-comment crefs) each file uses, comments and string literals left out.
/// </summary>
public sealed partial class LayeringTests(ITestOutputHelper output)
{
    public const string Root = "(root)";

    /// <summary>Model is the shared vocabulary; registration (the root files) sits on top.</summary>
    public static readonly IReadOnlyDictionary<string, int> Ranks = new Dictionary<string, int>(StringComparer.Ordinal)
    {
        ["Model"] = 0,
        ["Options"] = 1,
        ["Diagnostics"] = 2,
        ["Discovery"] = 3,
        ["Balancing"] = 3,
        ["Health"] = 3,
        ["Resilience"] = 3,
        ["Routing"] = 4,
        [Root] = 5,
    };

    [Fact]
    public void Every_folder_of_src_Mesh_Client_has_a_rank_and_the_dependency_matrix_is_printed()
    {
        var graph = SourceGraph.Load(SourceRoot());

        output.WriteLine("Folder dependency matrix (folder -> folders it uses):");
        foreach (var line in graph.Matrix())
        {
            output.WriteLine(line);
        }

        output.WriteLine(string.Empty);
        output.WriteLine("References against the layering:");
        foreach (var violation in Violations(graph))
        {
            output.WriteLine(violation);
        }

        Assert.Equal(Ranks.Keys.Order(StringComparer.Ordinal), graph.Folders.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Files_use_only_folders_of_lower_rank()
    {
        var graph = SourceGraph.Load(SourceRoot());

        var violations = Violations(graph);

        Assert.True(violations.Count == 0,
            $"{violations.Count} references against the layering (rank {string.Join(", ", Ranks.Select(r => $"{r.Key}={r.Value}"))}):"
            + Environment.NewLine + string.Join(Environment.NewLine, violations));
    }

    [Fact]
    public void The_scanner_ignores_comments_and_string_literals_but_counts_crefs_and_interpolation_holes()
    {
        const string source = """
            /// <summary>See <see cref="Balancing.BalancerNames.PeakEwma"/>.</summary>
            // RetryBudget in a line comment
            /* ServiceRegistry in a block comment */
            var a = "LatencyHistogram in a string";
            var b = @"RetryPolicy in a ""verbatim"" string";
            var c = $"{nameof(EndpointLoad)} in a hole, ServiceState in the text";
            var d = '"';
            var e = new OutlierDetector();
            """;

        var identifiers = SourceGraph.Identifiers(SourceGraph.StripCommentsAndStrings(source)).ToHashSet();

        Assert.Contains("BalancerNames", identifiers);
        Assert.Contains("EndpointLoad", identifiers);
        Assert.Contains("OutlierDetector", identifiers);
        Assert.DoesNotContain("RetryBudget", identifiers);
        Assert.DoesNotContain("ServiceRegistry", identifiers);
        Assert.DoesNotContain("LatencyHistogram", identifiers);
        Assert.DoesNotContain("RetryPolicy", identifiers);
        Assert.DoesNotContain("ServiceState", identifiers);
    }

    [Fact]
    public void The_scanner_finds_type_declarations_other_files_can_use_and_nothing_else()
    {
        const string source = """
            internal sealed class ServiceState { private sealed class State; }
            public readonly record struct AttemptResult(int Status);
            internal delegate void HealthChanged(int x);
            public enum EndpointState { Available }
            internal static class Check<T> where T : class { }
            foreach (var record in records) { if (record is ARecord a) { } }
            """;

        var declared = SourceGraph.DeclaredTypes(SourceGraph.StripCommentsAndStrings(source)).Order(StringComparer.Ordinal);

        Assert.Equal(["AttemptResult", "Check", "EndpointState", "HealthChanged", "ServiceState"], declared);
    }

    /// <summary>Every reference to a folder of the same or a higher rank, as <c>Folder -> Folder: File.cs uses TypeName</c>.</summary>
    private static List<string> Violations(SourceGraph graph) =>
        graph.References
            .Where(r => Ranks.GetValueOrDefault(r.ToFolder, int.MaxValue) >= Ranks.GetValueOrDefault(r.FromFolder, int.MaxValue))
            .Select(r => $"{r.FromFolder} -> {r.ToFolder}: {r.File} uses {r.TypeName}")
            .ToList();

    /// <summary>src/Mesh.Client, found by walking up from the test assembly to the directory holding Mesh.Client.sln.</summary>
    private static string SourceRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Mesh.Client.sln")))
            {
                return Path.Combine(dir.FullName, "src", "Mesh.Client");
            }
        }

        throw new InvalidOperationException($"No Mesh.Client.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>One use of a type declared in another folder.</summary>
    public sealed record Reference(string FromFolder, string ToFolder, string File, string TypeName);

    /// <summary>The folders of src/Mesh.Client, the types each declares, and the references between them.</summary>
    public sealed partial class SourceGraph
    {

        private SourceGraph(IReadOnlyCollection<string> folders, IReadOnlyList<Reference> references)
        {
            Folders = folders;
            References = references;
        }

        public IReadOnlyCollection<string> Folders { get; }

        public IReadOnlyList<Reference> References { get; }

        public static SourceGraph Load(string sourceRoot)
        {
            var files = Directory.EnumerateFiles(sourceRoot, "*.cs", SearchOption.AllDirectories)
                .Where(f => !IsBuildOutput(Path.GetRelativePath(sourceRoot, f)))
                .Order(StringComparer.Ordinal)
                .Select(f => (Path: f, Folder: FolderOf(sourceRoot, f), Code: StripCommentsAndStrings(File.ReadAllText(f))))
                .ToList();

            // Type name -> the folders declaring a type of that name.
            var declaredIn = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            foreach (var file in files)
            {
                foreach (var name in DeclaredTypes(file.Code))
                {
                    if (!declaredIn.TryGetValue(name, out var folders))
                    {
                        declaredIn[name] = folders = new HashSet<string>(StringComparer.Ordinal);
                    }

                    folders.Add(file.Folder);
                }
            }

            var references = new List<Reference>();
            foreach (var file in files)
            {
                foreach (var identifier in Identifiers(file.Code).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
                {
                    if (declaredIn.TryGetValue(identifier, out var folders) && folders.Count == 1 && !folders.Contains(file.Folder))
                    {
                        references.Add(new Reference(file.Folder, folders.Single(), Path.GetFileName(file.Path), identifier));
                    }
                }
            }

            return new SourceGraph(files.Select(f => f.Folder).Distinct(StringComparer.Ordinal).ToList(), references);
        }

        /// <summary>One line per folder, by rank: <c>Folder (rank) -> Other (n), ...</c> with n the files using it.</summary>
        public IEnumerable<string> Matrix()
        {
            foreach (var folder in Folders.OrderBy(f => Ranks.GetValueOrDefault(f, int.MaxValue)).ThenBy(f => f, StringComparer.Ordinal))
            {
                var uses = References.Where(r => r.FromFolder == folder)
                    .GroupBy(r => r.ToFolder)
                    .OrderBy(g => Ranks.GetValueOrDefault(g.Key, int.MaxValue)).ThenBy(g => g.Key, StringComparer.Ordinal)
                    .Select(g => $"{g.Key} ({g.Select(r => r.File).Distinct().Count()} files)");
                string rank = Ranks.TryGetValue(folder, out int r) ? r.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
                string list = string.Join(", ", uses);
                yield return $"{folder,-12} [{rank}] -> {(list.Length == 0 ? "(nothing)" : list)}";
            }
        }

        private static bool IsBuildOutput(string relativePath)
        {
            var first = relativePath.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar)[0];
            return first is "bin" or "obj";
        }

        /// <summary>The top-level folder under src/Mesh.Client (Discovery/Dns/X.cs is in Discovery), or (root).</summary>
        private static string FolderOf(string sourceRoot, string file)
        {
            var parts = Path.GetRelativePath(sourceRoot, file).Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
            return parts.Length == 1 ? Root : parts[0];
        }

        public static IEnumerable<string> DeclaredTypes(string code)
        {
            // A private (or file-local) type cannot be used from another file, so its name is left out: a nested
            // "State" in one folder must not turn every "State" property elsewhere into a reference. Type names start
            // with an upper-case letter here, which also keeps out "foreach (var record in ...)" and "where T : class".
            foreach (Match m in TypeDeclaration().Matches(code))
            {
                var modifiers = m.Groups["modifiers"].Value;
                if (!modifiers.Contains("private", StringComparison.Ordinal) && !modifiers.Contains("file", StringComparison.Ordinal)
                    && char.IsUpper(m.Groups["name"].Value[0]))
                {
                    yield return m.Groups["name"].Value;
                }
            }

            foreach (Match m in DelegateDeclaration().Matches(code))
            {
                if (char.IsUpper(m.Groups["name"].Value[0]))
                {
                    yield return m.Groups["name"].Value;
                }
            }
        }

        public static IEnumerable<string> Identifiers(string code) =>
            Identifier().Matches(code).Select(m => m.Value.TrimStart('@'));

        /// <summary>
        /// The code without comments and string or character literals (each replaced by a space), keeping the code in
        /// interpolation holes of non-raw strings and the <c>cref</c> values of doc comments (a cref is a use).
        /// </summary>
        public static string StripCommentsAndStrings(string source)
        {
            var code = new StringBuilder(source.Length);
            int i = 0;
            while (i < source.Length)
            {
                char ch = source[i];
                char next = i + 1 < source.Length ? source[i + 1] : '\0';
                if (ch == '/' && next == '/')
                {
                    int end = source.IndexOf('\n', i);
                    end = end < 0 ? source.Length : end;
                    var comment = source[i..end];
                    if (comment.StartsWith("///", StringComparison.Ordinal))
                    {
                        foreach (Match cref in Cref().Matches(comment))
                        {
                            code.Append(' ').Append(cref.Groups["cref"].Value).Append(' ');
                        }
                    }

                    code.Append(' ');
                    i = end;
                }
                else if (ch == '/' && next == '*')
                {
                    int end = source.IndexOf("*/", i + 2, StringComparison.Ordinal);
                    i = end < 0 ? source.Length : end + 2;
                    code.Append(' ');
                }
                else if (ch == '\'')
                {
                    i = SkipCharLiteral(source, i);
                    code.Append(' ');
                }
                else if (ch is '"' or '$' or '@' && StringStart(source, i) is { } start)
                {
                    i = SkipString(source, start, code);
                    code.Append(' ');
                }
                else
                {
                    code.Append(ch);
                    i++;
                }
            }

            return code.ToString();
        }

        /// <summary>Where a string literal starting at <paramref name="i"/> has its opening quotes, and its kind.</summary>
        private static (int Quote, bool Interpolated, bool Verbatim)? StringStart(string s, int i)
        {
            bool interpolated = false, verbatim = false;
            int j = i;
            while (j < s.Length && s[j] is '$' or '@')
            {
                interpolated |= s[j] == '$';
                verbatim |= s[j] == '@';
                j++;
            }

            if (j >= s.Length || s[j] != '"' || (j > i && i > 0 && (char.IsLetterOrDigit(s[i - 1]) || s[i - 1] == '_')))
            {
                return null;
            }

            return (j, interpolated, verbatim);
        }

        private static int SkipString(string s, (int Quote, bool Interpolated, bool Verbatim) start, StringBuilder code)
        {
            int i = start.Quote;
            int quotes = 0;
            while (i + quotes < s.Length && s[i + quotes] == '"')
            {
                quotes++;
            }

            if (quotes >= 3)
            {
                // Raw string literal: ends at the same number of quotes. Interpolation holes in raw strings are left out.
                int end = s.IndexOf(new string('"', quotes), i + quotes, StringComparison.Ordinal);
                return end < 0 ? s.Length : end + quotes;
            }

            i++; // opening quote
            while (i < s.Length)
            {
                char ch = s[i];
                if (start.Verbatim && ch == '"' && i + 1 < s.Length && s[i + 1] == '"')
                {
                    i += 2;
                }
                else if (!start.Verbatim && ch == '\\')
                {
                    i += 2;
                }
                else if (ch == '"')
                {
                    return i + 1;
                }
                else if (start.Interpolated && ch == '{' && i + 1 < s.Length && s[i + 1] == '{')
                {
                    i += 2;
                }
                else if (start.Interpolated && ch == '{')
                {
                    // A hole: code up to the matching brace (format specifiers after ':' are kept too; they name no types).
                    int depth = 1;
                    i++;
                    code.Append(' ');
                    while (i < s.Length && depth > 0)
                    {
                        if (s[i] == '{')
                        {
                            depth++;
                        }
                        else if (s[i] == '}')
                        {
                            depth--;
                        }
                        else if (s[i] == '"')
                        {
                            // A string inside the hole: drop it.
                            i = SkipString(s, (i, false, false), code);
                            continue;
                        }

                        if (depth > 0)
                        {
                            code.Append(s[i]);
                        }

                        i++;
                    }

                    code.Append(' ');
                }
                else
                {
                    i++;
                }
            }

            return i;
        }

        private static int SkipCharLiteral(string s, int i)
        {
            int j = i + 1;
            if (j < s.Length && s[j] == '\\')
            {
                j += 2;
            }
            else
            {
                j++;
            }

            while (j < s.Length && s[j] != '\'' && s[j] != '\n')
            {
                j++;
            }

            return Math.Min(j + 1, s.Length);
        }

        [GeneratedRegex(@"(?<modifiers>(?:\b(?:public|internal|private|protected|file|static|sealed|abstract|readonly|partial|ref|unsafe|new)\s+)*)\b(?:class|struct|interface|enum|record(?:\s+(?:class|struct))?)\s+(?<name>[A-Za-z_]\w*)")]
        private static partial Regex TypeDeclaration();

        [GeneratedRegex(@"\bdelegate\s+[\w<>\[\],.?\s]+?\s+(?<name>[A-Za-z_]\w*)\s*[<(]")]
        private static partial Regex DelegateDeclaration();

        [GeneratedRegex(@"@?\b[A-Za-z_]\w*\b")]
        private static partial Regex Identifier();

        [GeneratedRegex("cref=\"(?<cref>[^\"]*)\"")]
        private static partial Regex Cref();
    }
}
