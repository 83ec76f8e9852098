using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// Every C# snippet in README.md and docs/*.md compiles against the libraries as built, in a default net8.0
/// project (implicit usings, nullable on). A snippet that uses variables it does not declare names them in an
/// HTML comment just before it: <c>&lt;!-- snippet: float[] rows, MLContext mlContext --&gt;</c>.
/// </summary>
[TestClass]
public sealed partial class DocumentationSnippetTests
{
    private static readonly string[] s_implicitUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    public static IEnumerable<object[]> Snippets()
    {
        string root = RepositoryRoot();
        var files = new[] { Path.Combine(root, "README.md") }.Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order());
        foreach (var file in files)
        {
            string text = File.ReadAllText(file);
            foreach (Match m in SnippetPattern().Matches(text))
            {
                int line = text[..m.Index].Count(c => c == '\n') + 1;
                yield return [$"{Path.GetRelativePath(root, file)}:{line}", m.Groups["parameters"].Value, m.Groups["code"].Value];
            }
        }
    }

    [TestMethod]
    public void TheDocumentationHasSnippets() => Assert.IsTrue(Snippets().Count() >= 4, "README.md and docs/ should hold C# snippets");

    [TestMethod]
    [DynamicData(nameof(Snippets))]
    public void SnippetCompiles(string where, string parameters, string code)
    {
        var lines = code.Split('\n');
        var usings = lines.Where(l => l.TrimStart().StartsWith("using ", StringComparison.Ordinal) && l.TrimEnd().EndsWith(';')).ToList();
        var body = lines.Where(l => !usings.Contains(l));
        string source = string.Join("\n", s_implicitUsings.Select(u => $"global using {u};")) + "\n" + string.Join("\n", usings) + $$"""

            #nullable enable
            internal static class Snippet
            {
                internal static void Run({{parameters}})
                {
            {{string.Join("\n", body)}}
                }
            }
            """;
        var compilation = CSharpCompilation.Create("Snippet", [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            References(), new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.IsEmpty(errors, $"{where}: the snippet does not compile:\n{string.Join("\n", errors)}\n---\n{source}");
    }

    /// <summary>The running framework's assemblies and every assembly next to the tests (the libraries, Microsoft.ML).</summary>
    private static List<MetadataReference> References()
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "*.dll"))
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase).Select(g => g.First());
        var references = new List<MetadataReference>();
        foreach (var path in paths)
        {
            try
            {
                using var stream = File.OpenRead(path);
                using var reader = new System.Reflection.PortableExecutable.PEReader(stream);
                if (reader.HasMetadata)
                    references.Add(MetadataReference.CreateFromFile(path));
            }
            catch (BadImageFormatException)
            {
                // Native libraries sit next to the tests too.
            }
        }
        return references;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FlashKMeans.MLNet.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"No FlashKMeans.MLNet.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"(?:<!--\s*snippet:\s*(?<parameters>[^\n]*?)\s*-->[ \t]*\n)?```csharp\n(?<code>.*?)```", RegexOptions.Singleline)]
    private static partial Regex SnippetPattern();
}
