using System.Reflection;
using System.Runtime.CompilerServices;
using FlashKMeans.Clustering;

namespace FlashKMeans.Tests.Structure;

/// <summary>
/// Sizes that keep the code readable: no hand-written source file over 600 lines (generated PTX aside), and no method,
/// however private, over 15 parameters (a longer list wants a type that says what the values are together).
/// </summary>
[TestClass]
public sealed class SourceSizeTests
{
    private const int MaximumLines = 600;
    private const int MaximumParameters = 15;

    [TestMethod]
    public void No_hand_written_source_file_is_over_600_lines()
    {
        var root = RepositoryRoot();
        if (root is null)
            Assert.Inconclusive("The sources are not here (a published test bundle).");
        string[] extensions = [".cs", ".cu", ".cuh", ".py", ".sh"];
        var tooLong = new[] { "src", "tests", "bench", "samples", "scripts" }
            .Select(folder => Path.Combine(root, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
            .Where(path => extensions.Contains(Path.GetExtension(path)) && !IsBuildOutput(root, path))
            .Select(path => (Path: Path.GetRelativePath(root, path), Lines: File.ReadLines(path).Count()))
            .Where(file => file.Lines > MaximumLines)
            .Select(file => $"{file.Path}: {file.Lines} lines")
            .ToList();
        Assert.IsEmpty(tooLong, "files over " + MaximumLines + " lines:\n" + string.Join("\n", tooLong));
    }

    [TestMethod]
    public void No_method_of_the_engine_takes_more_than_15_parameters()
    {
        var tooMany = new[] { typeof(KMeans).Assembly, Assembly.Load("FlashKMeans.ILGPU") }
            .SelectMany(assembly => assembly.GetTypes())
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                .Cast<MethodBase>()
                .Concat(type.GetConstructors(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)))
            .Where(method => method.GetParameters().Length > MaximumParameters && !IsCompilerGenerated(method))
            .Select(method => $"{method.DeclaringType!.FullName}.{method.Name}: {method.GetParameters().Length} parameters")
            .ToList();
        Assert.IsEmpty(tooMany, "methods over " + MaximumParameters + " parameters:\n" + string.Join("\n", tooMany));
    }

    // Lambdas and local functions: their hidden parameters are the compiler's, not a list someone wrote.
    private static bool IsCompilerGenerated(MethodBase method) =>
        method.Name.Contains('<') || method.DeclaringType!.IsDefined(typeof(CompilerGeneratedAttribute), false);

    private static bool IsBuildOutput(string root, string path)
    {
        var parts = Path.GetRelativePath(root, path).Split(Path.DirectorySeparatorChar);
        return parts.Contains("bin") || parts.Contains("obj") || parts.Contains("generated") || parts.Contains("__pycache__");
    }

    private static string? RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FlashKMeans.MLNet.sln")))
                return dir.FullName;
        }
        return null;
    }
}
