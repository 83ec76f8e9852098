using System.Reflection;
using System.Text;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// The public surface of the three libraries, listed member by member, against <c>api/PublicAPI.txt</c>: the surface
/// changes only on purpose. After an intended change, regenerate the file with
/// <c>FLASHKMEANS_UPDATE_API=1 dotnet test --filter PublicApiTests</c> and review its diff.
/// </summary>
[TestClass]
public sealed class PublicApiTests
{
    [TestMethod]
    public void The_public_surface_is_the_committed_one()
    {
        var assemblies = new[] { typeof(KMeans).Assembly, typeof(GpuKMeansTrainer).Assembly, typeof(Onnx.PortableModel).Assembly };
        string actual = Describe(assemblies);
        string path = Path.Combine(RepositoryRoot(), "api", "PublicAPI.txt");
        if (Environment.GetEnvironmentVariable("FLASHKMEANS_UPDATE_API") == "1")
            File.WriteAllText(path, actual);
        Assert.IsTrue(File.Exists(path), $"{path} is missing: run with FLASHKMEANS_UPDATE_API=1 to write it.");
        var expected = File.ReadAllText(path).ReplaceLineEndings("\n");
        var added = actual.Split('\n').Except(expected.Split('\n')).ToList();
        var removed = expected.Split('\n').Except(actual.Split('\n')).ToList();
        Assert.IsTrue(added.Count == 0 && removed.Count == 0,
            "The public API changed. Added:\n  " + string.Join("\n  ", added) + "\nRemoved:\n  " + string.Join("\n  ", removed)
            + "\nIf intended, run with FLASHKMEANS_UPDATE_API=1 and commit api/PublicAPI.txt.");
    }

    /// <summary>One sorted line per public type and per public or protected member.</summary>
    private static string Describe(IEnumerable<Assembly> assemblies)
    {
        var lines = new List<string>();
        const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var assembly in assemblies)
        {
            foreach (var type in assembly.GetExportedTypes())
            {
                string owner = Name(type);
                lines.Add($"{assembly.GetName().Name}: {Kind(type)} {owner}" + (type.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum) ? $" : {Name(b)}" : ""));
                foreach (var member in type.GetMembers(Declared))
                {
                    if (!Visible(member) || member is Type)
                        continue;
                    lines.Add($"{assembly.GetName().Name}: {(IsStatic(member) ? "static " : "")}{owner}.{Member(member)}");
                }
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return string.Join("\n", lines.Distinct()) + "\n";
    }

    private static bool Visible(MemberInfo member) => member switch
    {
        MethodBase m => (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly) && !(m.IsSpecialName && !m.IsConstructor),
        FieldInfo f => (f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly) && !f.IsSpecialName,
        PropertyInfo p => p.GetAccessors(true).Any(a => a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly),
        EventInfo e => e.AddMethod is { } add && (add.IsPublic || add.IsFamily),
        _ => false,
    };

    private static string Member(MemberInfo member) => member switch
    {
        ConstructorInfo c => $".ctor({Parameters(c)})",
        MethodInfo m => $"{m.Name}{(m.IsGenericMethod ? "<" + string.Join(", ", m.GetGenericArguments().Select(Name)) + ">" : "")}({Parameters(m)}) -> {Name(m.ReturnType)}",
        FieldInfo f => $"{f.Name} : {Name(f.FieldType)}",
        PropertyInfo p => $"{p.Name} : {Name(p.PropertyType)} {{{(p.GetMethod is { } g && (g.IsPublic || g.IsFamily) ? " get;" : "")}{(p.SetMethod is { } s && (s.IsPublic || s.IsFamily) ? " set;" : "")} }}",
        EventInfo e => $"event {e.Name} : {Name(e.EventHandlerType!)}",
        _ => member.Name,
    };

    private static bool IsStatic(MemberInfo member) => member switch
    {
        MethodBase m => m.IsStatic,
        FieldInfo f => f.IsStatic,
        PropertyInfo p => p.GetAccessors(true).Any(a => a.IsStatic),
        _ => false,
    };

    private static string Parameters(MethodBase method) =>
        string.Join(", ", method.GetParameters().Select(p => $"{(p.IsOut ? "out " : p.ParameterType.IsByRef ? "ref " : "")}{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = …" : "")}"));

    private static string Kind(Type type) =>
        type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class" : type.IsAbstract ? "abstract class" : type.IsSealed ? "sealed class" : "class";

    private static string Name(Type type)
    {
        if (type.IsByRef)
            return Name(type.GetElementType()!);
        if (type.IsArray)
            return Name(type.GetElementType()!) + "[]";
        if (type.IsGenericParameter)
            return type.Name;
        var name = (type.IsNested ? Name(type.DeclaringType!) + "." : type.Namespace + ".") + type.Name.Split('`')[0];
        if (type.IsGenericType)
            name += "<" + string.Join(", ", type.GetGenericArguments().Select(Name)) + ">";
        return name;
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "FlashKMeans.MLNet.sln")))
                return directory.FullName;
        }
        throw new DirectoryNotFoundException("The repository root (FlashKMeans.MLNet.sln) was not found above the test's folder.");
    }
}
